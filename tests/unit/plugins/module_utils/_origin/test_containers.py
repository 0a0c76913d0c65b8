# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/containers.py: the container of a process, from cgroups root made and the runtimes' state files.

Oracles: real processes moved into real cgroups named and nested exactly as each runtime names them (cgroup v2 and
the v1 name=systemd hierarchy of this machine), with state files in each runtime's format (docker's captured from
docker 20.10.24 and podman's from podman 4.3.1 on this machine; containerd's and CRI-O's OCI bundles written in
their documented layout, marked as such); the kernel's own /proc/PID/cgroup and cgroup.procs. Real runtimes:
test_containers_live.py."""

import os
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import containers
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.containers import Containers, match_cgroup

from support.container_lab import PODMAN_IDS


def new_id():
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:64]


ID = 'a129932ff031867191a15a0dd2896523da3df0101ad166ac48ed4bd44d3cfd47'
POD_UID = '0d6c5e4b_0f3e_4c77_9a62_4bb2ae1c3b8e'


@pytest.mark.parametrize('path, expected', [
    ('/system.slice/docker-%s.scope' % ID, ('docker', ID, 2, None)),
    ('/docker/%s' % ID, ('docker', ID, 2, None)),
    ('/docker/%s/init.scope' % ID, ('docker', ID, 2, None)),        # systemd inside the container
    ('/machine.slice/libpod-%s.scope/container' % ID, ('podman', ID, 2, None)),
    ('/libpod_parent/libpod-%s' % ID, ('podman', ID, 2, None)),      # podman's cgroupfs manager (this machine)
    ('/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-%s.scope' % ID, ('podman', ID, 5, 1000)),
    ('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/cri-containerd-%s.scope' % (POD_UID, ID),
     ('containerd', ID, 4, None)),
    ('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/crio-%s.scope' % (POD_UID, ID),
     ('cri-o', ID, 4, None)),
    ('/kubepods.slice/kubepods-pod%s.slice/docker-%s.scope' % (POD_UID, ID), ('docker', ID, 3, None)),
    ('/kubepods/burstable/pod%s/%s' % (POD_UID.replace('_', '-'), ID), ('kubernetes', ID, 4, None)),
    ('/kubepods/pod%s/%s' % (POD_UID.replace('_', '-'), ID), ('kubernetes', ID, 3, None)),
    ('/lxc.payload.web', ('lxc', 'web', 1, None)),
    ('/lxc.payload.web/system.slice/nginx.service', ('lxc', 'web', 1, None)),
    ('/lxc/web', ('lxc', 'web', 2, None)),
    ('/docker/%s/docker/%s' % (ID, ID[::-1]), ('docker', ID, 2, None)),     # the outer container wins
    # not containers: the runtimes' monitors, short or upper-case ids, a 64-hex name under another parent
    ('/machine.slice/libpod-conmon-%s.scope' % ID, None),
    ('/system.slice/crio-conmon-%s.scope' % ID, None),
    ('/lxc.monitor.web', None),
    ('/system.slice/docker-%s.scope' % ID[:12], None),
    ('/system.slice/docker-%s.scope' % ID.upper(), None),
    ('/system.slice/%s' % ID, None),
    ('/system.slice/docker.service', None),
    ('/', None),
])
def test_cgroup_paths_as_each_runtime_names_them(path, expected):
    assert match_cgroup(path) == expected


def test_docker_systemd_driver_on_cgroup_v2(container_lab, tmp_path):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    container_lab.docker(container_id, 'web', pid=pid, labels={'com.example.role': 'web'})
    told = Containers(root=container_lab.root).container(pid)
    assert told == ({'runtime': 'docker', 'id': container_id, 'name': 'web', 'pod': None, 'namespace': None,
                     'container': None}, None)


def test_docker_cgroupfs_driver_on_cgroup_v1(container_lab):
    """docker's cgroupfs driver on a cgroup v1 host: /docker/ID in each v1 hierarchy, the v2 line untouched."""
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/docker/%s' % container_id, 'systemd')
    with open('/proc/%d/cgroup' % pid) as handle:
        lines = handle.read().splitlines()
    assert ':name=systemd:/docker/%s' % container_id in ''.join(lines)
    container_lab.docker(container_id, 'legacy', pid=pid)
    container, reason = Containers(root=container_lab.root).container(pid)
    assert reason is None and (container['runtime'], container['id'], container['name']) == ('docker', container_id, 'legacy')


