# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: containers laid out as their runtimes lay them out, without the runtimes.

A ContainerLab makes real cgroups (under this machine's cgroup2 mount and its cgroup v1 `name=systemd` hierarchy),
moves real processes into them (optionally in a network namespace of their own), and writes the runtimes' state
files under a tmp `root`: docker's config.v2.json and hostconfig.json from the files docker 20.10.24 wrote on this
machine (fixtures/containers/docker-*.json, captured), with the id, name, pid, address and labels of the test's
container; containerd's and CRI-O's OCI bundles in their documented layout (written, not captured: no Kubernetes
runs here). Everything made is removed again: processes killed, cgroups removed when empty (other tests may share a
parent such as /system.slice; whoever ends last removes it).

The hierarchies are found by the lab's own reading of /proc/self/mountinfo, not the module's."""

import contextlib
import copy
import errno
import json
import os
import shutil
import subprocess
import time

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        'unit', 'plugins', 'module_utils', '_origin', 'fixtures', 'containers')


def hierarchy_mounts():
    """{'v2': mount point of cgroup2, 'systemd': mount point of the v1 name=systemd hierarchy}, those present."""
    found = {}
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            fields = line.split()
            rest = fields[fields.index('-') + 1:]
            if fields[3] != '/':
                continue
            if rest[0] == 'cgroup2':
                found.setdefault('v2', fields[4])
            elif rest[0] == 'cgroup' and 'name=systemd' in rest[2].split(','):
                found.setdefault('systemd', fields[4])
    return found


def fixture_json(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


class ContainerLab:
    """Cgroups, processes and state files of one test."""

    def __init__(self, mounts, root):
        self.mounts = mounts
        self.root = str(root)
        self.made = []          # (hierarchy, absolute cgroup path) in creation order
        self.processes = []

    def host(self, hierarchy, path):
        return os.path.join(self.mounts[hierarchy], path.lstrip('/'))

    def cgroup(self, path, hierarchy='v2', owner=None):
        """Make the cgroup path (and its parents) in a hierarchy; owner: chown the last folder (and its
        cgroup.procs), as systemd does for a delegated subtree."""
        if hierarchy not in self.mounts:
            pytest.skip('this machine has no %s cgroup hierarchy' % hierarchy)
        parts = [part for part in path.split('/') if part]
        for depth in range(1, len(parts) + 1):
            partial = '/' + '/'.join(parts[:depth])
            folder = self.host(hierarchy, partial)
            if not os.path.isdir(folder):
                os.mkdir(folder)
                self.made.append((hierarchy, partial))
        if owner is not None:
            folder = self.host(hierarchy, path)
            os.chown(folder, owner, owner)
            os.chown(os.path.join(folder, 'cgroup.procs'), owner, owner)
        return path

    def place(self, pid, path, hierarchy='v2'):
        self.cgroup(path, hierarchy)
        with open(os.path.join(self.host(hierarchy, path), 'cgroup.procs'), 'w') as handle:
            handle.write(str(pid))

    def start(self, argv=('sleep', '300'), netns=False, **popen):
        """A real process (in a network namespace of its own with netns); its pid."""
        if netns:
            argv = ('unshare', '--net') + tuple(argv)
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, **popen)
        self.processes.append(proc)
        if netns:
            deadline = time.monotonic() + 5
            while os.readlink('/proc/%d/ns/net' % proc.pid) == os.readlink('/proc/self/ns/net'):
                assert time.monotonic() < deadline, 'unshare did not enter a network namespace'
                time.sleep(0.01)
        return proc.pid

    def write(self, path, data, mode=0o600):
        """A file below root (folders 0o700, root's), as the runtimes keep them."""
        full = os.path.join(self.root, path.lstrip('/'))
        os.makedirs(os.path.dirname(full), mode=0o700, exist_ok=True)
        with open(full, 'wb') as handle:
            handle.write(data if isinstance(data, bytes) else json.dumps(data).encode())
        os.chmod(full, mode)
        return full

    def docker(self, container_id, name, pid=0, address='172.17.0.2', labels=None, network_mode='bridge',
               ports=None, running=True, data_root='/var/lib/docker'):
        """docker's config.v2.json and hostconfig.json for a container, from the captured ones."""
        state = copy.deepcopy(fixture_json('docker-config.v2.json'))
        state['ID'] = container_id
        state['Name'] = '/' + name
        state['State'].update(Pid=pid, Running=running)
        state['Config']['Labels'] = labels or {}
        state['NetworkSettings']['Networks']['bridge']['IPAddress'] = address
        state['NetworkSettings']['Ports'] = ports if ports is not None else {'80/tcp': [{'HostIp': '', 'HostPort': '8080'}]}
        host = fixture_json('docker-hostconfig.json')
        host['NetworkMode'] = network_mode
        folder = '%s/containers/%s' % (data_root, container_id)
        self.write(folder + '/hostconfig.json', host, 0o644)
        return self.write(folder + '/config.v2.json', state)

    def containerd(self, container_id, annotations, pid=None):
        """containerd's OCI bundle of a Kubernetes container: config.json with the CRI plugin's annotations."""
        folder = '/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s' % container_id
        if pid:
            self.write(folder + '/init.pid', str(pid).encode(), 0o644)
        return self.write(folder + '/config.json', {'ociVersion': '1.0.2-dev', 'annotations': annotations}, 0o644)

    def crio(self, container_id, annotations, pid=None):
        """CRI-O's OCI bundle: userdata/config.json with its annotations, and conmon's pidfile."""
        folder = '/run/containers/storage/overlay-containers/%s/userdata' % container_id
        if pid:
            self.write(folder + '/pidfile', str(pid).encode(), 0o644)
        return self.write(folder + '/config.json', {'ociVersion': '1.0.2-dev', 'annotations': annotations}, 0o644)

    def podman(self):
        """podman's containers.json and bbolt database as podman 4.3.1 wrote them on this machine (captured: the
        containers w2inpod (in pod w2pod) and w2solo, ids in PODMAN_IDS)."""
        storage = os.path.join(self.root, 'var/lib/containers/storage')
        os.makedirs(os.path.join(storage, 'libpod'), mode=0o700)
        os.makedirs(os.path.join(storage, 'overlay-containers'), mode=0o700)
        shutil.copy(os.path.join(FIXTURES, 'podman-containers.json'), os.path.join(storage, 'overlay-containers', 'containers.json'))
        shutil.copy(os.path.join(FIXTURES, 'podman-bolt_state.db'), os.path.join(storage, 'libpod', 'bolt_state.db'))
        return storage

    def cleanup(self):
        for proc in self.processes:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
        for hierarchy, path in reversed(self.made):
            folder = self.host(hierarchy, path)
            for _attempt in range(100):
                try:
                    os.rmdir(folder)
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        break       # gone, or shared with another test that is still using it
                    time.sleep(0.02)


@contextlib.contextmanager
def runtime_cgroup_parent(name='libpod_parent'):
    """Remove the top cgroup a real runtime makes for its containers (podman's cgroupfs manager: /libpod_parent) in
    every hierarchy where it was not there before, once its containers are gone."""
    with open('/proc/self/mountinfo') as handle:
        tops = sorted(set(line.split()[4] for line in handle if ' - cgroup' in line))
    absent = [top for top in tops if not os.path.isdir(os.path.join(top, name))]
    try:
        yield
    finally:
        for top in absent:
            for folder, _dirs, _files in os.walk(os.path.join(top, name), topdown=False):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)


PODMAN_IDS = {
    'w2inpod': '45d78dd307450fb4e74a2a8d0d2a008fd8771313accccab799c8433d4f20f186',
    'w2solo': '2094e3ac9d0c7b00a33c2e7cd21ec278c9b66a0cdcce3b737c9213ab38b2c85b',
}


@contextlib.contextmanager
def container_lab_in(tmp_path):
    """A ContainerLab with its root below tmp_path (each test module makes it its `container_lab` fixture);
    skips, saying why, without root or cgroup2."""
    if os.geteuid() != 0:
        pytest.skip('needs root: cgroups are made and processes moved into them')
    mounts = hierarchy_mounts()
    if 'v2' not in mounts:
        pytest.skip('no cgroup2 file system is mounted')
    root = tmp_path / 'root'
    root.mkdir(mode=0o755)
    lab = ContainerLab(mounts, root)
    try:
        yield lab
    finally:
        lab.cleanup()
