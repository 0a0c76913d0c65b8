# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: name a container from its runtime's own state files, read-only.

Each runtime keeps a file per container under a fixed path that only root can write (rootfiles.read_json checks
that), in a format the runtime documents or has kept stable for years:

- docker: `/var/lib/docker/containers/ID/config.v2.json` (below `data-root` of `/etc/docker/daemon.json` when set):
  `ID`, `Name`, `Config.Labels` (the `io.kubernetes.*` labels of a Kubernetes pod run by docker), `State.Pid`,
  `State.Running`, `NetworkSettings.Networks.*.IPAddress` / `GlobalIPv6Address`, `NetworkSettings.Ports`; and
  `hostconfig.json` beside it: `NetworkMode`.
- podman: `/var/lib/containers/storage/overlay-containers/containers.json` (containers/storage): `id`, `names`; and
  libpod's database for the pod: `/var/lib/containers/storage/db.sql` (SQLite, podman 4.8+: `ContainerConfig.PodID`
  -> `PodConfig.Name`) or else `libpod/bolt_state.db` (bbolt: bucket `ctr/ID` key `pod-id` -> bucket `id-registry`).
- containerd under Kubernetes: the OCI bundle `/run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/config.json`,
  its `annotations` `io.kubernetes.cri.container-type`, `...sandbox-name`, `...sandbox-namespace`, `...container-name`.
- CRI-O: the OCI bundle `/run/containers/storage/overlay-containers/ID/userdata/config.json`, its `annotations`
  `io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`, `io.kubernetes.container.name`,
  `io.kubernetes.cri-o.ContainerType`.

Every function returns the fields it could read ({'name', 'pod', 'namespace', 'container'} and private ones) and
raises rootfiles.Unknown with the reason when the file cannot be believed or read.
"""

from __future__ import annotations

import os
from typing import Dict, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import boltdb, rootfiles

DOCKER_ROOT = '/var/lib/docker'
DOCKER_DAEMON_JSON = '/etc/docker/daemon.json'
PODMAN_STORAGE = '/var/lib/containers/storage'
PODMAN_CONTAINERS_JSON = PODMAN_STORAGE + '/overlay-containers/containers.json'
PODMAN_SQLITE = PODMAN_STORAGE + '/db.sql'
PODMAN_BOLT = PODMAN_STORAGE + '/libpod/bolt_state.db'
CONTAINERD_TASKS = '/run/containerd/io.containerd.runtime.v2.task'
CONTAINERD_K8S = CONTAINERD_TASKS + '/k8s.io'
CRIO_RUN = '/run/containers/storage/overlay-containers'
# libpod's database holds every container and pod of the host: tens of MiB at most.
DATABASE_LIMIT = 256 * 1024 * 1024

Fields = Dict[str, object]


def _get(mapping: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _kubernetes(labels: object, pod: str, namespace: str, container: str) -> Fields:
    return {'pod': rootfiles.text(_get(labels, pod)), 'namespace': rootfiles.text(_get(labels, namespace)),
            'container': rootfiles.text(_get(labels, container))}


def _pod_member(annotations: object, keys: Tuple[str, str, str], kind_key: str) -> Fields:
    """The Kubernetes fields of a CRI runtime's bundle annotations (pod, namespace, container). A sandbox (the pod's
    pause container, `kind_key` says so) has no container name: its name is the pod's."""
    fields = _kubernetes(annotations, *keys)
    if _get(annotations, kind_key) == 'sandbox':
        fields['container'] = None
    fields['name'] = fields['container'] or fields['pod']
    return fields


def docker_root(root: str) -> str:
    """docker's data root: `data-root` (or the older `graph`) of /etc/docker/daemon.json when that file is root's
    and says so, else /var/lib/docker. A daemon started with --data-root on its command line is not followed."""
    try:
        config = rootfiles.read_json(root, DOCKER_DAEMON_JSON, rootfiles.TEXT_LIMIT * 16)
    except rootfiles.Unknown:
        return DOCKER_ROOT
    chosen = rootfiles.text(config.get('data-root') or config.get('graph'))
    return chosen if chosen and chosen.startswith('/') else DOCKER_ROOT