def test_docker_cgroupfs_driver_on_cgroup_v2(container_lab):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/docker/%s' % container_id)
    container_lab.docker(container_id, 'v2web', pid=pid)
    assert Containers(root=container_lab.root).container(pid)[0]['name'] == 'v2web'


def test_docker_running_a_kubernetes_pod_names_pod_namespace_container(container_lab):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/kubepods/besteffort/pod%s/%s' % (POD_UID.replace('_', '-'), container_id))
    container_lab.docker(container_id, 'k8s_nginx_web-0_shop_%s_0' % POD_UID, pid=pid, labels={
        'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop',
        'io.kubernetes.container.name': 'nginx'})
    container, reason = Containers(root=container_lab.root).container(pid)
    assert reason is None
    assert container == {'runtime': 'docker', 'id': container_id, 'name': 'k8s_nginx_web-0_shop_%s_0' % POD_UID,
                         'pod': 'web-0', 'namespace': 'shop', 'container': 'nginx'}


def test_podman_systemd_layout_named_from_containers_json_and_bbolt(container_lab):
    """podman's captured state (containers.json, bolt_state.db): w2inpod is in pod w2pod, w2solo in none."""
    container_lab.podman()
    pids = {}
    for name, container_id in PODMAN_IDS.items():
        pids[name] = container_lab.start()
        container_lab.place(pids[name], '/machine.slice/libpod-%s.scope/container' % container_id)
    finder = Containers(root=container_lab.root)
    assert finder.container(pids['w2inpod']) == ({'runtime': 'podman', 'id': PODMAN_IDS['w2inpod'], 'name': 'w2inpod',
                                                  'pod': 'w2pod', 'namespace': None, 'container': None}, None)
    assert finder.container(pids['w2solo'])[0]['pod'] is None


def test_podman_sqlite_database(container_lab):
    """podman 4.8+'s db.sql, made here with podman's schema (sqlite_state.go's ContainerConfig, PodConfig)."""
    import sqlite3
    container_lab.podman()
    database = os.path.join(container_lab.root, 'var/lib/containers/storage/db.sql')
    connection = sqlite3.connect(database)
    connection.executescript('''
        CREATE TABLE PodConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL, JSON TEXT NOT NULL);
        CREATE TABLE ContainerConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL, PodID TEXT,
                                     JSON TEXT NOT NULL);''')
    connection.execute("INSERT INTO PodConfig VALUES ('p1', 'sqlpod', '{}')")
    connection.execute("INSERT INTO ContainerConfig VALUES (?, 'w2solo', 'p1', '{}')", (PODMAN_IDS['w2solo'],))
    connection.commit()
    connection.close()
    before = sorted(os.listdir(os.path.dirname(database)))
    pid = container_lab.start()
    container_lab.place(pid, '/machine.slice/libpod-%s.scope/container' % PODMAN_IDS['w2solo'])
    assert Containers(root=container_lab.root).container(pid)[0]['pod'] == 'sqlpod'
    assert sorted(os.listdir(os.path.dirname(database))) == before      # nothing written beside it


