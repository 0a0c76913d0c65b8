# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the unix/packet/netlink/vsock readers, from captured dumps and hand-built messages."""

from __future__ import annotations

import errno
import os
import socket
import struct

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet, transport
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.families import (
    dump_netlink,
    dump_packet,
    dump_unix,
    dump_vsock,
    parse_messages,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.netlink import netlink_request
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.packet import packet_request
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.unix import UnixParser, unix_name_text, unix_request
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.vsock import vsock_request
from ansible_collections.netaudit.sockets.plugins.module_utils._records import FIELDS
from support.fake_netlink import DONE, ScriptedNetlink, captured_dumps, error_msg, needs_sock_diag, nlmsg, rtattr

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
SEQ = transport.SEQ
AF_UNIX, AF_NETLINK, AF_PACKET, AF_VSOCK = 1, 16, 17, 40

EXPECTED, read_fixture, captured_interface = captured_dumps(FIXTURES, 'sockdiag_other_expected.json')


def parse_fixture(filename, spec):
    data = read_fixture(filename)
    if 'protocol' in spec:
        return inet.parse_inet_messages(data, spec['protocol'], interface_name=captured_interface)
    return parse_messages(data, spec['family'], interface_name=captured_interface)


# ---- captured dumps: records compared with what the sockets said about themselves ----

@pytest.mark.parametrize('filename', sorted(EXPECTED['dumps']))
def test_captured_dump_matches_the_sockets_that_were_opened(filename):
    spec = EXPECTED['dumps'][filename]
    records = parse_fixture(filename, spec)
    by_inode = dict((record['inode'], record) for record in records)
    for want in spec['records']:
        got = by_inode[want['inode']]
        assert dict((key, got[key]) for key in want) == want
    ours = set(want['inode'] for want in spec['records'])
    others = [record for record in records if record['inode'] not in ours]
    if spec['family'] == AF_NETLINK:
        # Besides ours: the kernel's sockets (portid 0) and the capturing process's sock_diag socket.
        assert others and all(r['local_port'] == 0 or r['local_address'] == '4' for r in others)
    else:
        assert others == []


@pytest.mark.parametrize('filename', sorted(name for name, spec in EXPECTED['dumps'].items() if 'protocol' not in spec))
def test_records_carry_every_field_in_order_then_the_private_key(filename):
    records = parse_fixture(filename, EXPECTED['dumps'][filename])
    assert records
    for record in records:
        assert tuple(record) == FIELDS + ('_ifindex',)
    assert len(set(id(record['processes']) for record in records)) == len(records)


def test_captured_dumps_cover_each_family_type_and_name_form():
    unix = EXPECTED['dumps']['sockdiag_other_unix.bin']['records']
    assert set(r['netid'] for r in unix) == {'u_str', 'u_dgr', 'u_seq'}
    assert set(r['state'] for r in unix) == {'LISTEN', 'ESTAB', 'UNCONN'}
    names = [r['local_address'] for r in unix]
    assert '' in names and any(n.startswith('/') for n in names) and '@na@tb@nul' in names
    assert any(n.startswith('@') and len(n) == 6 for n in names)
    assert any(r['peer_address'].startswith('/') for r in unix) and any(r['peer_address'].startswith('@') for r in unix)
    packet = EXPECTED['dumps']['sockdiag_other_packet.bin']['records']
    assert {'p_raw', 'p_dgr'} == set(r['netid'] for r in packet) and '*' in [r['local_address'] for r in packet]
    netlink = EXPECTED['dumps']['sockdiag_other_netlink.bin']['records']
    assert len(set(r['local_address'] for r in netlink)) >= 4 and any(r['local_port'] < 0 for r in netlink)
    assert any(r['peer_address'] for r in netlink)


def test_captured_unix_peers_resolve_within_the_dump():
    records = parse_fixture('sockdiag_other_unix.bin', EXPECTED['dumps']['sockdiag_other_unix.bin'])
    names = dict((r['inode'], r['local_address']) for r in records)
    for record in records:
        assert record['peer_address'] == (names.get(record['peer_port'], '') if record['peer_port'] else '')


@pytest.mark.parametrize('filename', sorted(EXPECTED['errors']))
def test_captured_error_replies_raise_with_their_errno(filename):
    spec = EXPECTED['errors'][filename]
    with pytest.raises(transport.SockDiagError) as caught:
        if spec['family'] in (socket.AF_INET, socket.AF_INET6):
            inet.parse_inet_messages(read_fixture(filename), 255)
        else:
            parse_messages(read_fixture(filename), spec['family'])
    assert caught.value.errno == spec['errno']


# ---- hand-built messages ----

def unix_msg(inode, kind=1, state=10, name=None, peer=None, queues=None, uid=None, seq=1, attrs=b''):
    body = struct.pack('=BBBxI', AF_UNIX, kind, state, inode) + b'\xff' * 8
    if name is not None:
        body += rtattr(0, name)
    if peer is not None:
        body += rtattr(2, struct.pack('=I', peer))
    if queues is not None:
        body += rtattr(4, struct.pack('=II', *queues))
    if uid is not None:
        body += rtattr(7, struct.pack('=I', uid))
    return nlmsg(20, body + attrs, seq)


def packet_msg(inode, kind=3, number=0x0800, ifindex=None, rmem=None, uid=None, seq=1):
    body = struct.pack('=BBHI', AF_PACKET, kind, number, inode) + b'\xff' * 8
    if ifindex is not None:
        body += rtattr(0, struct.pack('=IIIIII', ifindex, 2, 0, 0, 0, 1))
    if rmem is not None:
        body += rtattr(6, struct.pack('=9I', rmem, 212992, 7, 212992, 0, 0, 0, 0, 0))
    if uid is not None:
        body += rtattr(5, struct.pack('=I', uid))
    return nlmsg(20, body, seq)


def netlink_msg(inode, protocol=0, portid=0, state=0, dst_portid=0, dst_group=0, memory=None, seq=1):
    body = struct.pack('=BBBBIIII', AF_NETLINK, 3, protocol, state, portid, dst_portid, dst_group, inode) + b'\xff' * 8
    if memory is not None:
        body += rtattr(0, struct.pack('=9I', memory[0], 1, memory[1], 1, 0, 0, 0, 0, 0))
    return nlmsg(20, body, seq)


def vsock_msg(inode, kind=1, state=10, src=(2, 1234), dst=(0xffffffff, 0xffffffff), seq=1):
    body = struct.pack('=BBBBIIIII', AF_VSOCK, kind, state, 0, src[0], src[1], dst[0], dst[1], inode) + b'\xff' * 8
    return nlmsg(20, body, seq)


@pytest.mark.parametrize('raw, text', [
    (b'/run/a.sock\0', '/run/a.sock'),
    (b'/run/a.sock', '/run/a.sock'),
    (b'/run/a\0junk', '/run/a'),
    (b'\0abstract', '@abstract'),
    (b'\0a\0b\0', '@a@b@'),
    (b'\0', '@'),
    (b'/tmp/caf\xc3\xa9', '/tmp/caf\u00e9'),
    (b'/tmp/\xff', '/tmp/\\xff'),
])
def test_unix_names_as_ss_prints_them(raw, text):
    assert unix_name_text(raw) == text
    [record] = parse_messages(unix_msg(5, name=raw) + DONE, AF_UNIX)
    assert record['local_address'] == text


def test_unix_record_fields():
    data = (unix_msg(10, kind=1, state=10, name=b'/l\0', queues=(2, 64), uid=1000)
            + unix_msg(11, kind=1, state=1, peer=12, queues=(0, 768))
            + unix_msg(12, kind=1, state=1, name=b'/l\0', peer=11, queues=(5, 0))
            + unix_msg(13, kind=2, state=7, name=b'\x0012abf')
            + unix_msg(14, kind=5, state=1, peer=99)
            + unix_msg(15, kind=4, state=7) + DONE)
    users = {1000: 'alice'}
    records = parse_messages(data, AF_UNIX, user_name=users.get)
    listener, client, served, auto, orphan, other = records
    assert (listener['netid'], listener['state'], listener['local_address'], listener['recv_q'], listener['send_q'],
            listener['uid'], listener['user'], listener['local_port'], listener['peer_port']) == (
        'u_str', 'LISTEN', '/l', 2, 64, 1000, 'alice', None, 0)
    assert (client['local_address'], client['peer_address'], client['peer_port'], client['send_q']) == ('', '/l', 12, 768)
    assert (served['peer_address'], served['peer_port'], served['recv_q']) == ('', 11, 5)
    assert (auto['netid'], auto['state'], auto['local_address']) == ('u_dgr', 'UNCONN', '@12abf')
    # A peer that is not in the dump (other states, or gone) has no name.
    assert (orphan['netid'], orphan['peer_address'], orphan['peer_port']) == ('u_seq', '', 99)
    # Without RQLEN or UID attributes: queues 0, uid and user null; an unknown type prints as u_dgr.
    assert (other['netid'], other['recv_q'], other['send_q'], other['uid'], other['user']) == ('u_dgr', 0, 0, None, None)
    assert all(r['family'] == 'unix' and r['interface'] is None and r['_ifindex'] == 0 for r in records)


def test_packet_record_fields():
    data = (packet_msg(1, kind=3, number=3, rmem=0, uid=0)
            + packet_msg(2, kind=2, number=0x0800, ifindex=7, rmem=2304, uid=1000)
            + packet_msg(3, kind=3, number=0, ifindex=0)
            + packet_msg(4, kind=3, number=0x88b5, ifindex=99) + DONE)
    names = {7: 'veth0'}
    records = parse_messages(data, AF_PACKET, interface_name=names.get, user_name={0: 'root'}.get)
    every, dgram, zero, unnamed = records
    assert [(r['netid'], r['state'], r['family'], r['local_address'], r['local_port'], r['interface'], r['_ifindex'])
            for r in records] == [('p_raw', 'UNCONN', 'link', '*', 0, None, 0), ('p_dgr', 'UNCONN', 'link', '[2048]', 7, 'veth0', 7),
                                  ('p_raw', 'UNCONN', 'link', '[0]', 0, None, 0), ('p_raw', 'UNCONN', 'link', '[34997]', 99, None, 99)]
    assert (every['uid'], every['user'], dgram['recv_q'], dgram['send_q'], dgram['uid']) == (0, 'root', 2304, 0, 1000)
    assert all((r['peer_address'], r['peer_port']) == ('', 0) for r in records)
    assert (zero['uid'], zero['recv_q'], unnamed['interface']) == (None, 0, None)


def test_packet_default_interface_names_come_from_this_host():
    [record] = parse_messages(packet_msg(1, ifindex=1) + DONE, AF_PACKET)
    assert record['interface'] == socket.if_indextoname(1)


def test_netlink_record_fields_signed_portids_and_duplicates():
    data = (netlink_msg(1, protocol=0, portid=0, memory=(832, 0))
            + netlink_msg(2, protocol=0, portid=0xfffeffff)                           # autobound: negative
            + netlink_msg(3, protocol=2, portid=778, state=1, dst_portid=777, dst_group=0)
            + netlink_msg(4, protocol=0, portid=4242, state=1, dst_portid=0, dst_group=0, memory=(0, 1280))
            + netlink_msg(5, protocol=15, portid=50000)
            + netlink_msg(5, protocol=15, portid=50000)                              # listed twice by the kernel
            + netlink_msg(6, protocol=16, portid=0xffffffff) + DONE)
    records = parse_messages(data, AF_NETLINK)
    assert [(r['local_address'], r['local_port'], r['peer_address'], r['peer_port'], r['recv_q'], r['send_q'])
            for r in records] == [('0', 0, '', 0, 832, 0), ('0', -65537, '', 0, 0, 0), ('2', 778, '0', 777, 0, 0),
                                  ('0', 4242, '0', 0, 0, 1280), ('15', 50000, '', 0, 0, 0), ('16', -1, '', 0, 0, 0)]
    assert all((r['netid'], r['state'], r['family'], r['uid'], r['user']) == ('nl', 'UNCONN', 'netlink', None, None)
               for r in records)


@pytest.mark.parametrize('kind, netid', [(1, 'v_str'), (2, 'v_dgr'), (5, '???')])
def test_vsock_record_fields(kind, netid):
    data = vsock_msg(9, kind=kind, state=10) + vsock_msg(10, kind=kind, state=1, src=(3, 5000), dst=(2, 1024)) + DONE
    listener, connected = parse_messages(data, AF_VSOCK)
    assert (listener['netid'], listener['state'], listener['family']) == (netid, 'LISTEN', 'vsock')
    assert (listener['local_address'], listener['local_port'], listener['peer_address'], listener['peer_port']) == (
        '2', 1234, '*', -1)
    assert (connected['state'], connected['local_address'], connected['local_port'], connected['peer_address'],
            connected['peer_port']) == ('ESTAB', '3', 5000, '2', 1024)
    assert (connected['uid'], connected['recv_q'], connected['send_q'], connected['inode']) == (None, 0, 0, 10)


def test_errors_done_status_and_acknowledgements():
    with pytest.raises(transport.SockDiagError) as caught:
        parse_messages(unix_msg(1) + error_msg(errno.ENOENT), AF_UNIX)
    assert caught.value.errno == errno.ENOENT
    with pytest.raises(transport.SockDiagError) as caught:
        parse_messages(netlink_msg(1) + nlmsg(3, struct.pack('=i', -errno.EINTR)), AF_NETLINK)
    assert caught.value.errno == errno.EINTR
    data = unix_msg(1) + nlmsg(2, bytes(20)) + nlmsg(99, b'junk') + unix_msg(2) + DONE
    assert [r['inode'] for r in parse_messages(data, AF_UNIX)] == [1, 2]


@pytest.mark.parametrize('data, words', [
    (unix_msg(1)[:-4], 'claims'),
    (nlmsg(20, struct.pack('=BBBxI', AF_UNIX, 1, 10, 1)), 'unix_diag message at byte 0 has 24 bytes'),
    (unix_msg(1, attrs=struct.pack('=HH', 40, 0)), 'attribute at byte 32 has length 40'),
    (unix_msg(1, attrs=struct.pack('=HH', 2, 0)), 'attribute at byte 32 has length 2'),
    (packet_msg(1), 'has family 17, expected 1'),
])
def test_malformed_replies_raise_value_error(data, words):
    with pytest.raises(ValueError, match=words):
        parse_messages(data, AF_UNIX)


def test_unsupported_family_is_refused():
    with pytest.raises(ValueError, match='unsupported sock_diag family 2'):
        parse_messages(DONE, 2)


def test_parser_feeds_chunks_and_stops_at_done_of_its_sequence():
    parser = UnixParser(seq=9)
    assert not parser.feed(unix_msg(1, seq=9, name=b'/a\0', peer=2))
    assert not parser.feed(unix_msg(3, seq=8) + nlmsg(3, bytes(4), seq=8))      # another dump's: skipped
    assert parser.feed(unix_msg(2, seq=9, peer=1) + nlmsg(3, bytes(4), seq=9))
    records = parser.finish()
    assert [(r['inode'], r['peer_address']) for r in records] == [(1, ''), (2, '/a')]


def test_large_unix_dump_parses_every_message_and_resolves_every_peer():
    count = 10000
    chunks = []
    for index in range(0, count, 2):
        chunks.append(unix_msg(100 + index, state=1, name=('/run/s%d.sock' % index).encode() + b'\0', peer=101 + index,
                               queues=(0, 0), uid=0))
        chunks.append(unix_msg(101 + index, state=1, peer=100 + index, queues=(0, 0), uid=0))
    records = parse_messages(b''.join(chunks) + DONE, AF_UNIX, user_name=lambda uid: 'root')
    assert len(records) == count
    assert records[-1]['peer_address'] == '/run/s%d.sock' % (count - 2)


# ---- requests, built independently here ----

def test_request_layouts():
    unix = unix_request(0x402, seq=7)
    assert unix == struct.pack('=IHHII', 40, 20, 0x301, 7, 0) + struct.pack('=BBHIII8x', 1, 0, 0, 0x402, 0, 0x55)
    packet = packet_request(seq=7)
    assert packet == struct.pack('=IHHII', 36, 20, 0x301, 7, 0) + struct.pack('=BBHII8x', 17, 0, 0, 0, 0x11)
    netlink = netlink_request(seq=7)
    assert netlink == struct.pack('=IHHII', 36, 20, 0x301, 7, 0) + struct.pack('=BBHII8x', 16, 255, 0, 0, 1)
    vsock = vsock_request(0xfff, seq=7)
    assert vsock == struct.pack('=IHHII', 40, 20, 0x301, 7, 0) + struct.pack('=BBHIII8x', 40, 0, 0, 0xfff, 0, 0)


@pytest.mark.parametrize('states', [-1, 1 << 32, '7', None, True])
def test_state_masks_are_checked(states):
    with pytest.raises(ValueError, match='invalid state mask'):
        unix_request(states)
    with pytest.raises(ValueError, match='invalid state mask'):
        dump_vsock(states)


# ---- the dump functions' socket handling, with a scripted stand-in for the kernel (support/fake_netlink.py) ----

@pytest.mark.parametrize('function, args, message, request_bytes', [
    (dump_unix, (0xfff,), unix_msg(1, seq=SEQ), unix_request(0xfff)),
    (dump_packet, (), packet_msg(1, seq=SEQ), packet_request()),
    (dump_netlink, (), netlink_msg(1, seq=SEQ), netlink_request()),
    (dump_vsock, (0xfff,), vsock_msg(1, seq=SEQ), vsock_request(0xfff)),
])
def test_dumps_read_until_their_done_and_close(scripted, function, args, message, request_bytes):
    scripted(message, message[:8] + struct.pack('=I', SEQ + 1) + message[12:] + nlmsg(3, bytes(4), seq=SEQ))
    records = function(*args)
    assert [r['inode'] for r in records] == [1]
    [sock] = ScriptedNetlink.opened
    assert sock.closed and sock.sent == [(request_bytes, (0, 0))]


@pytest.mark.parametrize('function, args, table', [
    (dump_unix, (0xfff,), 'unix'), (dump_packet, (), 'packet'),
    (dump_netlink, (), 'netlink'), (dump_vsock, (0xfff,), 'vsock'),
])
def test_dump_errors_name_the_table(scripted, function, args, table):
    scripted(error_msg(errno.ENOENT, seq=SEQ))
    with pytest.raises(transport.SockDiagError) as caught:
        function(*args)
    assert caught.value.errno == errno.ENOENT
    assert str(caught.value) == ('[Errno 2] netlink sock_diag dump of the %s table failed: No such file or directory '
                                 '(the kernel has no sock_diag support for this table)' % table)
    scripted(socket.timeout('timed out'))
    with pytest.raises(transport.SockDiagError, match='%s table: no reply' % table):
        function(*args)
    scripted(unix_msg(1, seq=SEQ)[:-4] if table != 'unix' else unix_msg(1, seq=SEQ)[:-8])
    with pytest.raises(ValueError, match='dump of the %s table' % table):
        function(*args)
    assert all(sock.closed for sock in ScriptedNetlink.opened)


# ---- the live kernel in this test's own namespace (no namespace or root needed) ----

@needs_sock_diag
def test_dump_unix_lists_a_pair_of_ours():
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with left, right:
        inodes = os.fstat(left.fileno()).st_ino, os.fstat(right.fileno()).st_ino
        try:
            records = dump_unix(1 << 1)
        except transport.SockDiagError as exc:
            pytest.skip('this kernel has no unix_diag: %s' % exc)
    mine = dict((r['inode'], r) for r in records if r['inode'] in inodes)
    assert (mine[inodes[0]]['netid'], mine[inodes[0]]['peer_port'], mine[inodes[1]]['peer_port']) == (
        'u_seq', inodes[1], inodes[0])
    assert set(r['state'] for r in records) == {'ESTAB'}


@needs_sock_diag
def test_dump_netlink_lists_a_socket_of_ours():
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:
        sock.bind((0, 0))
        inode = os.fstat(sock.fileno()).st_ino
        try:
            records = dump_netlink()
        except transport.SockDiagError as exc:
            pytest.skip('this kernel has no netlink_diag: %s' % exc)
        [mine] = [r for r in records if r['inode'] == inode]
        portid = sock.getsockname()[0]
    assert (mine['local_address'], mine['local_port']) == ('0', portid - (1 << 32) if portid >= 1 << 31 else portid)


@needs_sock_diag
def test_dump_vsock_is_a_list_or_enoent_naming_the_table():
    try:
        assert isinstance(dump_vsock(0xfff), list)
    except transport.SockDiagError as exc:
        assert exc.errno == errno.ENOENT and 'vsock table' in str(exc)


# ---- any bytes: records or a ValueError/SockDiagError, never another exception ----

@settings(max_examples=300, deadline=None)
@given(family=st.sampled_from([AF_UNIX, AF_PACKET, AF_NETLINK, AF_VSOCK]),
       name=st.binary(max_size=40), inode=st.integers(0, 0xffffffff), peer=st.integers(0, 0xffffffff),
       cut=st.integers(0, 80), junk=st.binary(max_size=12))
def test_round_trip_and_truncation(family, name, inode, peer, cut, junk):
    message = {AF_UNIX: lambda: unix_msg(inode, name=name, peer=peer, queues=(1, 2), uid=3),
               AF_PACKET: lambda: packet_msg(inode, number=peer & 0xffff, ifindex=peer, rmem=5, uid=3),
               AF_NETLINK: lambda: netlink_msg(inode, protocol=peer & 0xff, portid=peer, memory=(1, 2)),
               AF_VSOCK: lambda: vsock_msg(inode, src=(peer, peer), dst=(inode, inode))}[family]()
    [record] = parse_messages(message + DONE, family, interface_name=lambda index: None,
                              user_name=lambda uid: None)
    assert record['inode'] == inode and tuple(record) == FIELDS + ('_ifindex',)
    try:
        parse_messages(message[:len(message) - cut] + junk, family, interface_name=lambda index: None)
    except (ValueError, transport.SockDiagError):
        pass
