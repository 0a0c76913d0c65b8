# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: _netlink.families (and dump_inet's other tables) against the real ss.

The test process stays in its own namespace: it makes `na-tb-...`, runs fixtures/sockdiag_other_live_helper.py
there with `ip netns exec` (which opens unix, packet, netlink, raw and mptcp sockets and reads them with our
code and with `ss -H -a -n` and each table's option), and deletes the namespace afterwards whatever happens.
The unix, link and netlink filters at the end run through ss and through _ssfilter on the same live sockets.
"""

from __future__ import annotations

import collections
import errno
import json
import os
import re

import pytest

from support.scratch_netns import run_helper, scratch_namespace


HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'sockdiag_other_live_helper.py')
# The directory that holds ansible_collections/, so that the helper imports the same code.
# What a kernel says when it has no sock_diag handler for a table.
MISSING_TABLE_ERRNOS = (errno.ENOENT, errno.EINVAL, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT)

pytestmark = pytest.mark.root

UNIX_FILTERS = [
    # src: case-insensitive fnmatch globs on the local name
    'src unix:/tmp/*', 'src unix:/TMP/*', 'src unix:{unix_directory}/*', 'src unix:{unix_directory}/*.sock',
    'src unix:{unix_directory}/*.SOCK', 'src unix:*stream*', 'src unix:*Stream.sock',
    'src = unix:{unix_directory}/api.sock', 'src unix:@*', 'src unix:@na-tb-*', 'src unix:@NA-TB-ABSTRACT',
    'src unix:@na@tb@nul', 'src unix:@na?tb?nul', 'src unix:@?????', 'src unix:{unix_auto}', 'src unix:',
    'src unix:*', 'src unix:?*', 'src unix:{unix_directory}/br[1].sock', 'src unix:{unix_directory}/br[[]1]*',
    'src unix:{unix_directory}/br\\\\\\[1\\\\\\].sock', 'src unix:{unix_directory}/[a-c]*',
    'src unix:{unix_directory}/[!a-c]*', 'src unix:{unix_directory}/[^a-c]*', 'src unix:{unix_directory}/*[',
    '! src unix:*',
    # dst: live ss never knows a peer's name, so only patterns that match "" select anything
    'dst unix:*', 'dst unix:', 'dst unix:{unix_directory}/*', 'dst unix:@*', 'dst unix:?*',
    'not dst unix:{unix_directory}/Stream.sock',
    # sport/dport compare inodes
    'sport = :{unix_listener}', 'sport = {unix_client}', 'dport = :{unix_served}', 'dport = :{unix_dgram_server}',
    'sport > {unix_listener}', 'sport < :{unix_listener}', 'sport >= {unix_listener} and sport <= {unix_served}',
    'dport = :0', 'dport != 0', 'dport > 0', 'dport ge 1', 'sport = :0',
    # autobound: unnamed, or '@' and five hex digits
    'autobound', 'not autobound', 'autobound and dport = 0', 'autobound or src unix:@na-tb-*',
    # states and logic
    'state listening', 'state connected', 'state established src unix:{unix_directory}/*', 'state unconnected',
    'exclude listening', 'state listening src unix:@*', 'src unix:{unix_directory}/* or src unix:@*',
    'not dport = 0 and src unix:{unix_directory}/*', 'dport > 0 and ( src unix:@* or src unix: )',
    'sport = :{unix_listener} src unix:{unix_directory}/Stream.sock',
    # conditions of other kinds, as ss evaluates them on a unix socket
    'dst 0.0.0.0', 'src 0.0.0.0', 'src 0.0.0.0/0', 'dev 0', 'dev lo', 'fwmark 0',
]
LINK_FILTERS = [
    'src link:ip', 'src link:IPv6', 'src link:all', 'src link:*', 'src link:*:lo', 'src link:ip:lo',
    'src link:arp:1', 'src link:0x88cc', 'src link:LLDP', 'src link:34997', 'src link:0', 'sport = link:1',
    'sport = :1', 'sport = 0', 'sport > 0', 'src link:arp or src link:ip', 'not src link:*:lo', 'dst link:0',
    'dst link:ip', 'dst link:*:0', 'autobound', 'not autobound', 'dev lo', 'dev 0',
]
NETLINK_FILTERS = [
    'src netlink:rtnl', 'src netlink:0', 'src netlink:usersock', 'src netlink:genl',
    'src netlink:uevent:{netlink_uevent}', 'src netlink::kernel', 'src netlink:*:0', 'src netlink:rtnl:{netlink_route}',
    'sport = netlink:{netlink_route}', 'sport = netlink:{netlink_negative}', 'sport = :{netlink_route}', 'autobound',
    'not autobound', 'sport < 0', 'dport < 0', 'dport = :0', 'dst netlink:rtnl', 'dst netlink:usersock',
    'src netlink:usersock or src netlink:genl', 'not src netlink::kernel', 'src 0.0.0.0', 'dev 0',
]
# A family prefix also makes ss read the later host and port words of the same filter in that family
# (filter_af_set sets preferred_family): after `src unix:...`, `dport = 0` is a glob on the peer name, not a port.
# These are some of the filters above in the other order, and what else a unix: prefix does to later words.
UNIX_FILTERS_AFTER_PREFIX = [
    'src unix:{unix_directory}/* and not dport = 0', '( src unix:@* or src unix: ) and dport > 0',
    'src unix:{unix_directory}/Stream.sock sport = :{unix_listener}', 'src unix:{unix_directory}/* and dport < 1',
    'src unix:* and dport = *', 'src unix:* and dport = :*', 'src unix:@* or sport = {unix_directory}/*',
    'src unix:* and dst *', 'src unix:* and src 0.0.0.0',
]
# In a port word ss drops one ':' after link:/netlink: (`sport = netlink::N`), `sport > link:N` compares with N, and
# after a link:/netlink: prefix the later words are link/netlink specs (`sport = lo`, `src rtnl`, `sport = kernel`).
OTHER_FILTERS_AFTER_PREFIX = [
    ('packet', 'sport = link::1'), ('netlink', 'sport = netlink::{netlink_route}'), ('packet', 'sport > link:0'),
    ('netlink', 'sport < netlink:1'), ('packet', 'sport > link:lo'), ('packet', 'sport <= link::0'),
    ('packet', 'sport > link:*'), ('packet', 'src link:* and sport = lo'), ('packet', 'src link:* and src ip'),
    ('packet', 'src link:*:lo and sport > 0'), ('netlink', 'sport > netlink::kernel'),
    ('netlink', 'src netlink:* and sport = kernel'), ('netlink', 'src netlink:* and src rtnl'),
    ('netlink', 'src netlink:rtnl and sport >= {netlink_route}'),
]
FILTERS = ([('unix', text) for text in UNIX_FILTERS] + [('packet', text) for text in LINK_FILTERS]
           + [('netlink', text) for text in NETLINK_FILTERS] + [('unix', text) for text in UNIX_FILTERS_AFTER_PREFIX]
           + OTHER_FILTERS_AFTER_PREFIX)
FILTER_CASES = [pytest.param(index, id='%s: %s' % case) for index, case in enumerate(FILTERS)]


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    with scratch_namespace('na-tb', 'it creates a network namespace and packet sockets') as namespace:
        path = str(tmp_path_factory.mktemp('sockdiag_other') / 'filters.json')
        with open(path, 'w') as handle:
            json.dump([{'table': table, 'filter': text} for table, text in FILTERS], handle)
        yield run_helper(namespace, HELPER, path)


# --- ss's text, parsed here (the helper only collects it) ------------------------------------------------

def ss_lines(done):
    assert done['rc'] == 0, done
    return [line for line in done['out'].splitlines() if line.strip() and not line.startswith('\t')]


def ss_unix(done):
    """`ss -x` rows: Netid State Recv-Q Send-Q NAME INODE PEER PEER-INODE (names have no blanks here)."""
    rows = []
    for line in ss_lines(done):
        fields = line.split()
        rows.append({'netid': fields[0], 'state': fields[1], 'recv_q': int(fields[2]), 'send_q': int(fields[3]),
                     'local_address': '' if fields[4] == '*' else fields[4], 'inode': int(fields[5]),
                     'peer_address': fields[6], 'peer_port': int(fields[7])})
    return rows


def ss_packet(done):
    """`ss -e -0` rows: Netid State Recv-Q Send-Q PROTO:DEVICE * ino:N sk:..."""
    rows = []
    for line in ss_lines(done):
        fields = line.split()
        protocol, device = fields[4].rsplit(':', 1)
        rows.append({'netid': fields[0], 'state': fields[1], 'recv_q': int(fields[2]), 'send_q': int(fields[3]),
                     'local_address': protocol, 'interface': None if device == '*' else device,
                     'peer': fields[5], 'inode': int(re.search(r'\bino:(\d+)', line).group(1))})
    return rows


def ss_netlink(done):
    """`ss -A netlink` rows (one table, so no Netid column): State Recv-Q Send-Q PROTO:PORTID PEER."""
    return [tuple(line.split()) for line in ss_lines(done)]


def split_inet(text):
    address, port = text.rsplit(':', 1)
    return address.strip('[]'), 0 if port == '*' else int(port)


def ss_inet(done, netid):
    """`ss -w` / `-M` ... rows of one table (no Netid column): State Recv-Q Send-Q LOCAL PEER."""
    rows = []
    for line in ss_lines(done):
        fields = line.split()
        local, peer = split_inet(fields[3]), split_inet(fields[4])
        rows.append((netid, fields[0], local[0], local[1], peer[0], peer[1]))
    return rows


def inet_identity(record):
    # ss prints an IPv6 wildcard that also takes IPv4 as '*'; the wildcard itself is what we compare.
    local = '*' if record['local_address'] == '::' and not record.get('v6only') else record['local_address']
    peer = '*' if record['peer_address'] in ('::', '0.0.0.0') and record['family'] == 'inet6' else record['peer_address']
    return (record['netid'], record['state'], local, record['local_port'], peer, record['peer_port'])


def netlink_text(record):
    local = '%s:%s' % (record['local_address'], '*' if record['local_port'] == -1 else record['local_port'])
    peer = '%s:%s' % (record['peer_address'], record['peer_port']) if record['peer_address'] else '*'
    return local, peer


def unstable_netlink(local):
    # The sock_diag sockets of whoever is dumping (ss, or our reader) come and go.
    return local.startswith('4:') and local != '4:0'


def records(live, table):
    result = live['ours'][table]
    assert 'records' in result, result
    return result['records']


def subset(record, keys):
    return dict((key, record[key]) for key in keys)


# --- unix ---------------------------------------------------------------------------------------------------

UNIX_KEYS = ('netid', 'state', 'local_address', 'inode', 'peer_port', 'recv_q', 'send_q')


@pytest.mark.parametrize('option', ['unix', 'unix_query'])
def test_unix_records_are_what_ss_lists(live, option):
    ours = sorted(tuple(subset(r, UNIX_KEYS).values()) for r in records(live, 'unix'))
    theirs = sorted(tuple(subset(r, UNIX_KEYS).values()) for r in ss_unix(live['ss'][option]))
    assert ours == theirs
    assert len(ours) == len([r for r in live['expected'] if r['family'] == 'unix'])


def test_unix_records_match_the_sockets_that_were_opened(live):
    ours = dict((r['inode'], r) for r in records(live, 'unix'))
    for want in (r for r in live['expected'] if r['family'] == 'unix'):
        got = ours[want['inode']]
        assert subset(got, want) == want


def test_unix_peer_names_ss_never_prints_are_resolved_from_the_dump(live):
    # ss over netlink prints '*' for every peer (it never resolves names; /proc/net/unix has no peer column
    # either): a difference we keep on purpose. The names we give are checked against the sockets above.
    assert set(row['peer_address'] for row in ss_unix(live['ss']['unix'])) == {'*'}
    ours = records(live, 'unix')
    assert {'/', '@'} <= set(r['peer_address'][:1] for r in ours)
    names = dict((r['inode'], r['local_address']) for r in ours)
    for record in ours:
        assert record['peer_address'] == (names.get(record['peer_port'], '') if record['peer_port'] else '')


def test_unix_states_are_filtered_by_the_kernel(live):
    listening = records(live, 'unix_listening')
    everything = records(live, 'unix')
    assert listening and set(r['state'] for r in listening) <= {'LISTEN', 'UNCONN'}
    wanted = [r['inode'] for r in everything if r['state'] in ('LISTEN', 'UNCONN')]
    assert sorted(r['inode'] for r in listening) == sorted(wanted)


# --- packet -------------------------------------------------------------------------------------------------

PACKET_KEYS = ('netid', 'state', 'local_address', 'interface', 'inode', 'recv_q', 'send_q')


def packet_identity(record):
    return tuple('*' if value is None else value for value in subset(record, PACKET_KEYS).values())


@pytest.mark.parametrize('option', ['packet', 'packet_query'])
def test_packet_records_are_what_ss_lists(live, option):
    ours = sorted(packet_identity(r) for r in records(live, 'packet'))
    rows = ss_packet(live['ss'][option])
    assert set(row['peer'] for row in rows) == {'*'}
    theirs = sorted(packet_identity(r) for r in rows)
    assert ours == theirs
    assert len(ours) == len([r for r in live['expected'] if r['family'] == 'link'])


def test_packet_records_match_the_sockets_that_were_opened(live):
    ours = dict((r['inode'], r) for r in records(live, 'packet'))
    expected = [r for r in live['expected'] if r['family'] == 'link']
    assert set(ours) == set(r['inode'] for r in expected)
    for want in expected:
        assert subset(ours[want['inode']], want) == want


# --- netlink ------------------------------------------------------------------------------------------------

def test_netlink_records_are_what_ss_lists(live):
    ours = [netlink_text(r) + (r['recv_q'], r['send_q']) for r in records(live, 'netlink')]
    theirs = [(row[3], row[4], int(row[1]), int(row[2])) for row in ss_netlink(live['ss']['netlink'])]
    assert set(row[0] for row in ss_netlink(live['ss']['netlink'])) == {'UNCONN'}
    ours = sorted(set(row for row in ours if not unstable_netlink(row[0])))
    assert ours == sorted(set(row for row in theirs if not unstable_netlink(row[0])))
    # The kernel lists a bound socket with multicast groups twice; ss prints both, we keep one.
    counts = collections.Counter(row[:2] for row in theirs)
    uevent = '15:%d' % live['facts']['netlink_uevent']
    assert counts[(uevent, '*')] in (1, 2)
    assert [netlink_text(r)[0] for r in records(live, 'netlink')].count(uevent) == 1


def test_netlink_records_match_the_sockets_that_were_opened(live):
    ours = dict((r['inode'], r) for r in records(live, 'netlink'))
    for want in (r for r in live['expected'] if r['family'] == 'netlink'):
        assert subset(ours[want['inode']], want) == want
    # The kernel's own sockets (portid 0) are listed too, with their inodes.
    assert any(r['local_port'] == 0 and r['local_address'] == '0' for r in ours.values())


# --- the inet tables read through dump_inet, and tables this kernel lacks -----------------------------------

@pytest.mark.parametrize('table', ['raw', 'sctp', 'mptcp', 'dccp'])
def test_inet_table_is_what_ss_lists_or_a_named_error(live, table):
    results = [live['ours']['%s/%s' % (table, family)] for family in ('inet', 'inet6')]
    missing = [result for result in results if 'errno' in result]
    if missing:
        for result in missing:
            assert result['type'] == 'SockDiagError'
            assert result['errno'] in MISSING_TABLE_ERRNOS, result
            assert ' %s/inet' % table in result['message'] and os.strerror(result['errno']) in result['message']
        return
    ours = [r for result in results for r in result['records']]
    if table == 'raw':
        # Over netlink ss names a raw socket by its protocol ('???' for ICMP, 'icmp6'); we say 'raw'.
        theirs = sorted(('raw',) + row[1:] for row in ss_inet(live['ss'][table], 'raw'))
    else:
        theirs = sorted(ss_inet(live['ss'][table], table))
    assert sorted(inet_identity(r) for r in ours) == theirs
    if table == 'mptcp':
        assert sorted(r['inode'] for r in ours) == sorted(r['inode'] for r in live['mptcp'])
        for want in live['mptcp']:
            got = [r for r in ours if r['inode'] == want['inode']][0]
            assert subset(got, want) == want
    if table == 'raw':
        assert sorted(r['inode'] for r in ours) == sorted(r['inode'] for r in live['raw'])


def test_raw_sockets_are_listed_by_ss_even_when_our_reader_cannot(live):
    # ss falls back to /proc/net/raw when the kernel has no raw_diag; our reader says the table is missing.
    rows = ss_inet(live['ss']['raw'], 'raw')
    assert sorted(row[3] for row in rows) == sorted(r['protocol'] for r in live['raw'])


def test_vsock_is_what_ss_lists_or_enoent(live):
    result = live['ours']['vsock']
    if 'errno' in result:
        assert result['errno'] == errno.ENOENT and 'vsock table' in result['message'], result
        assert live['ss']['vsock']['out'] == ''
        return
    assert len(result['records']) == len(ss_lines(live['ss']['vsock']))


# --- filters: _ssfilter on our records against ss on the same sockets ----------------------------------------

def filter_keys(table, records_or_text):
    if isinstance(records_or_text, str):
        if table == 'unix':
            return sorted(int(line.split()[-3]) for line in records_or_text.splitlines() if line.strip())
        if table == 'packet':
            return sorted(int(n) for n in re.findall(r'\bino:(\d+)', records_or_text))
        rows = [tuple(line.split()[-2:]) for line in records_or_text.splitlines() if line.strip()]
        return sorted(set(row for row in rows if not unstable_netlink(row[0])))
    if table in ('unix', 'packet'):
        return sorted(r['inode'] for r in records_or_text)
    return sorted(set(row for row in (netlink_text(r) for r in records_or_text) if not unstable_netlink(row[0])))


def test_enough_filters():
    assert len(UNIX_FILTERS) >= 40 and len(FILTER_CASES) == len(FILTERS)
    assert len(LINK_FILTERS) + len(NETLINK_FILTERS) >= 12


@pytest.mark.parametrize('index', FILTER_CASES)
def test_filter_agrees_with_ss(live, index):
    entry = live['filters'][index]
    assert 'parse_error' not in entry, entry['parse_error']
    assert entry['ss_rc'] == 0 and not entry['ss_err'], (entry['filter'], entry['ss_rc'], entry['ss_err'])
    ours, theirs = filter_keys(entry['table'], entry['ours']), filter_keys(entry['table'], entry['ss'])
    assert ours == theirs, '%s: only ours %s, only ss %s' % (
        entry['filter'], sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours)))


def test_filters_select_something_and_not_everything(live):
    # A differential test where every filter selects all or nothing would prove little.
    partial = 0
    for entry in live['filters']:
        total = len(records(live, entry['table']))
        if 0 < len(entry.get('ours', [])) < total:
            partial += 1
    assert partial >= len(FILTERS) // 2


# --- the module's gather path: tables: all ------------------------------------------------------------------

def module_records(live, family):
    return [r for r in live['module_all']['sockets'] if r['family'] == family]


def test_module_all_tables_unix_packet_netlink_are_what_ss_lists(live):
    ours = sorted(tuple(subset(r, UNIX_KEYS).values()) for r in module_records(live, 'unix'))
    assert ours == sorted(tuple(subset(r, UNIX_KEYS).values()) for r in ss_unix(live['ss']['unix']))
    ours = sorted(packet_identity(r) for r in module_records(live, 'link'))
    assert ours == sorted(packet_identity(r) for r in ss_packet(live['ss']['packet']))
    ours = sorted(set(netlink_text(r) for r in module_records(live, 'netlink') if not unstable_netlink(netlink_text(r)[0])))
    theirs = sorted(set((row[3], row[4]) for row in ss_netlink(live['ss']['netlink']) if not unstable_netlink(row[3])))
    assert ours == theirs


def test_module_all_tables_reads_raw_like_ss_and_names_missing_tables(live):
    meta = live['module_all']['socket_meta']
    raw = [r for r in live['module_all']['sockets'] if r['netid'] in ('raw', 'icmp6', '???')]
    assert sorted(r['inode'] for r in raw) == sorted(r['inode'] for r in live['raw'])
    missing = set(table for table in ('sctp', 'dccp', 'mptcp', 'vsock') if 'errno' in live['ours'].get(table + '/inet', live['ours'].get(table, {})))
    if 'errno' in live['ours']['raw/inet']:
        assert any(note.startswith('table raw: the kernel has no sock_diag support') for note in meta['notes'])
    for table in missing:
        assert [reason for reason in meta['incomplete_reasons'] if reason.startswith('table %s' % table)], (table, meta)
    assert meta['unsupported_tables'] == []
