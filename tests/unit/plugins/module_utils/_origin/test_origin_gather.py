# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end through _gather.gather(): `container`, `package`, `security_context` and their
`origin_unknown` entries on real sockets, and the containers of the namespaces `netns: all` reads.

Oracles: real listeners held by real processes placed in cgroups laid out as docker lays them out (state files
under a tmp root, from docker's captured ones), a root-owned docker-proxy copy forwarding to that container, a real
podman container in its own network namespace where podman runs; `dpkg -S` for the package."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather

from support.container_lab import runtime_cgroup_parent


LISTEN = 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(300)'


def free_port():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def wait_listening(port):
    deadline = time.monotonic() + 10
    while True:
        probe = socket.socket()
        try:
            probe.connect(('127.0.0.1', port))
            return
        except OSError:
            assert time.monotonic() < deadline, 'nothing listens on %d' % port
            time.sleep(0.02)
        finally:
            probe.close()


def record_on(facts, port):
    found = [record for record in facts['sockets'] if record['local_port'] == port and record['state'] == 'LISTEN']
    assert len(found) == 1
    return found[0]


def test_container_package_and_label_of_real_listeners(container_lab):
    container_id = (uuid.uuid4().hex * 2)[:64]
    port, proxy_port = free_port(), free_port()
    pid = container_lab.start(['/usr/bin/python3', '-c', LISTEN, str(port)])
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    container_lab.docker(container_id, 'shop', pid=pid, address='172.17.0.5')
    folder = tempfile.mkdtemp(prefix='w2proxy-', dir='/tmp')
    try:
        proxy = os.path.join(folder, 'docker-proxy')
        shutil.copy2(os.path.realpath(sys.executable), proxy)
        container_lab.start([proxy, '-c', LISTEN, str(proxy_port), '-proto', 'tcp', '-host-port', str(proxy_port),
                             '-container-ip', '172.17.0.5', '-container-port', '80'])
        wait_listening(port)
        wait_listening(proxy_port)
        facts = _gather.gather(tables=('tcp',), listening=True, origin_root=container_lab.root)
        # The packages of this host's root (the docker state above lies in a tmp root without dpkg's database).
        host = _gather.gather(tables=('tcp',), listening=True, packages=True)
    finally:
        shutil.rmtree(folder)
    expected = {'runtime': 'docker', 'id': container_id, 'name': 'shop', 'pod': None, 'namespace': None, 'container': None}
    inside, published = record_on(facts, port), record_on(facts, proxy_port)
    assert inside['container'] == expected and published['container'] == expected
    assert inside['security_context'] is None and 'security_context' not in inside['origin_unknown']
    assert inside['origin_unknown'] == {'package': 'not_gathered'} == published['origin_unknown']
    oracle = subprocess.run(['dpkg', '-S', os.path.realpath('/usr/bin/python3')], capture_output=True, text=True, check=True)
    inside, published = record_on(host, port), record_on(host, proxy_port)
    assert inside['package'] == {'name': oracle.stdout.split(':')[0], 'manager': 'dpkg',
                                 'path': os.path.realpath('/usr/bin/python3')}
    assert published['package'] is None and 'package' not in published['origin_unknown']   # a copy in /tmp


def test_without_packages_and_without_owners():
    facts = _gather.gather(tables=('tcp',), listening=True, processes=False)
    for record in facts['sockets']:
        assert record['package'] is None and record['origin_unknown']['package'] == 'not_gathered'
        assert record['origin_unknown'].get('container') in (None, 'not_gathered')


@pytest.fixture
def podman_listener():
    if os.geteuid() != 0 or not shutil.which('podman') or not shutil.which('runc'):
        pytest.skip('needs root, podman and runc')
    name = 'w2listen-' + uuid.uuid4().hex[:8]
    with runtime_cgroup_parent():
        yield from _podman_listener(name)


def _podman_listener(name):
    done = subprocess.run(['podman', '--runtime', 'runc', 'run', '-d', '--name', name, '--network', 'none',
                           '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--rootfs', '/:O',
                           '/usr/bin/python3', '-c', LISTEN, '18181'], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    try:
        yield name, done.stdout.strip()
    finally:
        subprocess.run(['podman', 'rm', '-f', '-t', '0', name], capture_output=True, timeout=120, check=False)


def test_a_real_podman_container_and_its_namespace(podman_listener):
    name, container_id = podman_listener
    deadline = time.monotonic() + 10
    while True:
        facts = _gather.gather(tables=('tcp',), listening=True, netns='all', packages=True)
        found = [record for record in facts['sockets'] if record['local_port'] == 18181 and record['container']]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    record = found[0]
    assert record['container']['id'] == container_id and record['container']['name'] == name
    assert record['package'] is None and 'another mount namespace' in record['origin_unknown']['package']
    labelled = facts['socket_meta']['netns_containers'][record['netns']]
    assert labelled['id'] == container_id
