# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/docker_proxy.py: a published port held by docker-proxy names the container it forwards to.

Oracles: real processes exec'd as docker-proxy with docker's arguments (the real /usr/sbin/docker-proxy of Debian's
docker.io where installed; otherwise a root-owned copy of the Python binary under that name), docker's state files
(captured config.v2.json) naming the container's address, and the kernel's uids; the hostile ones: a process that
only calls itself docker-proxy, the binary run by a user, a copy a user owns."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import docker_proxy
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.containers import Containers


REAL_PROXY = '/usr/sbin/docker-proxy'
ARGUMENTS = ['-proto', 'tcp', '-host-ip', '127.0.0.1', '-host-port', '18080', '-container-ip', '172.17.0.2',
             '-container-port', '80']


def new_id():
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:64]


@pytest.fixture
def proxy_folder():
    """A folder for a copy of a binary: below /tmp (sticky), root's, 0755, so other users may run what is in it."""
    folder = tempfile.mkdtemp(prefix='w2proxy-', dir='/tmp')
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_python(folder, name='docker-proxy', owner=None):
    path = os.path.join(folder, name)
    shutil.copy2(os.path.realpath('/usr/bin/python3'), path)
    os.chmod(path, 0o755)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def start_as(lab, argv, uid=None, name=None):
    """A real process running argv (uid: switched to first; name: set with prctl after start)."""
    def become():
        if uid is not None:
            os.setgid(uid)
            os.setuid(uid)
    pid = lab.start(argv, preexec_fn=become if uid is not None else None, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not exec_done(pid, argv[0]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return pid


def exec_done(pid, path):
    """The exec is complete: the kernel switches /proc/PID/exe a moment before the new command line is readable."""
    with open('/proc/%d/cmdline' % pid, 'rb') as handle:
        return os.readlink('/proc/%d/exe' % pid) == path and b'-container-ip' in handle.read()


SLEEP = ['-c', 'import time; time.sleep(300)']


def web(lab, address='172.17.0.2', host_port='18080', name='web'):
    container_id = new_id()
    lab.docker(container_id, name, pid=1, address=address,
               ports={'80/tcp': [{'HostIp': '127.0.0.1', 'HostPort': host_port}]})
    return container_id


def test_a_root_owned_docker_proxy_running_as_root_names_its_container(container_lab, proxy_folder):
    container_id = web(container_lab)
    web(container_lab, address='172.17.0.3', name='other')
    pid = start_as(container_lab, [copy_python(proxy_folder)] + SLEEP + ARGUMENTS)
    container, reason = Containers(root=container_lab.root).container(pid)
    assert reason is None
    assert container == {'runtime': 'docker', 'id': container_id, 'name': 'web', 'pod': None, 'namespace': None,
                         'container': None}


@pytest.mark.skipif(not os.path.exists(REAL_PROXY), reason='Debian\'s docker.io (/usr/sbin/docker-proxy) is not installed')
def test_the_real_docker_proxy_binary(container_lab):
    container_id = web(container_lab, host_port='18099')
    arguments = [arg if arg != '18080' else '18099' for arg in ARGUMENTS]
    # docker-proxy tells dockerd it listens on descriptor 3 and stops without it.
    pid = container_lab.start(['sh', '-c', 'exec %s %s 3>/dev/null' % (REAL_PROXY, ' '.join(arguments))])
    deadline = time.monotonic() + 5
    while not exec_done(pid, REAL_PROXY):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert Containers(root=container_lab.root).container(pid)[0]['id'] == container_id


def test_docker_proxy_run_by_a_user_is_judged_by_its_own_cgroup(container_lab, proxy_folder):
    web(container_lab)
    pid = start_as(container_lab, [copy_python(proxy_folder)] + SLEEP + ARGUMENTS, uid=65534)
    assert not docker_proxy.is_docker_proxy('/proc', pid)
    assert Containers(root=container_lab.root).container(pid) == (None, None)


def test_a_copy_a_user_owns_is_not_docker_proxy(container_lab, proxy_folder):
    web(container_lab)
    pid = start_as(container_lab, [copy_python(proxy_folder, owner=1000)] + SLEEP + ARGUMENTS)
    assert not docker_proxy.is_docker_proxy('/proc', pid)
    assert Containers(root=container_lab.root).container(pid) == (None, None)


def test_a_process_that_only_calls_itself_docker_proxy(container_lab):
    web(container_lab)
    code = ('import ctypes, time; ctypes.CDLL(None).prctl(15, b"docker-proxy", 0, 0, 0); time.sleep(300)')
    pid = container_lab.start([sys.executable, '-c', code] + ARGUMENTS)
    deadline = time.monotonic() + 5
    while open('/proc/%d/comm' % pid).read().strip() != 'docker-proxy':
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert Containers(root=container_lab.root).container(pid) == (None, None)


def test_two_containers_on_one_address_are_told_apart_by_the_host_port(container_lab, proxy_folder):
    web(container_lab, host_port='9999', name='decoy')
    container_id = web(container_lab)
    pid = start_as(container_lab, [copy_python(proxy_folder)] + SLEEP + ARGUMENTS)
    assert Containers(root=container_lab.root).container(pid)[0]['id'] == container_id


@pytest.mark.parametrize('address, words', [('172.17.0.99', 'which no running'), ('172.17.0.2', 'more than one')])
def test_a_proxy_whose_container_is_not_told(container_lab, proxy_folder, address, words):
    web(container_lab, name='one')
    web(container_lab, name='two')
    arguments = [address if arg == '172.17.0.2' else arg for arg in ARGUMENTS]
    pid = start_as(container_lab, [copy_python(proxy_folder)] + SLEEP + arguments)
    container, reason = Containers(root=container_lab.root).container(pid)
    assert container is None and words in reason


@pytest.mark.parametrize('words, expected', [
    (['-proto', 'udp', '-container-ip', '10.0.0.2', '-container-port', '53'],
     {'proto': 'udp', 'container-ip': '10.0.0.2', 'container-port': '53'}),
    (['--container-ip=fd00::2', '-use-listen-fd', '-container-port', '80'],
     {'container-ip': 'fd00::2', 'use-listen-fd': 'true', 'container-port': '80'}),
    (['-container-ip', '1.1.1.1', '-container-ip', '2.2.2.2'], {'container-ip': '2.2.2.2'}),
    (['-container-ip'], {'container-ip': 'true'}),
    (['stray', '-', '--', '-x', ''], {'x': 'true'}),
])
def test_arguments_in_gos_flag_syntax(tmp_path, words, expected):
    (tmp_path / '5').mkdir()
    (tmp_path / '5' / 'cmdline').write_bytes(b'\0'.join([b'docker-proxy'] + [w.encode() for w in words]) + b'\0')
    assert docker_proxy.arguments(str(tmp_path), 5) == expected
