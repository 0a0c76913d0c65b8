# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compact transfer of socket_facts: _records.pack on the host, _module_run.unpack on the controller."""

from __future__ import annotations

import copy
import json
import socket

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _module_run


@pytest.fixture()
def gathered():
    """This host's TCP and UDP sockets, with a listener and a bound UDP socket of this test among them."""
    opened = [socket.socket(socket.AF_INET, socket.SOCK_STREAM), socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)]
    opened[0].bind(('127.0.0.1', 0))
    opened[0].listen(1)
    opened[1].bind(('::1', 0))
    try:
        yield _gather.gather(tables=['tcp', 'udp'])['sockets'], [sock.getsockname()[1] for sock in opened]
    finally:
        for sock in opened:
            sock.close()


@pytest.mark.parametrize('chunk', [1, 3, _records.PACK_CHUNK])
def test_pack_and_unpack_give_back_the_records(gathered, monkeypatch, chunk):
    records, ports = gathered
    assert set(ports) <= set(record['local_port'] for record in records)
    monkeypatch.setattr(_records, 'PACK_CHUNK', chunk)
    original = copy.deepcopy(records)
    packed = _records.pack(records)
    assert records == []        # emptied while packing
    assert _module_run.unpack(packed) == original
    assert json.loads(packed)['fields'] == list(_records.FIELDS)
    # The rows hold no key names: the text is shorter than the records' own JSON.
    assert len(packed) < len(json.dumps(original, separators=(',', ':')))


def test_pack_of_no_records():
    assert _module_run.unpack(_records.pack([])) == []


@pytest.mark.parametrize('packed, message', [
    ('[1, 2', 'returned packed records that are not JSON'),
    ('[]', 'without "fields" and "rows"'),
    ('{"fields": ["a", 1], "rows": []}', 'without "fields" and "rows"'),
    ('{"fields": ["a"], "rows": {}}', 'without "fields" and "rows"'),
    ('{"fields": ["a", "b"], "rows": [[1, 2], [3]]}', 'rows that do not have 2 values'),
    ('{"fields": ["a"], "rows": [{"a": 1}]}', 'rows that do not have 1 values'),
])
def test_unpack_names_what_is_wrong(packed, message):
    with pytest.raises(AnsibleActionFail, match='netaudit.sockets.socket_facts') as caught:
        _module_run.unpack(packed)
    assert message in str(caught.value)
