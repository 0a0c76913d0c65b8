# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/containers.py against real runtimes, where this machine has them; the oracle is the runtime's own
`inspect`.

- podman (Debian's podman 4.3 with runc; crun refuses this machine's hybrid cgroups: "cgroups in hybrid mode not
  supported, drop all controllers from cgroupv2"): containers with no network of their own (`--network none`, so
  netavark makes no bridge or firewall rules), the host's root as a throw-away overlay (`--rootfs /:O`, no image
  to pull), and a pod without an infra container.
- docker: only when an engine answers on /var/run/docker.sock (Debian's docker.io started by hand, in a network
  namespace of its own); an image is imported from busybox-static, and a published port on 127.0.0.1 starts the
  real docker-proxy.
Skipped, saying why, where these are missing."""

import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin.containers import Containers
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.packages import Packages

from support.container_lab import runtime_cgroup_parent

PODMAN = ['podman', '--runtime', 'runc']
# podman's defaults ask for more open files than this machine's hard limit allows.
LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024']


def run(argv, timeout=120):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, '%s: %s' % (' '.join(argv), done.stderr.strip())
    return done.stdout.strip()


@pytest.fixture
def podman():
    if os.geteuid() != 0 or not shutil.which('podman') or not shutil.which('runc'):
        pytest.skip('needs root, podman and runc (apt-get install podman runc)')
    made = []
    with runtime_cgroup_parent():
        try:
            yield made
        finally:
            for name in reversed(made):
                subprocess.run(PODMAN + (['pod', 'rm', '-f', name[4:]] if name.startswith('pod:') else ['rm', '-f', '-t', '0', name]),
                               capture_output=True, check=False, timeout=120)


def podman_run(made, name, *extra):
    made.append(name)
    run(PODMAN + ['run', '-d', '--name', name, '--network', 'none'] + LIMITS + list(extra) +
        ['--rootfs', '/:O', 'sleep', '300'])
    return json.loads(run(PODMAN + ['inspect', name]))[0]


def test_real_podman_containers_and_a_pod(podman):
    tag = uuid.uuid4().hex[:8]
    podman.append('pod:w2pod-' + tag)
    run(PODMAN + ['pod', 'create', '--infra=false', '--name', 'w2pod-' + tag])
    solo = podman_run(podman, 'w2solo-' + tag)
    member = podman_run(podman, 'w2member-' + tag, '--pod', 'w2pod-' + tag)
    finder = Containers()
    for inspected, pod in ((solo, None), (member, 'w2pod-' + tag)):
        container, reason = finder.container(inspected['State']['Pid'])
        assert reason is None
        assert container == {'runtime': 'podman', 'id': inspected['Id'], 'name': inspected['Name'], 'pod': pod,
                             'namespace': None, 'container': None}
        inode = os.stat('/proc/%d/ns/net' % inspected['State']['Pid']).st_ino
        assert finder.namespace(inode)[0]['id'] == inspected['Id']
    # Its executable is the overlay's file, not the host's /usr/bin/sleep: no package of this host.
    package, reason = Packages().package(solo['State']['Pid'])
    assert package is None and 'another mount namespace' in reason


def docker_engine():
    if not shutil.which('docker'):
        return 'no docker client'
    done = subprocess.run(['docker', 'info', '--format', '{{.ServerVersion}}'], capture_output=True, text=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        return 'no docker engine answers: %s' % (done.stderr.strip() or done.stdout.strip())
    if not os.path.exists('/usr/bin/busybox'):
        return 'busybox-static is not installed (the image is made from it)'
    return None


@pytest.fixture
def docker(tmp_path):
    problem = docker_engine()
    if problem:
        pytest.skip(problem)
    image = 'w2busybox:test'
    archive = tmp_path / 'rootfs.tar'
    with tarfile.open(str(archive), 'w') as tar:
        tar.add('/usr/bin/busybox', arcname='bin/busybox')
        for applet in ('sh', 'httpd', 'sleep'):
            info = tarfile.TarInfo('bin/' + applet)
            info.type, info.linkname = tarfile.SYMTYPE, 'busybox'
            tar.addfile(info)
    run(['docker', 'import', str(archive), image])
    made = []
    try:
        yield made
    finally:
        for name in made:
            subprocess.run(['docker', 'rm', '-f', name], capture_output=True, check=False, timeout=120)


def test_real_docker_container_and_its_docker_proxy(docker):
    name = 'w2web-' + uuid.uuid4().hex[:8]
    docker.append(name)
    run(['docker', 'run', '-d', '--name', name, '-p', '127.0.0.1::80', '--label', 'role=web', 'w2busybox:test',
         '/bin/httpd', '-f', '-p', '80'])
    inspected = json.loads(run(['docker', 'inspect', name]))[0]
    finder = Containers()
    container, reason = finder.container(inspected['State']['Pid'])
    assert reason is None and container['id'] == inspected['Id'] and container['name'] == name
    deadline = time.monotonic() + 10
    proxies = []
    while not proxies:
        assert time.monotonic() < deadline, 'no docker-proxy for %s' % name
        for pid in (int(entry) for entry in os.listdir('/proc') if entry.isdigit()):
            try:
                with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                    words = handle.read().split(b'\0')
            except OSError:
                continue
            address = inspected['NetworkSettings']['Networks']['bridge']['IPAddress'].encode()
            if words[0].endswith(b'docker-proxy') and address in words:
                proxies.append(pid)
        time.sleep(0.05)
    assert finder.container(proxies[0]) == (container, None)