@pytest.mark.parametrize('layout', ['systemd', 'cgroupfs'])
def test_containerd_under_kubernetes(container_lab, layout):
    """containerd's CRI annotations in the OCI bundle (written in containerd's layout, not captured)."""
    container_id = new_id()
    pid = container_lab.start()
    if layout == 'systemd':
        path = ('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/cri-containerd-%s.scope'
                % (POD_UID, container_id))
    else:
        path = '/kubepods/burstable/pod%s/%s' % (POD_UID.replace('_', '-'), container_id)
    container_lab.place(pid, path)
    container_lab.containerd(container_id, {
        'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.container-name': 'nginx',
        'io.kubernetes.cri.sandbox-name': 'web-7d4b9c', 'io.kubernetes.cri.sandbox-namespace': 'shop',
        'io.kubernetes.cri.sandbox-id': new_id()})
    assert Containers(root=container_lab.root).container(pid) == ({
        'runtime': 'containerd', 'id': container_id, 'name': 'nginx', 'pod': 'web-7d4b9c', 'namespace': 'shop',
        'container': 'nginx'}, None)


@pytest.mark.parametrize('layout', ['systemd', 'cgroupfs'])
def test_crio(container_lab, layout):
    """CRI-O's annotations in its OCI bundle (written in CRI-O's layout, not captured); a sandbox has no container."""
    container_id, sandbox_id = new_id(), new_id()
    pid, sandbox_pid = container_lab.start(), container_lab.start()
    for one, process in ((container_id, pid), (sandbox_id, sandbox_pid)):
        if layout == 'systemd':
            path = '/kubepods.slice/kubepods-pod%s.slice/crio-%s.scope' % (POD_UID, one)
        else:
            path = '/kubepods/pod%s/%s' % (POD_UID.replace('_', '-'), one)
        container_lab.place(process, path)
    pod = {'io.kubernetes.pod.name': 'db-0', 'io.kubernetes.pod.namespace': 'data'}
    container_lab.crio(container_id, dict(pod, **{'io.kubernetes.container.name': 'postgres',
                                                  'io.kubernetes.cri-o.ContainerType': 'container'}))
    container_lab.crio(sandbox_id, dict(pod, **{'io.kubernetes.container.name': 'POD',
                                                'io.kubernetes.cri-o.ContainerType': 'sandbox'}))
    finder = Containers(root=container_lab.root)
    assert finder.container(pid)[0] == {'runtime': 'cri-o', 'id': container_id, 'name': 'postgres', 'pod': 'db-0',
                                        'namespace': 'data', 'container': 'postgres'}
    assert finder.container(sandbox_pid)[0] == {'runtime': 'cri-o', 'id': sandbox_id, 'name': 'db-0', 'pod': 'db-0',
                                                'namespace': 'data', 'container': None}


def test_lxc_payload(container_lab):
    pid = container_lab.start()
    container_lab.place(pid, '/lxc.payload.w2box-%s/init.scope' % os.getpid())
    assert Containers(root=container_lab.root).container(pid) == ({
        'runtime': 'lxc', 'id': 'w2box-%d' % os.getpid(), 'name': 'w2box-%d' % os.getpid(), 'pod': None,
        'namespace': None, 'container': None}, None)


def test_not_in_a_container(container_lab):
    pid = container_lab.start()
    container_lab.place(pid, '/system.slice/w2test-%d.service' % os.getpid())
    assert Containers(root=container_lab.root).container(pid) == (None, None)


def test_a_container_without_state_keeps_runtime_and_id_and_says_why_no_name(container_lab):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    container, reason = Containers(root=container_lab.root).container(pid)
    assert (container['runtime'], container['id'], container['name']) == ('docker', container_id, None)
    assert reason.startswith('name not told: unreadable: ') and 'config.v2.json' in reason and 'does not exist' in reason


# -- hostile ----------------------------------------------------------------------------------------------------


def test_a_user_made_cgroup_that_looks_like_a_container_is_not_believed(container_lab):
    """A subtree delegated to uid 1000 (systemd chowns it): that user can make docker-ID.scope there."""
    container_id = new_id()
    container_lab.docker(container_id, 'payments', pid=0)     # even a real container's state does not help
    delegated = '/system.slice/w2deleg-%d.service' % os.getpid()
    container_lab.cgroup(delegated, owner=1000)
    pid = container_lab.start()
    container_lab.place(pid, delegated + '/docker-%s.scope' % container_id)
    os.chown(container_lab.host('v2', delegated + '/docker-%s.scope' % container_id), 1000, 1000)
    container, reason = Containers(root=container_lab.root).container(pid)
    assert container is None
    assert 'looks like docker container %s' % container_id in reason and 'owned by uid 1000' in reason


