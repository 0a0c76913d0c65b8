# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the /proc reader against the netlink reader and a live ss, on real sockets.

A namespace `na-pn-*` is made for the run (fixtures/procnet/netns.py) and deleted afterwards whatever happens;
fixtures/procnet/helper.py opens the sockets of scenario.py there, on lo only, and reports what read_table, the
netlink reader (_netlink.inet.dump_inet) and the live ss (over netlink) see, and what _ssfilter selects from our
/proc records for every filter of fixtures/procnet/filters.py.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from support import procnet_trees
from support.procnet_trees import filters, load_fixture, public, sstext, table_of


netns = load_fixture('netns')
LIVE_FILTERS = [text for text in filters.FILTERS + filters.FAMILY_RULE if text not in filters.PROC_ONLY]

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(netns.why_unavailable() is not None, reason=netns.why_unavailable() or '')]


@pytest.fixture(scope='module')
def live():
    with tempfile.NamedTemporaryFile('w', suffix='.json', prefix='na-pn-filters-', delete=False) as handle:
        json.dump({'inet': LIVE_FILTERS + list(filters.PROC_ONLY), 'other': filters.OTHER}, handle)
    try:
        return netns.run_helper('live', handle.name)
    except netns.Unavailable as exc:
        pytest.skip(str(exc))
    finally:
        os.unlink(handle.name)


def as_proc_shows(record):
    """The record as /proc shows it, without the private keys."""
    return public(procnet_trees.as_proc_shows(record))


def canonical(records):
    return sorted(json.dumps(record, sort_keys=True) for record in records)


@pytest.mark.parametrize('table', ['tcp', 'udp', 'raw'])
def test_proc_equals_the_netlink_reader_on_what_proc_has(live, table):
    proc = live['proc'][table]
    assert proc['problems'] == []
    if 'unavailable' in live['netlink'][table]:
        pytest.skip(live['netlink'][table]['unavailable'])
    assert canonical(as_proc_shows(r) for r in proc['records']) == canonical(as_proc_shows(r) for r in live['netlink'][table])
    assert len(proc['records']) >= 4


@pytest.mark.parametrize('table', ['tcp', 'udp', 'raw', 'unix', 'packet', 'netlink'])
def test_proc_records_are_the_sockets_that_were_opened(live, table):
    ours = [as_proc_shows(r) for r in live['proc'][table]['records']]
    wanted = [as_proc_shows(r) for r in live['expected'] if table_of(r) == table]
    assert wanted
    for record in wanted:
        assert record in ours, record


def test_lost_fields_really_hold_values_the_netlink_reader_knows(live):
    # Not a tautology: the scenario has scoped sockets, v6only and dual-stack listeners, and LISTEN backlogs.
    netlink = live['netlink']['tcp']
    assert any(r['interface'] == 'lo' for r in netlink)
    assert set(r['v6only'] for r in netlink if r['family'] == 'inet6' and r['state'] == 'LISTEN') == {True, False}
    assert any(r['send_q'] for r in netlink if r['state'] == 'LISTEN')


def test_unix_matches_the_live_ss(live):
    rows = sstext.unix_rows(live['ss']['unix'])
    ours = live['proc']['unix']['records']
    # The live ss sees the kernel's states, full names (blanks and all) and no inode-0 sockets, like us.
    assert sorted((r['netid'], r['state'], r['local_address'], r['inode']) for r in rows) == \
        sorted((r['netid'], r['state'], r['local_address'], r['inode']) for r in ours)


def test_packet_matches_the_live_ss(live):
    rows = sstext.packet_rows(live['ss']['packet'])
    ours = live['proc']['packet']['records']
    assert sorted((r['netid'], r['local_address'], r['local_port'], r['recv_q'], r['send_q'], r['inode'], r['uid'])
                  for r in rows) == \
        sorted((r['netid'], r['local_address'], r['local_port'], r['recv_q'], r['send_q'], r['inode'], r['uid'])
               for r in ours)


