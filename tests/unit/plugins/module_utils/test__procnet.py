# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the /proc/net reader, from captured and hand-written /proc trees.

fixtures/procnet/captured/ was copied from a namespace holding the sockets of fixtures/procnet/scenario.py (see
netns.py); its expected.json was written from those sockets. hand/, malformed/ and noipv6/ are written by hand.
The oracle is the real ss reading the same trees (PROC_ROOT=...), and its differences from us are listed here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import socket

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _procnet, _records, _sockdiag, _ssfilter

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'fixtures', 'procnet')
CAPTURED, HAND = os.path.join(FIXTURES, 'captured'), os.path.join(FIXTURES, 'hand')
MALFORMED, NOIPV6 = os.path.join(FIXTURES, 'malformed'), os.path.join(FIXTURES, 'noipv6')


def _load(name):
    spec = importlib.util.spec_from_file_location('procnet_fixture_' + name, os.path.join(FIXTURES, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sstext = _load('sstext')
needs_ss = pytest.mark.skipif(not sstext.available(), reason='needs the ss command')

# What /proc cannot give, from the kernel's /proc formats (tcp: only LISTEN sockets lose send_q, the backlog).
# An inet socket's mark, cgroup and port lock are in no /proc/net file.
KERNEL_ONLY = {'mark', 'cgroup_id', 'port_locked'}
LOST = {
    'tcp': {'interface', 'v6only', 'send_q'} | KERNEL_ONLY, 'udp': {'interface', 'v6only'} | KERNEL_ONLY,
    'raw': {'interface', 'v6only'} | KERNEL_ONLY,
    'unix': {'peer_address', 'peer_port', 'recv_q', 'send_q', 'uid', 'user'}, 'packet': set(),
    'netlink': {'peer_address', 'peer_port'},
}
FAMILIES = {'tcp': ('inet', 'inet6'), 'udp': ('inet', 'inet6'), 'raw': ('inet', 'inet6'), 'unix': ('unix',),
            'packet': ('link',), 'netlink': ('netlink',)}


def table_of(record):
    if record['family'] in ('inet', 'inet6'):
        return record['netid']
    return {'unix': 'unix', 'link': 'packet', 'netlink': 'netlink'}[record['family']]


def as_proc_shows(record):
    """A record with every value /proc loses set to None."""
    table = table_of(record)
    shown = dict(record)
    shown.setdefault('owner_unknown', None)     # expected.json predates the key; the reader leaves it None
    for key in LOST[table]:
        if key != 'send_q' or table != 'tcp' or record['state'] == 'LISTEN':
            shown[key] = None
    return shown


def public(record):
    return dict((key, value) for key, value in record.items() if not key.startswith('_'))


def user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def read(table, root):
    records, problems = _procnet.read_table(table, root)
    return records, problems


# --- the contract -----------------------------------------------------------------------------------------

def test_lost_fields_are_the_ones_the_kernel_formats_lack():
    assert dict((table, set(keys)) for table, keys in _procnet.LOST_FIELDS.items()) == LOST
    assert set(_procnet.LOST_FIELDS) == set(_procnet.TABLES)
    assert dict((table, set(reasons)) for table, reasons in _procnet.LOST_REASONS.items()) == LOST


def test_lost_reason_is_one_sentence_per_table():
    assert _procnet.lost_reason('packet') is None
    assert _procnet.lost_reason('netlink') == ('table netlink read from /proc: peer_address, peer_port are null, '
                                               'because /proc does not show the peer')
    assert _procnet.lost_reason('tcp').startswith(
        'table tcp read from /proc: interface, v6only, send_q, mark, cgroup_id, port_locked are null, because ')


def test_inet_records_have_the_netlink_readers_keys_in_order():
    with open(os.path.join(HERE, 'fixtures', 'sockdiag_tcp_inet.bin'), 'rb') as handle:
        netlink = _sockdiag.parse_inet_messages(handle.read(), 6)
    ours = read('tcp', CAPTURED)[0] + read('udp', CAPTURED)[0] + read('raw', CAPTURED)[0]
    assert netlink and ours
    assert set(tuple(record) for record in ours) == {tuple(netlink[0])}
    assert tuple(netlink[0])[:len(_records.FIELDS)] == _records.FIELDS


@pytest.mark.parametrize('table', ['unix', 'packet', 'netlink'])
def test_other_records_have_every_field_then_ifindex(table):
    records = read(table, CAPTURED)[0]
    assert records
    assert set(tuple(record) for record in records) == {_records.FIELDS + ('_ifindex',)}


# --- the captured tree: the sockets of scenario.py ----------------------------------------------------------

with open(os.path.join(CAPTURED, 'expected.json')) as _handle:
    CAPTURED_EXPECTED = json.load(_handle)


@pytest.mark.parametrize('table', _procnet.TABLES)
def test_captured_records_are_the_sockets_that_were_opened(table):
    records, problems = read(table, CAPTURED)
    assert problems == []
    ours = [public(record) for record in records]
    wanted = [as_proc_shows(record) for record in CAPTURED_EXPECTED if table_of(record) == table]
    assert wanted
    for record in wanted:
        assert record in ours, record
    if table not in ('netlink',):
        # The namespace held nothing else (the kernel's own netlink sockets aside).
        assert len(ours) == len(wanted)


def test_captured_covers_the_cases_that_matter():
    records = dict((table, read(table, CAPTURED)[0]) for table in _procnet.TABLES)
    tcp = records['tcp']
    assert {'LISTEN', 'ESTAB', 'TIME-WAIT', 'FIN-WAIT-2', 'CLOSE-WAIT'} <= set(r['state'] for r in tcp)
    assert any(r['local_address'] == '::ffff:127.0.0.1' for r in tcp)
    assert any(r['local_address'] == 'fe80::1' for r in tcp)
    assert any(r['send_q'] > 65536 for r in tcp if r['send_q'] is not None)
    assert any(r['uid'] == 65534 for r in tcp)
    names = set(r['local_address'] for r in records['unix'])
    assert {'@na-pn@abstract x', '@na-pn-seq', ''} <= names
    assert any(name.endswith('/listener with space') for name in names)
    assert sorted(r['local_port'] for r in records['netlink'] if r['local_port'] < 0) == [-4096]


# --- hand-written trees -------------------------------------------------------------------------------------

def inet(netid, state, local, lport, peer, pport, inode, recv_q=0, send_q=0, uid=0, family=None):
    return {
        'netid': netid, 'state': state, 'family': family or ('inet6' if ':' in local else 'inet'),
        'local_address': local, 'local_port': lport, 'peer_address': peer, 'peer_port': pport,
        'interface': None, 'v6only': None, 'recv_q': recv_q, 'send_q': send_q, 'inode': inode, 'uid': uid,
        'user': user(uid), 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': None, 'mark': None, 'cgroup_id': None,
        'port_locked': None,
    }


def unix(netid, state, name, inode):
    return {
        'netid': netid, 'state': state, 'family': 'unix', 'local_address': name, 'local_port': None,
        'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None, 'recv_q': None, 'send_q': None,
        'inode': inode, 'uid': None, 'user': None, 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': 0,
        'mark': None, 'cgroup_id': None, 'port_locked': None,
    }


def packet(netid, protocol, ifindex, interface, inode, recv_q=0, uid=0):
    return {
        'netid': netid, 'state': 'UNCONN', 'family': 'link', 'local_address': protocol, 'local_port': ifindex,
        'peer_address': '', 'peer_port': 0, 'interface': interface, 'v6only': None, 'recv_q': recv_q, 'send_q': 0,
        'inode': inode, 'uid': uid, 'user': user(uid), 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': ifindex,
        'mark': None, 'cgroup_id': None, 'port_locked': None,
    }


def netlink(protocol, portid, inode, recv_q=0, send_q=0):
    return {
        'netid': 'nl', 'state': 'UNCONN', 'family': 'netlink', 'local_address': protocol, 'local_port': portid,
        'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None, 'recv_q': recv_q,
        'send_q': send_q, 'inode': inode, 'uid': None, 'user': None, 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': 0,
        'mark': None, 'cgroup_id': None, 'port_locked': None,
    }


HAND_EXPECTED = {
    'tcp': [
        inet('tcp', 'LISTEN', '0.0.0.0', 22, '0.0.0.0', 0, 1001, recv_q=3, send_q=None),
        inet('tcp', 'ESTAB', '10.0.0.1', 22, '192.0.2.7', 51000, 1002, recv_q=0x20, send_q=0x10, uid=1000),
        inet('tcp', 'TIME-WAIT', '10.0.0.1', 22, '192.0.2.8', 51001, 0),
        # A request socket: /proc shows the listener's uid (the netlink diag shows 0).
        inet('tcp', 'SYN-RECV', '10.0.0.1', 22, '192.0.2.9', 51002, 0, uid=1000),
        inet('tcp', 'LISTEN', '127.0.0.53', 53, '0.0.0.0', 0, 1003, send_q=None, uid=101),
        inet('tcp', 'LISTEN', '::', 443, '::', 0, 2001, send_q=None),
        inet('tcp', 'ESTAB', '::ffff:10.0.0.1', 443, '::ffff:192.0.2.10', 50000, 2002, uid=33),
        inet('tcp', 'LISTEN', 'fe80::1', 22, '::', 0, 2003, send_q=None),     # the scope (interface) is not in /proc
        inet('tcp', 'ESTAB', 'fe80::1', 22, 'fe80::2', 40000, 2004),
        inet('tcp', 'CLOSE-WAIT', '2001:db8::1', 8080, '2001:db8::2', 50000, 2005, recv_q=1, uid=1000),
        inet('tcp', 'TIME-WAIT', '::1', 8080, '::1', 50001, 0),
    ],
    'udp': [
        inet('udp', 'UNCONN', '127.0.0.53', 53, '0.0.0.0', 0, 3001, recv_q=768, uid=101),
        inet('udp', 'ESTAB', '10.0.0.1', 5353, '192.0.2.7', 123, 3002, send_q=832),
        inet('udp', 'UNCONN', '::', 5353, '::', 0, 4001),
        inet('udp', 'UNCONN', 'fe80::1', 546, '::', 0, 4002),
    ],
    'raw': [
        inet('raw', 'UNCONN', '0.0.0.0', 1, '0.0.0.0', 0, 5001),
        inet('raw', 'UNCONN', '::', 58, '::', 0, 6001, uid=108),
    ],
    'unix': [
        unix('u_str', 'LISTEN', '/run/with space.sock', 7001),
        unix('u_str', 'LISTEN', '@foo@bar', 7002),           # the kernel writes every NUL of a name as '@'
        unix('u_str', 'ESTAB', '', 7003),
        # (an inode-0 connection waiting in @foo@bar's queue is left out, as the netlink diag leaves it out)
        unix('u_dgr', 'UNCONN', '/run/ünï côde.sock', 7004),
        unix('u_dgr', 'ESTAB', '', 7005),
        unix('u_seq', 'LISTEN', '@seq', 7006),
        unix('u_str', 'UNCONN', '', 7007),                   # St 4 (no file, not established): CLOSE
        unix('u_dgr', 'UNCONN', '@0001f', 7008),
    ],
    'packet': [
        packet('p_raw', '*', 1, 'lo', 8001),                 # named by the tree's net/igmp
        packet('p_dgr', '[2048]', 0, None, 8002, recv_q=2304, uid=1000),
        packet('p_raw', '[34525]', 7, 'eth7', 8003),         # named by the tree's net/if_inet6
        packet('p_raw', '[35020]', 9, 'if9', 8004),          # named nowhere: ss's spelling
        packet('p_dgr', '*', 0, None, 8005),                 # SOCK_PACKET: ss calls every non-raw type p_dgr
    ],
    'netlink': [
        netlink('0', 0, 9001), netlink('0', 1234, 9002),
        netlink('16', -4096, 9003, recv_q=4352),             # port ids print as signed numbers
        netlink('4', -2147483648, 9004, send_q=768),
    ],
}


@pytest.mark.parametrize('table', _procnet.TABLES)
def test_hand_written_tree(table):
    records, problems = read(table, HAND)
    assert records == HAND_EXPECTED[table]
    if table == 'packet':
        assert problems == ['%s: no interface with index 9 is named there; it is shown as "if9"'
                            % os.path.join(HAND, 'net')]
    else:
        assert problems == []


def test_malformed_lines_are_skipped_and_named():
    records, problems = read('tcp', MALFORMED)
    assert [(r['local_port'], r['inode']) for r in records] == [(22, 1001), (23, 1004), (443, 2001)]
    tcp, tcp6 = os.path.join(MALFORMED, 'net', 'tcp'), os.path.join(MALFORMED, 'net', 'tcp6')
    assert [p.split(': malformed')[0] for p in problems] == [
        tcp + ' line 3', tcp + ' line 4', tcp + ' line 5', tcp6 + ' line 3']
    assert "'   1: 0100000A:0016 070200C0'" in problems[0]
    # unix: a line that is not a record continues the socket name above it (a name may hold newlines), so lines 3
    # and 4 are the rest of 7001's name, not malformed lines.
    records, problems = read('unix', MALFORMED)
    assert [(r['inode'], r['local_address']) for r in records] == [
        (7001, '/run/a.sock\n0000000000000000: 00000002 00000000 00010000 0001\nthis is not a unix socket line'),
        (7002, records[1]['local_address'])]
    assert not [p for p in problems if ': malformed, skipped' in p]
    for table, kept, bad in (('packet', [8001], [3]), ('netlink', [9001], [3])):
        records, problems = read(table, MALFORMED)
        assert [r['inode'] for r in records] == kept
        source = os.path.join(MALFORMED, 'net', table)
        assert ['%s line %d' % (source, number) for number in bad] == \
            [p.split(': malformed')[0] for p in problems if ': malformed, skipped' in p]


def test_many_malformed_lines_are_counted_not_listed(tmp_path):
    (tmp_path / 'net').mkdir()
    lines = ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode']
    lines += ['%4d: garbage' % number for number in range(20)]
    (tmp_path / 'net' / 'tcp').write_text('\n'.join(lines) + '\n')
    records, problems = read('tcp', str(tmp_path))
    assert records == []
    assert len([p for p in problems if ': malformed, skipped' in p]) == 5
    assert '%s: 15 more malformed lines skipped' % (tmp_path / 'net' / 'tcp') in problems


def test_missing_files_are_problems_not_errors():
    records, problems = read('tcp', NOIPV6)
    assert [r['inode'] for r in records] == [1001]
    assert problems == ['%s is missing: the kernel has no IPv6, so no IPv6 TCP sockets were read'
                        % os.path.join(NOIPV6, 'net', 'tcp6')]
    for table in ('unix', 'packet', 'netlink'):
        records, problems = read(table, NOIPV6)
        assert records == [] and len(problems) == 1 and 'is missing' in problems[0]


def test_unreadable_file_is_a_problem(tmp_path):
    (tmp_path / 'net' / 'udp').mkdir(parents=True)     # a directory where the file should be
    records, problems = read('udp', str(tmp_path))
    assert records == []
    assert problems[0].startswith('cannot read %s: ' % (tmp_path / 'net' / 'udp'))


@pytest.mark.parametrize('root, message', [
    ('/nonexistent/proc', 'proc_root "/nonexistent/proc" does not exist'),
    (__file__, 'proc_root "%s" is a regular file, not a directory' % __file__),
    (HERE, 'proc_root "%s" has no usable net/ directory (%s/net does not exist), so it is not a /proc tree' % (HERE, HERE)),
    ('', "proc_root: expected the path of a /proc tree, got ''"),
])
def test_unusable_proc_root_raises(root, message):
    with pytest.raises(ValueError) as caught:
        _procnet.read_table('tcp', root)
    assert str(caught.value) == message


def test_unknown_table_and_file_raise():
    with pytest.raises(ValueError, match='unknown socket table "sctp"'):
        _procnet.read_table('sctp', CAPTURED)
    with pytest.raises(ValueError, match='unknown /proc/net socket file "tcp7"'):
        _procnet.parse_text('tcp7', '')


def test_unix_names_that_are_not_utf8_keep_their_bytes_as_escapes(tmp_path):
    (tmp_path / 'net').mkdir()
    (tmp_path / 'net' / 'unix').write_bytes(
        b'Num       RefCount Protocol Flags    Type St Inode Path\n'
        b'0000000000000000: 00000002 00000000 00010000 0001 01  7001 /run/bytes-\xff\xfe.sock\n'
        b'0000000000000000: 00000002 00000000 00010000 0005 01  7002 @na-pn-\xff-seq\n')
    (tmp_path / 'net' / 'protocols').write_text(
        'protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re bi br ha uh gp em\n'
        'UNIX      1152      2      -1   NI       0   yes  kernel      y  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n\n')
    records, problems = read('unix', str(tmp_path))
    # As the netlink reader writes them (_sockdiag_other.unix_name_text), and as ss's bytes read back.
    assert [r['local_address'] for r in records] == ['/run/bytes-\\xff\\xfe.sock', '@na-pn-\\xff-seq'] and problems == []


def test_text_without_header_and_the_old_unix_layout():
    line = '   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n'
    records, problems = _procnet.parse_text('tcp', line)
    assert [(r['local_address'], r['local_port']) for r in records] == [('127.0.0.1', 22)] and problems == []
    records, problems = _procnet.parse_text('unix', 'Peer RefCount Protocol Flags Type St Inode Path\n')
    assert records == [] and 'Linux 2.4' in problems[0]
    assert _procnet.parse_text('netlink', '') == ([], [])


def test_address_words_in_host_order():
    # Each 32-bit word is the network-order address word printed as a host-order number.
    words = ''.join('%08X' % int.from_bytes(socket.inet_pton(socket.AF_INET6, '2001:db8::ffff:1')[i:i + 4],
                                            'little') for i in (0, 4, 8, 12))
    line = '0: %s:0050 %s:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1\n' % (words, '0' * 32)
    [record] = _procnet.parse_text('tcp6', line)[0]
    assert record['local_address'] == '2001:db8::ffff:1'
    # '::7f00:1' (IPv4-compatible) stays in hex groups, as the netlink reader writes it.
    [record] = _procnet.parse_text('udp6', '0: %s:0035 %s:0000 07 00000000:00000000 00:00000000 00000000 0 0 6 2\n'
                                   % ('00000000' * 3 + '0100007F', '0' * 32))[0]
    assert record['local_address'] == '::7f00:1'


# --- differential: ss reading the same trees ----------------------------------------------------------------

def inet_identity(row):
    return (row['netid'], row['state'], row['local_address'], row['local_port'], row['peer_address'], row['peer_port'])


def as_ss_prints_inet(record):
    """What ss's /proc path prints for one of our records: a tcp LISTEN socket's Send-Q as 0 (/proc's tx_queue)."""
    return inet_identity(record) + (record['recv_q'], record['send_q'] or 0)


@needs_ss
@pytest.mark.parametrize('root', [CAPTURED, HAND, NOIPV6])
@pytest.mark.parametrize('table, flag', [('tcp', '-t'), ('udp', '-u'), ('raw', '-w')])
def test_inet_tables_match_ss_reading_the_same_tree(root, table, flag):
    records = read(table, root)[0]
    rows = sstext.inet_rows(sstext.run(root, '-H', '-a', '-n', '-e', flag))
    for row in rows:
        row['netid'] = table                  # one table shown: ss hides the Netid column
    assert sorted(inet_identity(r) + (r['recv_q'], r['send_q']) for r in rows) == \
        sorted(as_ss_prints_inet(r) for r in records)
    if table == 'tcp':
        # ss -e shows tcp inodes and uids (from /proc too).
        assert sorted((r['local_port'], r['peer_port'], r['inode'], r['uid']) for r in rows) == \
            sorted((r['local_port'], r['peer_port'], r['inode'], r['uid']) for r in records)


def ss_unix_state(row):
    """The state ss's /proc path prints, as we would write it; None where it cannot be told (see below)."""
    if row['state'] == 'CLOSING':
        return 'UNCONN'
    return None if row['netid'] == 'u_dgr' else row['state']


@needs_ss
@pytest.mark.parametrize('root', [CAPTURED, HAND])
def test_unix_table_matches_ss_reading_the_same_tree(root):
    records = read('unix', root)[0]
    rows = sstext.unix_rows(sstext.run(root, '-H', '-a', '-n', '-x'))
    # ss's /proc path (1) lists connections not accepted yet (inode 0) as SYN-SENT: the netlink diag and we
    # leave them out; (2) calls St 4 CLOSING, where the kernel's state is CLOSE (UNCONN); (3) takes the first
    # column (the socket's address) for a peer before it looks at the layout, so every unconnected dgram socket
    # with a non-zero address shows as ESTAB; (4) reads the path with scanf's %s, so a name ends at its first
    # blank; (5) prints queues and the peer as 0 and `*`, which /proc does not have.
    theirs = sorted((r['netid'], ss_unix_state(r), r['local_address'], r['inode']) for r in rows if r['inode'])
    ours = sorted((r['netid'], None if r['netid'] == 'u_dgr' else r['state'], r['local_address'].split(' ')[0],
                   r['inode']) for r in records)
    assert theirs == ours
    assert any(r['inode'] == 0 and r['state'] == 'SYN-SENT' for r in rows)
    assert set((r['recv_q'], r['send_q'], r['peer_address'], r['peer_port']) for r in rows) == {(0, 0, '*', 0)}
    if root == CAPTURED:
        unconnected = set(r['inode'] for r in records if r['netid'] == 'u_dgr' and r['state'] == 'UNCONN')
        assert unconnected and set(r['state'] for r in rows if r['inode'] in unconnected) == {'ESTAB'}


@needs_ss
@pytest.mark.parametrize('root', [CAPTURED, HAND])
def test_packet_table_matches_ss_reading_the_same_tree(root):
    records = read('packet', root)[0]
    rows = sstext.packet_rows(sstext.run(root, '-H', '-a', '-n', '-e', '-0'))
    # ss names devices from the namespace it runs in; we name them from the tree: compare indexes.
    assert sorted((r['netid'], r['local_address'], r['local_port'], r['recv_q'], r['send_q'], r['inode'], r['uid'])
                  for r in rows) == \
        sorted((r['netid'], r['local_address'], r['local_port'], r['recv_q'], r['send_q'], r['inode'], r['uid'])
               for r in records)


@needs_ss
@pytest.mark.parametrize('root', [CAPTURED, HAND])
def test_netlink_table_matches_ss_reading_the_same_tree(root):
    records = read('netlink', root)[0]
    rows = sstext.netlink_rows(sstext.run(root, '-H', '-a', '-n', '-f', 'netlink'))
    assert sorted((r['local_address'], r['local_port'], r['recv_q'], r['send_q']) for r in rows) == \
        sorted((r['local_address'], r['local_port'], r['recv_q'], r['send_q']) for r in records)
    assert set(r['peer'] for r in rows) == {'*'}        # ss's /proc path never knows a peer either


def test_ss_stops_at_a_malformed_tcp_line_we_skip_only_that_line():
    if not sstext.available():
        pytest.skip('needs the ss command')
    rows = sstext.inet_rows(sstext.run(MALFORMED, '-H', '-a', '-n', '-t', '-4'))
    assert [r['local_port'] for r in rows] == [22]
    assert [r['local_port'] for r in read('tcp', MALFORMED)[0] if r['family'] == 'inet'] == [22, 23]


# --- differential: filters ----------------------------------------------------------------------------------

# The filters, and why some of them must be compared with a live ss instead (fixtures/procnet/filters.py).
filters = _load('filters')
FILTERS, FAMILY_RULE = filters.FILTERS, filters.FAMILY_RULE


def ephemeral_range(root):
    with open(os.path.join(root, 'sys', 'net', 'ipv4', 'ip_local_port_range')) as handle:
        low, high = handle.read().split()
    return int(low), int(high)


def select(text, root=CAPTURED):
    records = read('tcp', root)[0] + read('udp', root)[0]
    flt = _ssfilter.parse(text, tables=('tcp', 'udp'), ephemeral_range=ephemeral_range(root))
    return flt.select(records)


def compare_rows(rows, records):
    """Sorted identities of ss rows and of records; the State column is hidden when one state is selected."""
    with_state = all(row['state'] is not None for row in rows)
    theirs = sorted(inet_identity(row)[:1] + inet_identity(row)[(1 if with_state else 2):] for row in rows)
    ours = sorted(inet_identity(record)[:1] + inet_identity(record)[(1 if with_state else 2):] for record in records)
    return theirs, ours


@needs_ss
@pytest.mark.parametrize('text', FILTERS)
def test_filter_selects_what_ss_selects_from_the_same_tree(text):
    rows = sstext.inet_rows(sstext.run(CAPTURED, '-H', '-a', '-n', '-t', '-u', *text.split()))
    theirs, ours = compare_rows(rows, select(text))
    assert theirs == ours


def test_the_filters_are_not_trivial():
    sizes = [len(select(text)) for text in FILTERS]
    everything = len(select(''))
    assert sum(1 for size in sizes if 0 < size < everything) >= 35


@needs_ss
@pytest.mark.parametrize('text', FAMILY_RULE)
def test_family_rule_filters_differ_from_ss_proc_path_as_documented(text):
    rows = sstext.inet_rows(sstext.run(CAPTURED, '-H', '-a', '-n', '-t', '-u', *text.split()))
    theirs, ours = compare_rows(rows, select(text))
    # ss's /proc path returns what a live ss returns, plus sockets of the other family.
    assert set(ours) < set(theirs)
