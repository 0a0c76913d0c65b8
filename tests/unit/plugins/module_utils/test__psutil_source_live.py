# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the psutil reader against the netlink reader, on the same sockets.

A fresh namespace `na-ns-PID-psutil-HEX` (support/scratch_netns.py) holds nothing but the sockets that a child
(entered with call_in) opens; the child reads them with psutil and with sock_diag, and the two must agree on every
field psutil gives.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet
from ansible_collections.netaudit.sockets.plugins.module_utils._netns import calling, resolving
from support.scratch_netns import scratch_namespace

pytestmark = pytest.mark.root


def ip(*args):
    return subprocess.run(('ip',) + args, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)


@pytest.fixture
def namespace():
    pytest.importorskip('psutil')
    with scratch_namespace('na-ns-%d-psutil' % os.getpid(), why='it creates a network namespace and enters it',
                           tools=('ip',)) as name:
        ip('-n', name, 'link', 'set', 'lo', 'up')
        yield resolving.resolve(name)[0][0]


def open_and_read():
    """Open sockets in every state psutil and ss can both show, then read them both ways."""
    keep = []

    def make(family, kind):
        sock = socket.socket(family, kind)
        keep.append(sock)
        return sock
    listener = make(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    client = make(socket.AF_INET, socket.SOCK_STREAM)
    client.connect(listener.getsockname())
    keep.append(listener.accept()[0])
    dual = make(socket.AF_INET6, socket.SOCK_STREAM)
    dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    dual.bind(('::', 0))
    dual.listen(8)
    mapped = make(socket.AF_INET, socket.SOCK_STREAM)
    mapped.connect(('127.0.0.1', dual.getsockname()[1]))
    keep.append(dual.accept()[0])
    six = make(socket.AF_INET6, socket.SOCK_STREAM)
    six.bind(('::1', 0))
    six.listen(8)
    bound = make(socket.AF_INET, socket.SOCK_DGRAM)
    bound.bind(('0.0.0.0', 0))
    connected = make(socket.AF_INET6, socket.SOCK_DGRAM)
    connected.connect(('::1', 53))
    ours, lost, problems = _psutil_source.gather_psutil(['tcp', 'udp'])
    netlink = []
    for protocol in (6, 17):
        for family in (socket.AF_INET, socket.AF_INET6):
            netlink.extend(inet.dump_inet(protocol, family, _records.ALL_STATES))
    for sock in keep:
        sock.close()
    return ours, netlink, lost, problems


def comparable(records, lost):
    kept = [field for field in _records.FIELDS if field not in lost and field not in ('processes', 'netns')]
    return sorted(tuple(r[field] for field in kept) for r in records)


def test_psutil_and_netlink_agree_on_every_field_psutil_gives(namespace):
    ours, netlink, lost, _problems = calling.call_in(namespace, open_and_read)
    assert len(ours) == 9
    assert comparable(ours, lost) == comparable(netlink, lost)
    states = sorted((r['netid'], r['state']) for r in ours)
    assert states == [('tcp', 'ESTAB')] * 4 + [('tcp', 'LISTEN')] * 3 + [('udp', 'ESTAB'), ('udp', 'UNCONN')]
    assert '::ffff:127.0.0.1' in [r['local_address'] for r in ours]


def test_psutil_names_the_owner_that_holds_each_socket(namespace):
    ours = calling.call_in(namespace, open_and_read)[0]
    pids = set(p['pid'] for r in ours for p in r['processes'])
    assert len(pids) == 1 and pids != {os.getpid()}       # the child that opened them, not this process
    assert all(len(r['processes']) == 1 and r['processes'][0]['fd'] >= 0 for r in ours)
