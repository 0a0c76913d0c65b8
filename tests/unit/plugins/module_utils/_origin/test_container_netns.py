# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/containers.py, Containers.namespace: the container a network namespace belongs to (`netns: all`).

Oracles: real processes in network namespaces of their own (unshare --net; nsenter to join one), in cgroups laid
out as each runtime lays them out, named as the containers' init processes by the runtimes' state files (docker's
State.Pid, containerd's init.pid, CRI-O's conmon pidfile); the kernel's nsfs inode of each namespace."""

import os
import time
import uuid


from ansible_collections.netaudit.sockets.plugins.module_utils._origin.containers import Containers, describe


POD_UID = '0d6c5e4b_0f3e_4c77_9a62_4bb2ae1c3b8e'


def new_id():
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:64]


def netns(pid):
    return os.stat('/proc/%d/ns/net' % pid).st_ino


def test_a_containers_namespace_is_labelled_with_it_and_the_hosts_is_not(container_lab):
    container_id = new_id()
    pid = container_lab.start(netns=True)
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    container_lab.docker(container_id, 'web', pid=pid)
    finder = Containers(root=container_lab.root)
    container, reason = finder.namespace(netns(pid))
    assert reason is None and (container['id'], container['name']) == (container_id, 'web')
    assert describe(container) == 'docker web'
    assert finder.namespace(netns(os.getpid())) == (None, None)


def test_host_network_containers_do_not_label_the_host(container_lab):
    container_id = new_id()
    pid = container_lab.start()                       # in the host's namespace, as --network host
    container_lab.place(pid, '/system.slice/docker-%s.scope' % container_id)
    container_lab.docker(container_id, 'hostnet', pid=pid, network_mode='host')
    assert Containers(root=container_lab.root).namespace(netns(pid)) == (None, None)


def test_a_container_joining_anothers_namespace_does_not_take_it(container_lab):
    owner_id, joiner_id = new_id(), new_id()
    owner = container_lab.start(netns=True)
    joiner = container_lab.start(['nsenter', '--net=/proc/%d/ns/net' % owner, 'sleep', '300'])
    container_lab.place(owner, '/system.slice/docker-%s.scope' % owner_id)
    container_lab.place(joiner, '/system.slice/docker-%s.scope' % joiner_id)
    container_lab.docker(owner_id, 'app', pid=owner)
    container_lab.docker(joiner_id, 'sidecar', pid=joiner, network_mode='container:%s' % owner_id)
    deadline = time.monotonic() + 5
    while netns(joiner) != netns(owner):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert Containers(root=container_lab.root).namespace(netns(owner))[0]['name'] == 'app'


def test_a_kubernetes_pods_namespace_is_its_sandboxes(container_lab):
    sandbox_id, container_id = new_id(), new_id()
    sandbox = container_lab.start(netns=True)
    member = container_lab.start(['nsenter', '--net=/proc/%d/ns/net' % sandbox, 'sleep', '300'])
    slice_ = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice' % POD_UID
    container_lab.place(sandbox, '%s/cri-containerd-%s.scope' % (slice_, sandbox_id))
    container_lab.place(member, '%s/cri-containerd-%s.scope' % (slice_, container_id))
    pod = {'io.kubernetes.cri.sandbox-name': 'web-0', 'io.kubernetes.cri.sandbox-namespace': 'shop'}
    container_lab.containerd(sandbox_id, dict(pod, **{'io.kubernetes.cri.container-type': 'sandbox'}), pid=sandbox)
    container_lab.containerd(container_id, dict(pod, **{'io.kubernetes.cri.container-type': 'container',
                                                        'io.kubernetes.cri.container-name': 'nginx'}), pid=member)
    deadline = time.monotonic() + 5
    while netns(member) != netns(sandbox):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    container, reason = Containers(root=container_lab.root).namespace(netns(sandbox))
    assert reason is None
    assert container == {'runtime': 'containerd', 'id': sandbox_id, 'name': 'web-0', 'pod': 'web-0',
                         'namespace': 'shop', 'container': None}
    assert describe(container) == 'containerd shop/web-0'


def test_crio_pidfile_and_a_stale_one(container_lab):
    live_id, stale_id = new_id(), new_id()
    pid = container_lab.start(netns=True)
    bystander = container_lab.start(netns=True)     # a process whose pid a stale pidfile names
    container_lab.place(pid, '/kubepods/pod%s/%s' % (POD_UID.replace('_', '-'), live_id))
    annotations = {'io.kubernetes.pod.name': 'db-0', 'io.kubernetes.pod.namespace': 'data',
                   'io.kubernetes.container.name': 'postgres', 'io.kubernetes.cri-o.ContainerType': 'container'}
    container_lab.crio(live_id, annotations, pid=pid)
    container_lab.crio(stale_id, annotations, pid=bystander)
    finder = Containers(root=container_lab.root)
    assert finder.namespace(netns(pid))[0]['id'] == live_id
    assert finder.namespace(netns(bystander)) == (None, None)


def test_two_owners_of_one_namespace_are_not_guessed_between(container_lab):
    first_id, second_id = new_id(), new_id()
    first = container_lab.start(netns=True)
    second = container_lab.start(['nsenter', '--net=/proc/%d/ns/net' % first, 'sleep', '300'])
    container_lab.place(first, '/system.slice/docker-%s.scope' % first_id)
    container_lab.place(second, '/system.slice/docker-%s.scope' % second_id)
    container_lab.docker(first_id, 'one', pid=first)
    container_lab.docker(second_id, 'two', pid=second)
    deadline = time.monotonic() + 5
    while netns(second) != netns(first):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    container, reason = Containers(root=container_lab.root).namespace(netns(first))
    assert container is None and 'shared by docker one, docker two' in reason
