# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the one table vocabulary (_table_names.py), against the real ss, and the
answers it gives where the copies it replaced disagreed, through every consumer: socket_facts' gather, the filter
language (_ssfilter.ssfilter.parse), the controller filter (ss_filter) and the psutil backend."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.states import STATE_WORDS
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast
from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import STATE_NUMBERS, new_record
from support.scratch_netns import run_helper, scratch_namespace

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'table_names_live_helper.py')
NAMES = _table_names.known_names()
UNIX = ['unix_stream', 'unix_dgram', 'unix_seqpacket']


def bits(*names):
    mask = 0
    for name in names:
        mask |= 1 << STATE_NUMBERS[name]
    return mask


def record(netid, family='inet', state='UNCONN'):
    return new_record(netid=netid, state=state, family=family, local_address='0.0.0.0', local_port=0,
                      peer_address='0.0.0.0', peer_port=0)


# --- the vocabulary itself -------------------------------------------------------------------------------------

def test_every_name_leads_to_tables_that_have_a_netid_and_default_states():
    assert set(_table_names.NETIDS) == set(_table_names.DEFAULT_STATES) == set(_table_names.TABLES)
    assert set(_table_names.ALIASES.values()) <= set(_table_names.TABLES)
    assert all(set(members) <= set(_table_names.TABLES) for members in _table_names.GROUPS.values())
    assert _table_names.GROUPS['all'] == _table_names.TABLES
    assert not set(_table_names.UNREAD) & set(NAMES)


@pytest.mark.parametrize('names, tables, explicit', [
    (['tcp', 'udp'], ['udp', 'tcp'], {'tcp', 'udp'}),
    ('tcp', ['tcp'], {'tcp'}),
    (['u_str', 'unix'], UNIX, {'unix_stream'}),
    ([' P_RAW ', 'Netlink', 'v_dgr'], ['netlink', 'packet_raw', 'vsock_dgram'], {'netlink', 'packet_raw', 'vsock_dgram'}),
    (['inet'], ['raw', 'udp', 'tcp', 'dccp', 'sctp', 'mptcp'], set()),
    (['all', 'tcp'], list(_table_names.TABLES), {'tcp'}),
])
def test_resolve(names, tables, explicit):
    assert _table_names.resolve(names) == (tables, explicit)


@pytest.mark.parametrize('names, message', [
    (['tcp', 'bogus'], 'tables: unknown socket table "bogus"; expected one of all, dccp, inet, '),
    (['nl'], 'tables: unknown socket table "nl"; expected one of '),
    (['xdp'], 'tables: socket table "xdp" (AF_XDP sockets) is one ss knows but netaudit.sockets does not read; '
              'expected one of all, '),
    (['tipc'], 'tables: socket table "tipc" (TIPC sockets) is one ss knows but netaudit.sockets does not read; '),
    ([], 'tables: the list is empty; name at least one table (tcp, udp ...)'),
])
def test_resolve_errors(names, message):
    with pytest.raises(_table_names.TableError) as caught:
        _table_names.resolve(names)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


# --- against the real ss -------------------------------------------------------------------------------------

def run_ss(name):
    if not shutil.which('ss'):
        pytest.skip('needs the ss command')
    return subprocess.run(['ss', '-H', '-n', '-A', name], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)


@pytest.mark.parametrize('name', NAMES + sorted(_table_names.UNREAD))
def test_ss_takes_every_name_we_know(name):
    """Every table, alias and group is a name `ss -A` takes; so are the ones we refuse as unread (xdp, tipc)."""
    done = run_ss(name)
    assert done.returncode == 0 and 'illegal socket table' not in done.stderr, done.stderr


@pytest.mark.parametrize('name', ['nl', 'link', 'bogus', 'TCP'])
def test_ss_refuses_names_that_are_not_tables(name):
    """`nl` is a netid, not a table name (the psutil backend used to take it). ss takes lower case only; we take
    any case (docs/socket_facts.md), so TCP is ours alone."""
    done = run_ss(name)
    assert done.returncode != 0 and 'illegal socket table id' in done.stderr
    if name == 'TCP':
        assert _table_names.resolve([name])[0] == ['tcp']
    else:
        with pytest.raises(_table_names.TableError, match='unknown socket table'):
            _table_names.resolve([name])


LIVE_NAMES = ['all', 'inet', 'unix', 'packet', 'vsock', 'netlink', 'raw', 'udp', 'tcp', 'unix_stream', 'u_dgr',
              'u_seq', 'p_raw', 'p_dgr']


@pytest.fixture(scope='module')
def live():
    with scratch_namespace('tnames', 'it opens sockets of every table in a network namespace') as namespace:
        subprocess.run(['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up'], check=True)
        yield run_helper(namespace, HELPER, *LIVE_NAMES)


@pytest.mark.parametrize('name', LIVE_NAMES)
def test_each_name_lists_what_ss_lists(live, name):
    """socket_facts reads, for each name, the sockets `ss -A NAME` lists (netid and state, where ss prints them),
    with every state and with the default states ss falls back to (`exclude all`: DEFAULT_STATES). netlink counts
    differ by the reader's own socket, so those compare as sets."""
    found = live[name]
    for shown, ours in (('ss_all', 'ours_all'), ('ss_default', 'ours_default')):
        want, got = [tuple(pair) for pair in found[shown]], [tuple(pair) for pair in found[ours]]
        if name in ('p_raw', 'p_dgr'):
            # ss 6.1 lists every packet socket for either packet table (its packet dump does not look at the type);
            # the one we name is there, and only those of the type named are ours.
            assert len(want) == len(live['packet'][shown]) and len(got) == len(
                [pair for pair in live['packet'][ours] if pair[0] == _table_names.NETIDS[_table_names.ALIASES[name]]])
        elif 'netlink' in _table_names.resolve([name])[0]:
            assert set(got) == set(want), shown
        else:
            assert got == want, shown
    netids = set(pair[0] for pair in found['ss_all'] if pair[0] is not None)
    assert netids <= _table_names.netids(_table_names.resolve([name])[0])


