# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: dump_inet and find_owners against the real ss, in a fresh namespace.

The test process stays in its own namespace: it makes `na-t-...`, runs fixtures/sockdiag_live_helper.py there
with `ip netns exec` (which opens the sockets and gathers them with our code, with ss, and as nobody), and
deletes the namespace afterwards whatever happens.
"""

from __future__ import annotations

import os

import pytest

from support.scratch_netns import run_helper, scratch_namespace


HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'sockdiag_live_helper.py')
# The directory that holds ansible_collections/, so that the helper imports the same code.

pytestmark = pytest.mark.root


@pytest.fixture(scope='module')
def live():
    with scratch_namespace('na-t-sd') as namespace:
        yield run_helper(namespace, HELPER, 'scenario')


def identity(row):
    return (row['netid'], row['state'], row['local_address'], row['local_port'], row['peer_address'],
            row['peer_port'], row['inode'])


def with_details(row):
    return identity(row) + (row['recv_q'], row['send_q'], row['interface'])


def test_dump_inet_lists_exactly_what_ss_lists(live):
    ours = sorted(identity(r) for r in live['root']['records'])
    theirs = sorted(identity(r) for r in live['ss'])
    assert ours == theirs
    assert len(ours) == len(live['expected'])


def test_module_gather_returns_what_ss_lists_with_the_same_owners(live):
    facts = live['module']
    ours = sorted(identity(r) for r in facts['sockets'])
    assert ours == sorted(identity(r) for r in live['ss'])
    owners = dict((r['inode'], set((p['name'], p['pid'], p['fd']) for p in r['processes'])) for r in facts['sockets'] if r['processes'])
    assert owners == dict((row['inode'], set(map(tuple, row['users']))) for row in live['ss'] if row['users'])
    assert facts['socket_meta']['count'] == len(ours)
    assert facts['socket_meta']['backend'] == 'netlink'


def test_queues_and_interfaces_match_ss(live):
    assert sorted(with_details(r) for r in live['root']['records']) == sorted(with_details(r) for r in live['ss'])


def test_records_match_the_sockets_that_were_opened(live):
    ours = dict((identity(r), r) for r in live['root']['records'])
    for want in live['expected']:
        got = ours[identity(want)]
        assert dict((key, got[key]) for key in want if key in got) == \
            dict((key, value) for key, value in want.items() if key in got)


def test_v6only_agrees_with_how_ss_draws_the_wildcard(live):
    # ss prints an IPv6 wildcard as '*' when the socket also takes IPv4, as '[::]' when it is v6only.
    ours = dict((r['inode'], r) for r in live['root']['records'])
    wildcards = [row for row in live['ss'] if row['local_address'] == '::']
    assert set(row['star'] for row in wildcards) == {True, False}
    for row in wildcards:
        assert ours[row['inode']]['v6only'] is (not row['star'])


def test_link_local_listener_carries_its_scope_device(live):
    if not live['has_ifb']:
        pytest.skip('the kernel has no ifb device, so no link-local address could be made')
    link_local = [r for r in live['root']['records'] if r['local_address'] == 'fe80::1']
    assert sorted((r['netid'], r['interface']) for r in link_local) == [('tcp', 'ifb0'), ('udp', 'ifb0')]


def test_owners_match_ss_users(live):
    ours = dict((int(inode), set(map(tuple, entries))) for inode, entries in live['root']['owners'].items())
    theirs = dict((row['inode'], set(map(tuple, row['users']))) for row in live['ss'] if row['users'])
    assert ours == theirs
    assert all(pid == live['helper_pid'] for owners in ours.values() for _name, pid, _fd in owners)
    assert 0 not in ours


def test_kernel_filter_bytecode(live):
    sport = live['root']['sport_20001']['records']
    wanted = [r for r in live['root']['records'] if r['netid'] == 'tcp' and r['family'] == 'inet'
              and r['local_port'] == 20001]
    assert sorted(identity(r) for r in sport) == sorted(identity(r) for r in wanted) and sport
    [marked] = live['root']['mark_42']['records']
    assert (marked['local_port'], marked['mark'], marked['interface']) == (20007, 42, 'lo')


def test_unprivileged_user_still_lists_the_sockets_but_not_their_owners(live):
    nobody = live['nobody']
    if 'skipped' in nobody:
        pytest.skip('cannot run as nobody: %s' % nobody['skipped'])
    assert 'failed' not in nobody, nobody.get('failed')
    assert nobody['euid'] != 0
    assert sorted(identity(r) for r in nobody['records']) == sorted(identity(r) for r in live['root']['records'])
    assert nobody['owners'] == {}
    assert any(p.startswith('not root:') and 'could not be read' in p for p in nobody['problems'])
    # Without CAP_NET_ADMIN the kernel sends no mark, and refuses a mark condition.
    assert set(r['mark'] for r in nobody['records']) == {None}
    assert nobody['mark_42']['errno'] == 1 and 'tcp/inet' in nobody['mark_42']['message']
    assert len(nobody['sport_20001']['records']) == len(live['root']['sport_20001']['records'])
