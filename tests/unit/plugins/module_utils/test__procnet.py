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

import os
import socket

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet import lost, reader
from support.procnet_trees import (CAPTURED, CAPTURED_EXPECTED, HAND, HAND_EXPECTED, LOST, MALFORMED, NOIPV6, as_proc_shows,
                                   as_ss_prints_inet, compare_rows, filters, inet_identity, needs_ss, public, ss_unix_state,
                                   sstext, table_of)

HERE = os.path.dirname(os.path.abspath(__file__))


def read(table, root):
    records, problems = reader.read_table(table, root)
    return records, problems


# --- the contract -----------------------------------------------------------------------------------------

def test_lost_fields_are_the_ones_the_kernel_formats_lack():
    assert dict((table, set(keys)) for table, keys in lost.LOST_FIELDS.items()) == LOST
    assert set(lost.LOST_FIELDS) == set(reader.TABLES)
    assert dict((table, set(reasons)) for table, reasons in lost.LOST_REASONS.items()) == LOST


def test_lost_reason_is_one_sentence_per_table():
    assert lost.lost_reason('packet') is None
    assert lost.lost_reason('netlink') == ('table netlink read from /proc: peer_address, peer_port are null, '
                                           'because /proc does not show the peer')
    assert lost.lost_reason('tcp').startswith(
        'table tcp read from /proc: interface, v6only, send_q, mark, cgroup_id, port_locked are null, because ')


def test_inet_records_have_the_netlink_readers_keys_in_order():
    with open(os.path.join(HERE, 'fixtures', 'sockdiag_tcp_inet.bin'), 'rb') as handle:
        netlink = inet.parse_inet_messages(handle.read(), 6)
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

@pytest.mark.parametrize('table', reader.TABLES)
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
    records = dict((table, read(table, CAPTURED)[0]) for table in reader.TABLES)
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


# --- hand-written trees (what they hold: HAND_EXPECTED, support/procnet_trees.py) ---------------------------

@pytest.mark.parametrize('table', reader.TABLES)
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
        reader.read_table('tcp', root)
    assert str(caught.value) == message


def test_unknown_table_and_file_raise():
    with pytest.raises(ValueError, match='unknown socket table "sctp"'):
        reader.read_table('sctp', CAPTURED)
    with pytest.raises(ValueError, match='unknown /proc/net socket file "tcp7"'):
        reader.parse_text('tcp7', '')


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
    # As the netlink reader writes them (_netlink.unix.unix_name_text), and as ss's bytes read back.
    assert [r['local_address'] for r in records] == ['/run/bytes-\\xff\\xfe.sock', '@na-pn-\\xff-seq'] and problems == []


def test_text_without_header_and_the_old_unix_layout():
    line = '   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n'
    records, problems = reader.parse_text('tcp', line)
    assert [(r['local_address'], r['local_port']) for r in records] == [('127.0.0.1', 22)] and problems == []
    records, problems = reader.parse_text('unix', 'Peer RefCount Protocol Flags Type St Inode Path\n')
    assert records == [] and 'Linux 2.4' in problems[0]
    assert reader.parse_text('netlink', '') == ([], [])


def test_address_words_in_host_order():
    # Each 32-bit word is the network-order address word printed as a host-order number.
    words = ''.join('%08X' % int.from_bytes(socket.inet_pton(socket.AF_INET6, '2001:db8::ffff:1')[i:i + 4],
                                            'little') for i in (0, 4, 8, 12))
    line = '0: %s:0050 %s:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1\n' % (words, '0' * 32)
    [record] = reader.parse_text('tcp6', line)[0]
    assert record['local_address'] == '2001:db8::ffff:1'
    # '::7f00:1' (IPv4-compatible) stays in hex groups, as the netlink reader writes it.
    [record] = reader.parse_text('udp6', '0: %s:0035 %s:0000 07 00000000:00000000 00:00000000 00000000 0 0 6 2\n'
                                 % ('00000000' * 3 + '0100007F', '0' * 32))[0]
    assert record['local_address'] == '::7f00:1'


# --- differential: ss reading the same trees ----------------------------------------------------------------

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
FILTERS, FAMILY_RULE = filters.FILTERS, filters.FAMILY_RULE


def ephemeral_range(root):
    with open(os.path.join(root, 'sys', 'net', 'ipv4', 'ip_local_port_range')) as handle:
        low, high = handle.read().split()
    return int(low), int(high)


def select(text, root=CAPTURED):
    records = read('tcp', root)[0] + read('udp', root)[0]
    flt = ssfilter.parse(text, tables=('tcp', 'udp'), ephemeral_range=ephemeral_range(root))
    return flt.select(records)


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
