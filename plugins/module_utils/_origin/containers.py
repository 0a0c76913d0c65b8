# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the container a process runs in, from its cgroup and its runtime's state files.

Which container a process is in is told by where root put it: a container runtime creates one cgroup per container,
named after the container's id, and moves the container's processes there (docs/records.md, `container`):

| runtime | cgroup (v2 path, or the v1 `name=systemd` / controller path) |
|---|---|
| docker, systemd driver | `/system.slice/docker-ID.scope` (any parent, as `--cgroup-parent` or Kubernetes choose) |
| docker, cgroupfs driver | `/docker/ID` |
| podman | `/machine.slice/libpod-ID.scope[/container]`; cgroupfs manager `/libpod_parent/libpod-ID` |
| containerd (Kubernetes) | `/kubepods.slice/kubepods-QOS.slice/kubepods-QOS-podUID.slice/cri-containerd-ID.scope` |
| CRI-O | the same with `crio-ID.scope` |
| Kubernetes, cgroupfs driver | `/kubepods/QOS/podUID/ID` (the runtime is told by whose state file has ID) |
| LXC | `/lxc.payload.NAME` (LXC 4+), `/lxc/NAME` |

where ID is 64 lower-case hex digits. The first component from the top that names a container wins (a container
inside a container is the outer runtime's business). A name is believed only when root made it:

- a cgroup in a subtree delegated to a user (owned by that user, as systemd does for `user@UID.service` and for
  services with `Delegate=yes`) was made by that user: rootless podman, or anyone imitating a runtime. Its process
  gets `container` null with the reason (`origin_unknown`), never the claimed name;
- /proc/PID/cgroup is checked against the kernel: every hierarchy once, the same hierarchies as the module's own
  (a cgroup name with a newline cannot forge a line), and, on a live /proc, the process listed in the container
  cgroup's own `cgroup.procs`;
- names come from the runtime's state files under their fixed, root-only paths (container_state.py).

A published port held by docker's own `docker-proxy` names the container it forwards to (docker_proxy.py).
"""

from __future__ import annotations

import os
import re
from typing import Dict, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import cgroups, container_state, docker_proxy, rootfiles
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.rootfiles import Unknown

RUNTIMES = ('docker', 'podman', 'containerd', 'cri-o', 'lxc')
_SCOPE = re.compile(r'(docker|libpod|cri-containerd|crio)-([0-9a-f]{64})\.scope\Z')
_SCOPE_RUNTIME = {'docker': 'docker', 'libpod': 'podman', 'cri-containerd': 'containerd', 'crio': 'cri-o'}
_HEX64 = re.compile(r'[0-9a-f]{64}\Z')
_DELEGATED = re.compile(r'user@(\d+)\.service\Z')
_CGROUP_LINE = re.compile(r'(\d+):([^:]*):(/.*)\Z')
# cgroup.procs of one container's cgroup: 7 bytes a process.
_PROCS_LIMIT = 16 * 1024 * 1024
Told = Tuple[Optional[Dict[str, object]], Optional[str]]


def match_cgroup(path: str) -> 'tuple[str, str, int, int | None] | None':
    """(runtime, id, depth, delegated uid) of the first component of a cgroup path that names a container; runtime
    'kubernetes' for the cgroupfs form, whose runtime only state files tell; depth = how many components lead to the
    container's cgroup; the uid of a `user@UID.service` above it. None when no component names a container."""
    parts = [part for part in path.split('/') if part]
    uid = None
    for index, part in enumerate(parts):
        previous = parts[index - 1] if index else ''
        found = None
        scope = _SCOPE.match(part)
        if scope:
            found = _SCOPE_RUNTIME[scope.group(1)], scope.group(2)
        elif _HEX64.match(part) and previous == 'docker':
            found = 'docker', part
        elif part.startswith('libpod-') and _HEX64.match(part[7:]) and 'libpod_parent' in parts[:index]:
            found = 'podman', part[7:]
        elif _HEX64.match(part) and previous.startswith('pod') and 'kubepods' in parts[:index]:
            found = 'kubernetes', part
        elif part.startswith('lxc.payload.') and len(part) > 12:
            found = 'lxc', part[12:]
        elif part == 'lxc' and index == 0 and len(parts) > 1:
            found, index = ('lxc', parts[1]), 1
        if found:
            return found[0], found[1], index + 1, uid
        delegated = _DELEGATED.match(part)
        if delegated:
            uid = int(delegated.group(1))
    return None


def describe(container: 'dict[str, object]') -> str:
    """A short label for a container, for a namespace or a message: 'docker w2web', 'containerd default/web/nginx'."""
    if container.get('pod') and container.get('runtime') in ('containerd', 'cri-o', 'docker'):
        parts = [container.get('namespace'), container.get('pod'), container.get('container')]
        return '%s %s' % (container['runtime'], '/'.join(str(part) for part in parts if part))
    return '%s %s' % (container['runtime'], container.get('name') or str(container['id'])[:12])


class Containers(object):
    """The containers of one run: container(pid) and namespace(inode), each answer and file read once."""

    def __init__(self, proc_root: str = '/proc', root: str = '/', files: 'cgroups.CgroupFiles | None' = None) -> None:
        self.proc_root = proc_root
        # Each /proc/PID/cgroup is read once in a run, shared with the cgroup and unit fields (run.py).
        self.files = files or cgroups.CgroupFiles(proc_root)
        self.root = root or '/'
        self.live = os.path.realpath(proc_root) == '/proc'
        self._told: 'dict[tuple[str, str], tuple[dict[str, object], str | None]]' = {}
        self._podman = container_state.Podman(self.root)
        self._docker_root: 'str | None' = None
        self._docker: 'list[tuple[str, dict[str, object]]] | None' = None
        self._mounts: 'dict[str, str] | None' = None
        self._reference: 'set[tuple[str, str]] | None' = None
        self._namespaces: 'dict[int, list[dict[str, object]]] | None' = None
        self._by_pid: 'dict[int, Told]' = {}

    # -- the entry points -------------------------------------------------------------------------------------

    def container(self, pid: int) -> Told:
        """(container, reason): the container process pid runs in (or, for docker's own docker-proxy, forwards to),
        None when it is in none; reason (for origin_unknown) when the container or its name could not be told."""
        if pid not in self._by_pid:
            self._by_pid[pid] = self._container(pid)
        container, reason = self._by_pid[pid]
        return _public(container), reason

    def _container(self, pid: 'int | str') -> Told:
        """container() with the private fields the namespaces need (_pid, _addresses ...)."""
        try:
            if docker_proxy.is_docker_proxy(self.proc_root, pid):
                return self._proxy_target(pid)
            return self._of_cgroups(pid)
        except Unknown as exc:
            return None, str(exc)

    def namespace(self, inode: int) -> Told:
        """(container, reason) for a network namespace: the container whose init process (docker's State.Pid,
        containerd's init.pid, conmon's pidfile for podman and CRI-O) has it; a Kubernetes or podman pod's
        namespace is its sandbox's (container null). None for a namespace no container owns, and for the host's."""
        if self._namespaces is None:
            self._namespaces = self._map_namespaces()
        found = self._namespaces.get(inode) or []
        if len(found) > 1:
            owners = [item for item in found if not item.get('_joined')]
            sandboxes = [item for item in owners if item.get('pod') and item.get('container') is None]
            found = sandboxes or owners
        if not found:
            return None, None
        if len(found) > 1:
            return None, 'network namespace %d is shared by %s' % (inode, ', '.join(sorted(describe(c) for c in found)))
        return _public(found[0]), None

    # -- cgroups ----------------------------------------------------------------------------------------------

    def _cgroup_lines(self, pid: 'int | str') -> 'list[tuple[str, str, str]]':
        """[(hierarchy id, controllers, path)] of /proc/PID/cgroup (read once in a run, cgroups.CgroupFiles),
        checked to be the kernel's own lines."""
        path = self.files.path(pid)
        try:
            raw = self.files.read(pid)
        except _bounded.BoundedReadError as exc:
            if exc.missing and not os.path.isdir(os.path.dirname(path)):
                raise Unknown('exited: process %s ended before its cgroup was read' % pid) from None
            raise Unknown('unreadable: %s' % exc) from None
        lines = []
        for line in _bounded.host_text(raw).split('\n'):
            if not line:
                continue
            parsed = _CGROUP_LINE.match(line)
            if not parsed:
                raise Unknown('unreadable: %s: a line is not the kernel\'s (a cgroup name with a newline?)' % path)
            lines.append((parsed.group(1), parsed.group(2), parsed.group(3)))
        hierarchies = [(number, controllers) for number, controllers, _path in lines]
        if len(set(hierarchies)) != len(hierarchies) or len(set(h[0] for h in hierarchies)) != len(hierarchies):
            raise Unknown('unreadable: %s: a hierarchy is listed twice (a cgroup name with a newline)' % path)
        reference = self._reference_hierarchies()
        if reference is not None and set(hierarchies) != reference:
            raise Unknown('unreadable: %s: its hierarchies are not the kernel\'s (a cgroup name with a newline?)' % path)
        return lines

    def _reference_hierarchies(self) -> 'set[tuple[str, str]] | None':
        if self._reference is None:
            self._reference = set()
            for pid in ('self', '1'):
                try:
                    raw = _bounded.read_bytes(os.path.join(self.proc_root, pid, 'cgroup'), _bounded.SMALL_LIMIT)
                except _bounded.BoundedReadError:
                    continue
                self._reference = set((m.group(1), m.group(2)) for m in (
                    _CGROUP_LINE.match(line) for line in _bounded.host_text(raw).split('\n')) if m)
                break
        return self._reference or None

    def _cgroup_mount(self, controllers: str) -> 'str | None':
        """Where the hierarchy of these controllers ('' for cgroup v2) is mounted, on a live /proc only."""
        if self._mounts is None:
            self._mounts = cgroups.hierarchy_mounts(self.proc_root) if self.live else {}
        first = controllers.split(',')[0]
        return self._mounts.get(first)

    def _of_cgroups(self, pid: 'int | str') -> Told:
        matches = []
        for number, controllers, path in self._cgroup_lines(pid):
            found = match_cgroup(path)
            if found:
                matches.append((found, controllers, path))
        if not matches:
            return None, None
        if len(set(found[:2] for found, _c, _p in matches)) > 1:
            raise Unknown('the cgroup hierarchies of process %s name different containers: %s' % (
                pid, ', '.join(sorted(set(path for _f, _c, path in matches)))))
        (runtime, container_id, depth, uid), controllers, path = matches[0]
        container_path = '/' + '/'.join([part for part in path.split('/') if part][:depth])
        claimed = 'the cgroup %s looks like %s container %s\'s' % (container_path, runtime, container_id[:64])
        if uid is not None:
            raise Unknown('%s, but lies in the cgroup tree delegated to uid %d (rootless, or made by that user): '
                          'not trusted' % (claimed, uid))
        mount = self._cgroup_mount(controllers)
        if mount is not None:
            problem = rootfiles.trust_problem(mount, mount + container_path)
            if problem:
                raise Unknown('%s, but %s' % (claimed, problem))
            self._check_member(pid, mount, path, claimed)
        return self._described(runtime, container_id)

    def _check_member(self, pid: 'int | str', mount: str, path: str, claimed: str) -> None:
        procs = os.path.join(mount + path.rstrip('/'), 'cgroup.procs')
        try:
            listed = _bounded.read_bytes(procs, _PROCS_LIMIT).split()
        except _bounded.BoundedReadError as exc:
            raise Unknown('%s, but %s' % (claimed, exc)) from None
        if str(pid).encode('ascii') not in listed:
            raise Unknown('%s, but process %s is not in it (its cgroup file lies?)' % (claimed, pid))

    # -- naming -----------------------------------------------------------------------------------------------

    def _described(self, runtime: str, container_id: str) -> Told:
        key = runtime, container_id
        if key not in self._told:
            self._told[key] = self._describe(runtime, container_id)
        container, reason = self._told[key]
        return dict(container), reason

    def _describe(self, runtime: str, container_id: str) -> 'tuple[dict[str, object], str | None]':
        if runtime == 'kubernetes':
            runtime = self._kubernetes_runtime(container_id)
        told: 'dict[str, object]' = {'runtime': runtime, 'id': container_id, 'name': None, 'pod': None,
                                     'namespace': None, 'container': None}
        reason = None
        try:
            if runtime == 'docker':
                fields = container_state.docker(self.root, self.docker_root(), container_id)
            elif runtime == 'podman':
                fields, reason = self._podman.fields(container_id)
            elif runtime == 'containerd':
                fields = container_state.containerd_kubernetes(self.root, container_id)
            elif runtime == 'cri-o':
                fields = container_state.crio(self.root, container_id)
            elif runtime == 'lxc':
                fields = {'name': rootfiles.text(container_id)}
                told['id'] = fields['name']
            else:
                raise Unknown('a Kubernetes container (%s) whose runtime left no state file this module reads '
                              '(containerd, CRI-O, docker)' % container_id)
        except Unknown as exc:
            if runtime not in RUNTIMES:
                raise
            return told, 'name not told: %s' % exc
        told.update((key, value) for key, value in fields.items() if key in told and key not in ('runtime', 'id'))
        told.update((key, value) for key, value in fields.items() if key.startswith('_'))
        return told, reason

    def _kubernetes_runtime(self, container_id: str) -> str:
        for runtime, path in (('containerd', '%s/%s/config.json' % (container_state.CONTAINERD_K8S, container_id)),
                              ('cri-o', '%s/%s/userdata/config.json' % (container_state.CRIO_RUN, container_id)),
                              ('docker', '%s/containers/%s/config.v2.json' % (self.docker_root(), container_id))):
            if os.path.lexists(rootfiles.host_path(self.root, path)):
                return runtime
        return 'kubernetes'

    def docker_root(self) -> str:
        if self._docker_root is None:
            self._docker_root = container_state.docker_root(self.root)
        return self._docker_root

    # -- docker-proxy -----------------------------------------------------------------------------------------

    def _proxy_target(self, pid: 'int | str') -> Told:
        container_id = docker_proxy.target(docker_proxy.arguments(self.proc_root, pid), self._docker_containers(), pid)
        return self._described('docker', container_id)

    def _docker_containers(self) -> 'list[tuple[str, dict[str, object]]]':
        if self._docker is None:
            self._docker = []
            folder = self.docker_root().rstrip('/') + '/containers'
            for name in rootfiles.list_root_dir(self.root, folder):
                if _HEX64.match(name):
                    try:
                        self._docker.append((name, container_state.docker(self.root, self.docker_root(), name)))
                    except Unknown:
                        continue     # a broken container's file names no address; it cannot be the target
        return self._docker

    # -- namespaces -------------------------------------------------------------------------------------------

    def _map_namespaces(self) -> 'dict[int, list[dict[str, object]]]':
        """{netns inode: [containers whose init process is in it]}, without the module's (the host's) own."""
        own = _netns_inode(self.proc_root, 'self') or _netns_inode(self.proc_root, '1')
        found: 'dict[int, list[dict[str, object]]]' = {}
        for container_id, pid in self._init_pids():
            inode = _netns_inode(self.proc_root, str(pid))
            if inode is None or inode == own:
                continue
            container, _reason = self._container(pid)
            if container is None or container['id'] != container_id:
                continue     # a pid file older than the process now holding its pid
            if container['runtime'] == 'docker':
                try:
                    mode = container_state.docker_network_mode(self.root, self.docker_root(), container_id) or ''
                except Unknown:
                    mode = ''
                container['_joined'] = mode.startswith('container:')
            found.setdefault(inode, []).append(container)
        return found

    def _init_pids(self) -> 'list[tuple[str, int]]':
        pids = []
        try:
            for container_id, fields in self._docker_containers():
                if fields['_running'] and fields['_pid']:
                    pids.append((container_id, int(fields['_pid'])))  # type: ignore[call-overload]
        except Unknown:
            pass
        for folder, pid_file in ((container_state.CONTAINERD_K8S, '%s/%s/init.pid'),
                                 (container_state.CRIO_RUN, '%s/%s/userdata/pidfile')):
            try:
                names = rootfiles.list_root_dir(self.root, folder)
            except Unknown:
                continue
            for name in names:
                if _HEX64.match(name):
                    pid = container_state.init_pid(self.root, pid_file % (folder, name))
                    if pid:
                        pids.append((name, pid))
        return pids


def _public(container: 'dict[str, object] | None') -> 'dict[str, object] | None':
    if container is None:
        return None
    return dict((key, value) for key, value in container.items() if not key.startswith('_'))


def _netns_inode(proc_root: str, pid: str) -> 'int | None':
    try:
        target = os.readlink(os.path.join(proc_root, pid, 'ns', 'net'))
    except OSError:
        return None
    if target.startswith('net:[') and target.endswith(']') and target[5:-1].isdigit():
        return int(target[5:-1])
    return None