def docker(root: str, data_root: str, container_id: str) -> Fields:
    """docker's config.v2.json of the container: name (without docker's leading '/'), the Kubernetes labels, and
    the private _pid, _running, _addresses (container IPs), _ports ({'80/tcp': ['8080', ...]})."""
    path = '%s/containers/%s/config.v2.json' % (data_root.rstrip('/'), container_id)
    state = rootfiles.read_json(root, path)
    if state.get('ID') != container_id:
        raise rootfiles.Unknown('unreadable: %s: it names another container (%r)' % (
            rootfiles.host_path(root, path), rootfiles.text(state.get('ID'))))
    name = rootfiles.text(state.get('Name'))
    fields: Fields = {'name': name[1:] if name and name.startswith('/') else name}
    fields.update(_kubernetes(_get(state, 'Config', 'Labels'), 'io.kubernetes.pod.name',
                              'io.kubernetes.pod.namespace', 'io.kubernetes.container.name'))
    pid = _get(state, 'State', 'Pid')
    fields['_pid'] = pid if isinstance(pid, int) and pid > 0 else None
    fields['_running'] = _get(state, 'State', 'Running') is True
    addresses = []
    networks = _get(state, 'NetworkSettings', 'Networks')
    for network in (networks.values() if isinstance(networks, dict) else ()):
        for key in ('IPAddress', 'GlobalIPv6Address'):
            address = rootfiles.text(_get(network, key))
            if address:
                addresses.append(address)
    fields['_addresses'] = addresses
    ports = {}
    published = _get(state, 'NetworkSettings', 'Ports')
    for port, bindings in (published.items() if isinstance(published, dict) else ()):
        ports[port] = [rootfiles.text(_get(binding, 'HostPort')) for binding in bindings or () if isinstance(binding, dict)]
    fields['_ports'] = ports
    return fields


def docker_network_mode(root: str, data_root: str, container_id: str) -> 'str | None':
    """HostConfig NetworkMode ('bridge', 'host', 'container:ID', ...) from hostconfig.json."""
    path = '%s/containers/%s/hostconfig.json' % (data_root.rstrip('/'), container_id)
    return rootfiles.text(rootfiles.read_json(root, path).get('NetworkMode'))


class Podman(object):
    """podman's names (containers.json) and pods (libpod's database), each file read once."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._names: 'dict[str, str] | None' = None
        self._names_problem: 'str | None' = None
        self._pods: 'object' = None

    def _load_names(self) -> 'dict[str, str]':
        if self._names is None and self._names_problem is None:
            try:
                raw = rootfiles.read_root_file(self.root, PODMAN_CONTAINERS_JSON, DATABASE_LIMIT)
                entries = rootfiles.parse_json(raw, rootfiles.host_path(self.root, PODMAN_CONTAINERS_JSON), list)
                names = {}
                for entry in entries:  # type: ignore[attr-defined]
                    found = _get(entry, 'names')
                    first = rootfiles.text(found[0]) if isinstance(found, list) and found else None
                    if isinstance(_get(entry, 'id'), str) and first:
                        names[entry['id']] = first
                self._names = names
            except rootfiles.Unknown as exc:
                self._names_problem = str(exc)
        if self._names is None:
            raise rootfiles.Unknown(self._names_problem or 'unreadable')
        return self._names

    def fields(self, container_id: str) -> 'tuple[Fields, str | None]':
        """({'name', 'pod'}, reason or None): what could not be read is None and named in the reason."""
        fields: Fields = {'name': None, 'pod': None, 'namespace': None, 'container': None}
        problems = []
        try:
            fields['name'] = self._load_names().get(container_id)
            if fields['name'] is None:
                problems.append('%s: no container %s' % (
                    rootfiles.host_path(self.root, PODMAN_CONTAINERS_JSON), container_id))
        except rootfiles.Unknown as exc:
            problems.append(str(exc))
        try:
            fields['pod'] = self._pod_of(container_id)
        except rootfiles.Unknown as exc:
            problems.append('pod not told: %s' % exc)
        return fields, '; '.join(problems) or None

    def _pod_of(self, container_id: str) -> 'str | None':
        if self._pods is None:
            self._pods = self._open_database()
        if isinstance(self._pods, rootfiles.Unknown):
            raise self._pods
        if isinstance(self._pods, boltdb.BoltFile):
            return _bolt_pod(self._pods, container_id, rootfiles.host_path(self.root, PODMAN_BOLT))
        return _sqlite_pod(str(self._pods), container_id)

    def _open_database(self) -> object:
        """The bbolt file's parsed pages, or the path of the SQLite database, or the Unknown that says why neither."""
        sqlite_path = rootfiles.host_path(self.root, PODMAN_SQLITE)
        if os.path.lexists(sqlite_path):
            problem = rootfiles.trust_problem(self.root, sqlite_path)
            return rootfiles.Unknown(problem) if problem else sqlite_path
        try:
            return boltdb.BoltFile(rootfiles.read_root_file(self.root, PODMAN_BOLT, DATABASE_LIMIT))
        except boltdb.BoltError as exc:
            return rootfiles.Unknown('unreadable: %s: %s' % (rootfiles.host_path(self.root, PODMAN_BOLT), exc))
        except rootfiles.Unknown as exc:
            return exc