def test_the_live_sockets_cover_the_tables(live):
    assert set(pair[0] for pair in live['all']['ss_all']) >= {'nl', 'p_raw', 'p_dgr', 'u_str', 'u_dgr', 'u_seq', 'raw',
                                                              'udp', 'tcp'}


# --- where the copies disagreed: one answer through every consumer -------------------------------------------------

def test_all_means_the_tables_socket_facts_reads_everywhere():
    """`all` was every table in socket_facts, and those plus `xdp` in the filter language and ss_filter (ss's `all`
    has xdp too): now it is TABLES everywhere, so ss_filter's `all` keeps no xdp record."""
    tables = list(_table_names.TABLES)
    assert 'xdp' not in tables
    assert _gather.resolve_tables(['all']) == tables
    assert list(ssfilter.parse('', tables=['all']).tables) == tables
    records = [record(netid) for netid in sorted(_table_names.NETIDS.values())] + [record('xdp', 'xdp')]
    assert _ssfilter_fast.ss_filter(records, '', tables=['all']) == records[:-1]
    netids, kinds, problems = _psutil_source.plan(['all'])
    assert (netids, kinds) == (['u_str', 'u_dgr', 'u_seq', 'udp', 'tcp'], ['all'])
    assert problems == ['tables netlink, packet_raw, packet_dgram, raw, dccp, sctp, vsock_stream, vsock_dgram, mptcp '
                        '(of all): psutil cannot list these sockets, so none are reported (the netlink and proc '
                        'backends read them on Linux)']


@pytest.mark.parametrize('name', sorted(_table_names.UNREAD) + ['nl'])
def test_a_name_socket_facts_refuses_is_refused_by_every_consumer(name):
    """tipc and xdp passed the filter language and ss_filter (as tables with no records) while socket_facts refused
    them; `nl` passed the psutil backend. Now each consumer refuses each one with the same message."""
    with pytest.raises(_table_names.TableError) as caught:
        _table_names.resolve([name])
    message = str(caught.value)
    with pytest.raises(_gather.GatherError) as gathered:
        _gather.gather(tables=[name], processes=False, summary=False)
    assert str(gathered.value) == message
    with pytest.raises(FilterError) as parsed:
        ssfilter.parse('sport = :22', tables=[name])
    assert str(parsed.value) == message
    with pytest.raises(PolicyError) as filtered:
        _ssfilter_fast.ss_filter([record('tcp')], 'sport = :22', tables=['tcp', name])
    assert str(filtered.value) == message
    with pytest.raises(_table_names.TableError) as planned:
        _psutil_source.plan(['tcp', name])
    assert str(planned.value) == message


def test_names_are_read_without_case_or_blanks_by_every_consumer():
    """socket_facts and ss_filter took `TCP`; the filter language refused it: now all take it."""
    assert _gather.resolve_tables([' TCP', 'U_Str']) == ['unix_stream', 'tcp']
    assert ssfilter.parse('', tables=[' TCP', 'U_Str']).tables == ('unix_stream', 'tcp')
    assert _ssfilter_fast.ss_filter([record('tcp'), record('udp')], '', tables=['TCP']) == [record('tcp')]
    assert _psutil_source.plan([' TCP', 'U_Str'])[:2] == (['tcp', 'u_str'], ['tcp', 'unix'])


def test_inet_names_what_psutil_cannot_list():
    """The psutil backend's `inet` was tcp and udp, silently; it is ss's inet, and says what psutil cannot list."""
    netids, kinds, problems = _psutil_source.plan(['inet'])
    assert (netids, kinds) == (['udp', 'tcp'], ['inet'])
    assert problems == ['tables raw, dccp, sctp, mptcp (of inet): psutil cannot list these sockets, so none are '
                        'reported (the netlink and proc backends read them on Linux)']


@pytest.mark.parametrize('tables', [(name,) for name in _table_names.TABLES] + [('all',), ('unix', 'udp')])
def test_default_states_are_the_vocabularys(tables):
    """The filter language's fallback states come from DEFAULT_STATES (checked against ss in the live test)."""
    resolved = _table_names.resolve(tables)[0]
    assert ssfilter.parse('exclude all', tables=tables).state_mask() == _table_names.default_states(resolved)


def test_default_states_as_ss_6_1_has_them():
    conn = _table_names.SS_CONN
    assert conn == STATE_WORDS['all'] & ~bits('LISTEN', 'UNCONN', 'TIME-WAIT', 'SYN-RECV')
    assert _table_names.default_states(['udp', 'raw']) == bits('ESTAB')
    assert _table_names.default_states(['unix_dgram', 'packet_raw', 'packet_dgram', 'netlink']) == bits('UNCONN')
    assert all(_table_names.DEFAULT_STATES[table] == conn
               for table in ('tcp', 'dccp', 'sctp', 'mptcp', 'unix_stream', 'unix_seqpacket', 'vsock_stream', 'vsock_dgram'))
