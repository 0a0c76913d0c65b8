# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/boltdb.py: podman's bbolt database, read-only.

Oracles: fixtures/containers/podman-bolt_state.db, the file podman 4.3.1 wrote on this machine (captured) for a pod
w2pod without infra container, a container w2inpod in it and w2solo outside it: what `podman ps -a --pod` and
`podman pod ps` printed then is written below; with podman installed, a database podman writes now
(test_containers_live.py). Damaged copies of the captured file for the hostile cases."""

import os
import struct

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import boltdb

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'containers', 'podman-bolt_state.db')
# podman ps -a --pod / podman pod ps at capture time.
CONTAINERS = {'45d78dd307450fb4e74a2a8d0d2a008fd8771313accccab799c8433d4f20f186': ('w2inpod', 'w2pod'),
              '2094e3ac9d0c7b00a33c2e7cd21ec278c9b66a0cdcce3b737c9213ab38b2c85b': ('w2solo', None)}
POD = '7732b58010b0c3f9fcfd74b4bba2b95f0e9199103aa57fd43f5dfdd57be144f3'


def captured():
    with open(FIXTURE, 'rb') as handle:
        return handle.read()


def test_the_captured_database():
    database = boltdb.BoltFile(captured())
    assert {b'ctr', b'pod', b'id-registry', b'name-registry'} <= set(database.bucket([]))
    registry = database.bucket([b'id-registry'])
    for container_id, (name, pod) in CONTAINERS.items():
        assert registry[container_id.encode()] == name.encode()
        pod_id = database.bucket([b'ctr', container_id.encode()]).get(b'pod-id')
        assert (registry[pod_id].decode() if pod_id else None) == pod
    assert registry[POD.encode()] == b'w2pod'
    assert database.bucket([b'ctr'])[next(iter(CONTAINERS)).encode()] is boltdb.BoltFile.BUCKET


def damaged(offset, data):
    raw = bytearray(captured())
    raw[offset:offset + len(data)] = data
    return bytes(raw)


def _fnv(data):
    return boltdb._fnv1a64(data)


def with_meta(raw, index, **fields):
    """raw with meta page `index` rewritten (root page, txid) and its checksum made valid again."""
    raw = bytearray(raw)
    offset = index * 4096 + 16
    values = list(struct.unpack_from('<IIIIQQQQQQ', raw, offset))
    if 'root' in fields:
        values[4] = fields['root']
    if 'txid' in fields:
        values[8] = fields['txid']
    struct.pack_into('<IIIIQQQQQ', raw, offset, *values[:9])
    values[9] = _fnv(bytes(raw[offset:offset + 56]))
    struct.pack_into('<Q', raw, offset + 56, values[9])
    return bytes(raw)


@pytest.mark.parametrize('make, words', [
    (lambda: b'', 'not a bbolt file'),
    (lambda: b'\0' * 8192, 'not a bbolt file'),
    (lambda: captured()[:5000], 'outside the file'),
    (lambda: with_meta(with_meta(captured(), 0, root=10 ** 9, txid=10 ** 6), 1, root=10 ** 9), 'outside the file'),
    (lambda: with_meta(with_meta(captured(), 0, root=0, txid=10 ** 6), 1, root=0), 'outside the file'),
])
def test_broken_files(make, words):
    with pytest.raises(boltdb.BoltError) as raised:
        boltdb.BoltFile(make()).bucket([b'id-registry'])
    assert words in str(raised.value)


def test_a_branch_page_that_points_at_itself_is_a_loop():
    raw = bytearray(captured())
    database = boltdb.BoltFile(bytes(raw))
    root = database._root
    # Rewrite the root page as a branch of one element pointing back at the root page.
    offset = root * 4096
    struct.pack_into('<QHHI', raw, offset, root, 0x01, 1, 0)
    struct.pack_into('<IIQ', raw, offset + 16, 16, 0, root)
    with pytest.raises(boltdb.BoltError) as raised:
        boltdb.BoltFile(bytes(raw)).bucket([])
    assert 'loop' in str(raised.value)


def test_a_leaf_element_past_its_page_is_refused():
    raw = bytearray(captured())
    database = boltdb.BoltFile(bytes(raw))
    offset = database._root * 4096
    count = struct.unpack_from('<QHHI', raw, offset)[2]
    struct.pack_into('<IIII', raw, offset + 16 + (count - 1) * 16, 0, 10 ** 6, 4, 4)
    with pytest.raises(boltdb.BoltError) as raised:
        boltdb.BoltFile(bytes(raw)).bucket([])
    assert 'runs past' in str(raised.value)


def test_a_missing_bucket():
    with pytest.raises(boltdb.BoltError) as raised:
        boltdb.BoltFile(captured()).bucket([b'no-such-bucket'])
    assert "no bucket b'no-such-bucket'" in str(raised.value)