def _bolt_pod(database: boltdb.BoltFile, container_id: str, name: str) -> 'str | None':
    try:
        container = database.bucket([b'ctr', container_id.encode('ascii')])
        pod_id = container.get(b'pod-id')
        if not isinstance(pod_id, bytes) or not pod_id:
            return None
        pod = database.bucket([b'id-registry']).get(pod_id)
    except boltdb.BoltError as exc:
        raise rootfiles.Unknown('unreadable: %s: %s' % (name, exc)) from None
    if not isinstance(pod, bytes):
        raise rootfiles.Unknown('unreadable: %s: pod %s has no name' % (name, _bounded.host_text(pod_id)))
    return rootfiles.text(_bounded.host_text(pod))


def _sqlite_pod(path: str, container_id: str) -> 'str | None':
    """The pod of the container in podman's SQLite database, opened read-only and immutable: SQLite then writes
    nothing beside it (no -shm, no journal) and takes no lock; a write podman makes meanwhile may be missed."""
    try:
        import sqlite3     # only hosts with podman's SQLite database pay for it
    except ImportError:
        raise rootfiles.Unknown('unreadable: %s: this Python has no sqlite3 module' % path) from None
    if os.path.getsize(path) > DATABASE_LIMIT:
        raise rootfiles.Unknown('unreadable: %s: larger than %d bytes' % (path, DATABASE_LIMIT))
    if not os.path.isfile(path):
        raise rootfiles.Unknown('unreadable: %s: not a regular file' % path)
    uri = 'file:%s?mode=ro&immutable=1' % _uri_path(path)
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=0)
        try:
            row = connection.execute(
                'SELECT PodConfig.Name FROM ContainerConfig LEFT JOIN PodConfig ON PodConfig.ID = '
                'ContainerConfig.PodID WHERE ContainerConfig.ID = ?', (container_id,)).fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise rootfiles.Unknown('unreadable: %s: %s' % (path, exc)) from None
    if row is None:
        raise rootfiles.Unknown('unreadable: %s: no container %s' % (path, container_id))
    return rootfiles.text(row[0])


def _uri_path(path: str) -> str:
    from urllib.parse import quote
    return quote(os.path.abspath(path))


def _annotations(root: str, path: str) -> object:
    return _get(rootfiles.read_json(root, path), 'annotations')


def containerd_kubernetes(root: str, container_id: str) -> Fields:
    """The CRI annotations of the OCI bundle containerd's CRI plugin wrote (namespace k8s.io). A sandbox (the
    pod's pause container) has no container name: its name is the pod's."""
    annotations = _annotations(root, '%s/%s/config.json' % (CONTAINERD_K8S, container_id))
    return _pod_member(annotations, ('io.kubernetes.cri.sandbox-name', 'io.kubernetes.cri.sandbox-namespace',
                                     'io.kubernetes.cri.container-name'), 'io.kubernetes.cri.container-type')


def crio(root: str, container_id: str) -> Fields:
    """The annotations of the OCI bundle CRI-O wrote. podman writes its bundles to the same folder (both use
    containers/storage), with `io.container.manager: libpod`: such a bundle is not CRI-O's."""
    annotations = _annotations(root, '%s/%s/userdata/config.json' % (CRIO_RUN, container_id))
    if _get(annotations, 'io.container.manager') == 'libpod':
        raise rootfiles.Unknown('unreadable: %s: a podman container, not CRI-O\'s' % container_id)
    return _pod_member(annotations, ('io.kubernetes.pod.name', 'io.kubernetes.pod.namespace',
                                     'io.kubernetes.container.name'), 'io.kubernetes.cri-o.ContainerType')


def init_pid(root: str, path: str) -> 'int | None':
    """The pid in a runtime's pid file (containerd's init.pid, conmon's pidfile), None when there is none."""
    try:
        raw = rootfiles.read_root_file(root, path, 64).strip()
    except rootfiles.Unknown:
        return None
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1 << 22 else None