def test_netlink_matches_the_live_ss(live):
    rows = sstext.netlink_rows(live['ss']['netlink'])
    ours = live['proc']['netlink']['records']
    # ss's own sock_diag socket (protocol 4) exists only while ss runs; the kernel's sockets' memory moves
    # with the requests they serve, so queues are compared for user sockets only.
    theirs = set((r['local_address'], r['local_port']) for r in rows)
    mine = set((r['local_address'], r['local_port']) for r in ours)
    assert mine <= theirs and all(protocol == '4' for protocol, _portid in theirs - mine)
    queues = dict(((r['local_address'], r['local_port']), (r['recv_q'], r['send_q'])) for r in rows)
    for record in ours:
        if record['local_port'] and record['local_address'] != '4':
            assert queues[(record['local_address'], record['local_port'])] == (record['recv_q'], record['send_q'])


def identity(row, with_state):
    return (row['netid'],) + ((row['state'],) if with_state else ()) + (
        row['local_address'], row['local_port'], row['peer_address'], row['peer_port'])


@pytest.mark.parametrize('text', LIVE_FILTERS)
def test_filter_on_proc_records_selects_what_the_live_ss_selects(live, text):
    result = live['filters'][text]
    rows = sstext.inet_rows(result['ss'])
    with_state = all(row['state'] is not None for row in rows)
    assert sorted(identity(r, with_state) for r in rows) == sorted(identity(r, with_state) for r in result['ours'])


def test_family_rule_filters_select_something(live):
    # All but `src 0.0.0.0:21003`, which only ss's /proc path matches (with the dual-stack listener).
    assert sum(1 for text in filters.FAMILY_RULE if live['filters'][text]['ours']) == len(filters.FAMILY_RULE) - 1


def test_dev_needs_the_device_that_proc_does_not_have(live):
    result = live['filters']['dev lo']
    rows = sstext.inet_rows(result['ss'])
    # The live ss finds the sockets scoped to lo; /proc records carry no device, so nothing matches.
    assert rows and all(row['device'] == 'lo' for row in rows)
    assert result['ours'] == []


def test_not_autobound_needs_the_bind_lock_that_proc_does_not_have(live):
    result = live['filters']['not autobound']
    theirs = set(identity(r, True) for r in sstext.inet_rows(result['ss']))
    ours = set(identity(r, True) for r in result['ours'])
    listening = set(r['local_port'] for r in live['proc']['tcp']['records'] if r['state'] == 'LISTEN')
    # We also keep the accepted sockets (a listener's port, never bound by themselves); the live ss does not.
    extra = ours - theirs
    assert theirs < ours and extra
    assert all(netid == 'tcp' and state in ('ESTAB', 'CLOSE-WAIT') and port in listening
               for netid, state, _local, port, _peer, _pport in extra)


OTHER_ROWS = {
    'unix': (sstext.unix_rows, lambda r: (r['netid'], r['state'], r['local_address'], r['inode'])),
    'packet': (sstext.packet_rows, lambda r: (r['netid'], r['local_address'], r['local_port'], r['inode'])),
    'netlink': (sstext.netlink_rows, lambda r: (r['local_address'], r['local_port'])),
}


@pytest.mark.parametrize('table, text', [(table, text) for table, texts in sorted(filters.OTHER.items()) for text in texts])
def test_other_table_filter_on_proc_records_selects_what_the_live_ss_selects(live, table, text):
    result = live['other_filters'][table][text]
    parse, key = OTHER_ROWS[table]
    theirs = sorted(key(row) for row in parse(result['ss']))
    ours = sorted(key(record) for record in result['ours'])
    if table == 'netlink':
        # ss's own sock_diag socket (protocol 4) is there only while ss runs.
        theirs = [row for row in theirs if row in ours or row[0] != '4']
    assert theirs == ours


def test_other_table_filters_are_not_trivial(live):
    for table, texts in filters.OTHER.items():
        everything = len(live['proc'][table]['records'])
        sizes = [len(live['other_filters'][table][text]['ours']) for text in texts]
        assert sum(1 for size in sizes if 0 < size < everything) >= len(texts) // 2, (table, sizes)