def test_rootless_podman_layout_is_the_users_claim(container_lab):
    container_id = new_id()
    path = '/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-%s.scope' % container_id
    pid = container_lab.start()
    container_lab.place(pid, path)
    container, reason = Containers(root=container_lab.root).container(pid)
    assert container is None and 'delegated to uid 1000' in reason


def test_a_forged_cgroup_line_is_refused(tmp_path):
    """A cgroup name with a newline can add a line to /proc/PID/cgroup; a copied tree stands for it here."""
    proc = tmp_path / 'proc'
    (proc / '7').mkdir(parents=True)
    (proc / 'self').mkdir()
    (proc / 'self' / 'cgroup').write_text('0::/\n')
    (proc / '7' / 'cgroup').write_text('0::/user.slice/x\n0::/system.slice/docker-%s.scope\n' % ID)
    container, reason = Containers(proc_root=str(proc), root=str(tmp_path)).container(7)
    assert container is None and 'listed twice' in reason
    (proc / '7' / 'cgroup').write_text('0::/user.slice/x\n9:name=systemd:/docker/%s\n' % ID)
    assert 'not the kernel' in Containers(proc_root=str(proc), root=str(tmp_path)).container(7)[1]


def test_a_process_not_in_the_cgroup_it_names_is_refused(container_lab, monkeypatch):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.cgroup('/system.slice/docker-%s.scope' % container_id)
    finder = Containers(root=container_lab.root)
    real = finder._cgroup_lines
    monkeypatch.setattr(finder, '_cgroup_lines', lambda p: [
        (number, names, '/system.slice/docker-%s.scope' % container_id if number == '0' else path)
        for number, names, path in real(p)])
    container, reason = finder.container(pid)
    assert container is None and 'is not in it' in reason


def _huge(path):
    with open(path, 'wb') as handle:
        handle.truncate(64 * 1024 * 1024)


@pytest.mark.parametrize('damage, words', [
    (_huge, 'larger than'),
    (lambda path: (os.unlink(path), os.mkfifo(path, 0o600)), 'FIFO'),
    (lambda path: open(path, 'w').write('{"ID": '), 'not valid JSON'),
    (lambda path: open(path, 'wb').write(b'{"ID": "\xff\xfe"}'), 'not UTF-8'),
    (lambda path: open(path, 'w').write('[' * 100000 + ']' * 100000), 'not valid JSON'),
    (lambda path: open(path, 'w').write('[]'), 'not a JSON object'),
    (lambda path: os.chown(path, 1000, 1000), 'owned by uid 1000'),
    (lambda path: os.chmod(path, 0o666), 'writable by users other than root'),
    (lambda path: os.chown(os.path.dirname(path), 1000, 1000), 'owned by uid 1000'),
    (lambda path: (os.unlink(path), os.symlink('/etc/hostname', path)), 'leads outside'),
])
def test_a_hostile_state_file_gives_a_reason_never_a_name(container_lab, damage, words):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    damage(container_lab.docker(container_id, 'web', pid=pid))
    container, reason = Containers(root=container_lab.root).container(pid)
    assert container['runtime'] == 'docker' and container['name'] is None
    assert words in reason, reason


def test_hostile_strings_in_state_are_kept_bounded_and_encodable(container_lab):
    container_id = new_id()
    pid = container_lab.start()
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    container_lab.docker(container_id, '\x1b[2Jweb\ud800' + 'x' * 10000, pid=pid)
    name = Containers(root=container_lab.root).container(pid)[0]['name']
    assert name.startswith('\x1b[2Jweb\\ud800') and name.endswith('...(cut)') and len(name) < 4200
    name.encode('utf-8')


def test_every_runtime_is_one_the_docs_name():
    assert containers.RUNTIMES == ('docker', 'podman', 'containerd', 'cri-o', 'lxc')
