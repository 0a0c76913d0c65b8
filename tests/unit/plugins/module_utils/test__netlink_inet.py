# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the sock_diag parser, from captured dumps and hand-built messages."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet, transport
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import interface_namer
from ansible_collections.netaudit.sockets.plugins.module_utils._records import FIELDS, inet_address_text
from support.fake_netlink import DONE, ScriptedNetlink, captured_dumps, error_msg, needs_sock_diag, nlmsg, rtattr

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
PRIVATE_KEYS = ('_ifindex',)

EXPECTED, read_fixture, captured_interface = captured_dumps(FIXTURES, 'sockdiag_expected.json')


def identity(record):
    return (record['state'], record['local_address'], record['local_port'],
            record['peer_address'], record['peer_port'], record['inode'])


# ---- captured dumps: records compared with what the sockets said about themselves ----

@pytest.mark.parametrize('filename', sorted(EXPECTED['dumps']))
def test_captured_dump_matches_the_sockets_that_were_opened(filename):
    spec = EXPECTED['dumps'][filename]
    records = inet.parse_inet_messages(read_fixture(filename), spec['protocol'],
                                       interface_name=captured_interface)
    by_identity = dict((identity(record), record) for record in records)
    assert len(by_identity) == len(records)
    expected = dict((identity(record), record) for record in spec['records'])
    assert sorted(by_identity) == sorted(expected)
    for key, want in expected.items():
        got = by_identity[key]
        assert dict((name, got[name]) for name in want) == want


@pytest.mark.parametrize('filename', sorted(EXPECTED['dumps']))
def test_records_carry_every_field_in_order_then_the_private_keys(filename):
    records = inet.parse_inet_messages(read_fixture(filename), EXPECTED['dumps'][filename]['protocol'])
    assert records
    for record in records:
        assert tuple(record) == FIELDS + PRIVATE_KEYS
    assert len(set(id(record['processes']) for record in records)) == len(records)


def test_captured_dump_covers_mapped_dual_stack_scoped_and_each_state():
    everything = [record for spec in EXPECTED['dumps'].values() for record in spec['records']]
    assert any(r['local_address'].startswith('::ffff:') for r in everything)
    assert any(r['family'] == 'inet6' and r['local_address'] == '::' and r['v6only'] is False for r in everything)
    assert any(r['family'] == 'inet6' and r['local_address'] == '::' and r['v6only'] is True for r in everything)
    assert any(r['local_address'] == 'fe80::1' and r['interface'] == 'ifb0' for r in everything)
    assert set(r['state'] for r in everything) >= {'LISTEN', 'ESTAB', 'UNCONN', 'TIME-WAIT', 'CLOSE-WAIT'}


def test_captured_einval_reply_raises_with_errno():
    with pytest.raises(transport.SockDiagError) as caught:
        inet.parse_inet_messages(read_fixture('sockdiag_error_einval.bin'), 6)
    assert caught.value.errno == errno.EINVAL


# ---- hand-built messages ----

def inet_msg(family=socket.AF_INET, state=10, sport=22, dport=0, src=b'', dst=b'', ifindex=0,
             rqueue=0, wqueue=128, uid=0, inode=77, attrs=b'', seq=1):
    body = struct.pack('=BBBB', family, state, 0, 0) + struct.pack('!HH', sport, dport)
    body += src.ljust(16, b'\0') + dst.ljust(16, b'\0') + struct.pack('=I', ifindex) + b'\xff' * 8
    body += struct.pack('=IIIII', 0, rqueue, wqueue, uid, inode) + attrs
    return nlmsg(20, body, seq)


def test_ports_are_big_endian_and_queues_host_order():
    data = inet_msg(sport=0x1234, dport=0xabcd, state=1, rqueue=5, wqueue=6, src=b'\x7f\0\0\1', dst=b'\x0a\0\0\2')
    [record] = inet.parse_inet_messages(data + DONE, 6)
    assert (record['local_port'], record['peer_port'], record['recv_q'], record['send_q']) == (0x1234, 0xabcd, 5, 6)
    assert (record['local_address'], record['peer_address'], record['state']) == ('127.0.0.1', '10.0.0.2', 'ESTAB')


@pytest.mark.parametrize('state, text', [(7, 'UNCONN'), (1, 'ESTAB'), (10, 'LISTEN'), (12, 'UNKNOWN'), (99, 'UNKNOWN')])
def test_udp_state_names(state, text):
    [record] = inet.parse_inet_messages(inet_msg(state=state), 17)
    assert (record['netid'], record['state']) == ('udp', text)


def test_attributes_v6only_mark_cgroup_and_flag_bits():
    attrs = rtattr(8, b'\0') + rtattr(11, b"\1") + rtattr(15 | 0x4000, b"\0\0\0\7") + rtattr(15, struct.pack('=I', 42))
    attrs += rtattr(21, struct.pack('=Q', 1 << 40)) + rtattr(99, b'xyzzy')
    [record] = inet.parse_inet_messages(inet_msg(family=socket.AF_INET6, attrs=attrs), 6)
    assert (record['v6only'], record['mark'], record['cgroup_id']) == (True, 42, 1 << 40)
    [bare] = inet.parse_inet_messages(inet_msg(family=socket.AF_INET6), 6)
    assert (bare['v6only'], bare['mark'], bare['cgroup_id']) == (None, None, None)


@pytest.mark.parametrize('cache_size', [4096, 1, 0])
def test_repeated_and_differing_attributes_in_one_dump(monkeypatch, cache_size):
    monkeypatch.setattr(inet, '_ATTRIBUTE_CACHE_SIZE', cache_size)
    cases = [(1, True), (2, False), (1, True), (2, True), (None, None), (1, True), (2, False)]
    data = b''
    for mark, v6only in cases:
        attrs = rtattr(8, b'\0')
        if v6only is not None:
            attrs += rtattr(11, b'\1' if v6only else b'\0')
        if mark is not None:
            attrs += rtattr(15, struct.pack('=I', mark))
        data += inet_msg(family=socket.AF_INET6, attrs=attrs)
    records = inet.parse_inet_messages(data, 6)
    assert [(r['mark'], r['v6only']) for r in records] == cases


def test_v6only_is_none_for_inet_even_if_sent():
    [record] = inet.parse_inet_messages(inet_msg(attrs=rtattr(11, b'\1')), 6)
    assert record['v6only'] is None and record['family'] == 'inet'


def test_v4_mapped_address_text_on_every_python():
    mapped = b'\0' * 10 + b'\xff\xff' + b'\x0a\0\0\1'
    [record] = inet.parse_inet_messages(inet_msg(family=socket.AF_INET6, src=mapped), 6)
    assert record['local_address'] == '::ffff:10.0.0.1'


def test_interface_and_user_names():
    data = inet_msg(ifindex=3, uid=4242) + inet_msg(ifindex=0, uid=0)
    names = {3: 'eth9'}
    records = inet.parse_inet_messages(data, 6, interface_name=names.get,
                                       user_name=lambda uid: 'u%d' % uid)
    assert [(r['interface'], r['_ifindex'], r['user']) for r in records] == [('eth9', 3, 'u4242'), (None, 0, 'u0')]


def test_default_namers_cache_and_fall_back():
    interface_name = interface_namer()
    assert interface_name(0) is None
    assert interface_name(0x7ffffff0) == 'if%d' % 0x7ffffff0
    assert interface_name(socket.if_nametoindex('lo')) == 'lo'
    user_name = _records.user_namer()
    assert user_name(0) == 'root'
    assert user_name(0xfffffff0) is None


@pytest.mark.parametrize('code', [errno.EPERM, errno.EINVAL, errno.ENOENT])
def test_nlmsg_error_raises_with_errno(code):
    with pytest.raises(transport.SockDiagError) as caught:
        inet.parse_inet_messages(inet_msg() + error_msg(code), 6)
    assert caught.value.errno == code
    assert isinstance(caught.value, OSError)


def test_ack_is_not_an_error_and_unknown_types_are_skipped():
    data = nlmsg(1, b'') + error_msg(0) + inet_msg() + DONE + inet_msg(inode=78)
    assert [r['inode'] for r in inet.parse_inet_messages(data, 6)] == [77, 78]


def test_done_with_negative_status_is_an_error():
    with pytest.raises(transport.SockDiagError) as caught:
        inet.parse_inet_messages(inet_msg() + nlmsg(3, struct.pack('=i', -errno.EINTR)), 6)
    assert caught.value.errno == errno.EINTR


def test_parser_feeds_chunks_and_stops_at_done_of_its_sequence():
    parser = inet._InetParser(6, seq=9)
    assert parser.feed(inet_msg(seq=9, inode=1)) is False
    assert parser.feed(inet_msg(seq=5, inode=2) + DONE) is False      # a stray reply: ignored entirely
    buffer = bytearray(inet_msg(seq=9, inode=3) + nlmsg(3, bytes(4), seq=9) + b'garbage after the length')
    assert parser.feed(memoryview(buffer), len(buffer) - 24) is True
    assert [r['inode'] for r in parser.records] == [1, 3]


@pytest.mark.parametrize('data, words', [
    (inet_msg()[:-8], 'claims'),
    (struct.pack('=IHHII', 8, 20, 0, 1, 0), 'claims 8 bytes'),
    (nlmsg(20, bytes(40)), 'expected at least 88'),
    (inet_msg(attrs=struct.pack('=HH', 2, 8)), 'attribute'),
    (inet_msg(attrs=struct.pack('=HH', 40, 8) + bytes(4)), 'attribute'),
    (inet_msg(family=7), 'family 7'),
])
def test_malformed_replies_raise_value_error(data, words):
    with pytest.raises(ValueError, match=words):
        inet.parse_inet_messages(data, 6)


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match='99'):
        inet.parse_inet_messages(DONE, 99)


def test_large_dump_parses_every_message():
    template = [m for m in split_messages(read_fixture('sockdiag_tcp_inet6.bin')) if m[4:6] == b'\x14\x00']
    data = b''.join(template) * (100000 // len(template) + 1) + DONE
    records = inet.parse_inet_messages(data, 6)
    assert len(records) == len(template) * (100000 // len(template) + 1)
    records[0]['processes'].append('x')
    assert records[len(template)]['processes'] == []


def split_messages(data):
    offset, messages = 0, []
    while offset < len(data):
        length = struct.unpack_from('=I', data, offset)[0]
        messages.append(data[offset:offset + ((length + 3) & ~3)])
        offset += (length + 3) & ~3
    return messages


# ---- property: every field survives an encode/parse round trip; truncation never escapes as another error ----

@settings(max_examples=200, deadline=None)
@given(family=st.sampled_from([socket.AF_INET, socket.AF_INET6]), state=st.integers(0, 255),
       sport=st.integers(0, 65535), dport=st.integers(0, 65535), src=st.binary(min_size=16, max_size=16),
       dst=st.binary(min_size=16, max_size=16), queues=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
       inode=st.integers(0, 2**32 - 1), mark=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       junk=st.lists(st.tuples(st.integers(23, 200), st.binary(max_size=9)), max_size=3), cut=st.integers(0, 200))
def test_round_trip_and_truncation(family, state, sport, dport, src, dst, queues, inode, mark, junk, cut):
    if family == socket.AF_INET:
        src, dst = src[:4], dst[:4]
    attrs = b''.join(rtattr(kind, payload) for kind, payload in junk)
    if mark is not None:
        attrs += rtattr(15, struct.pack('=I', mark))
    data = inet_msg(family, state, sport, dport, src, dst, rqueue=queues[0], wqueue=queues[1], inode=inode,
                    attrs=attrs)
    [record] = inet.parse_inet_messages(data, 6, interface_name=lambda i: None, user_name=lambda u: None)
    assert ipaddress.ip_address(record['local_address']).packed == src
    assert ipaddress.ip_address(record['peer_address']).packed == dst
    assert '%' not in record['local_address'] and '[' not in record['peer_address']
    assert (record['local_port'], record['peer_port'], record['recv_q'], record['send_q'], record['inode'],
            record['mark']) == (sport, dport, queues[0], queues[1], inode, mark)
    try:
        inet.parse_inet_messages(data[:len(data) - cut] if cut else data + bytes(cut % 16), 6)
    except ValueError:
        pass


# ---- requests ----

def test_request_layout_for_tcp():
    request = inet.inet_request(6, socket.AF_INET6, 0x400, seq=7)
    assert len(request) == 16 + 56
    assert struct.unpack_from('=IHHII', request) == (72, 20, 0x301, 7, 0)
    assert struct.unpack_from('=BBBBI', request, 16) == (socket.AF_INET6, 6, 0, 0, 0x400)
    assert request[24:] == bytes(48)


def test_request_with_bytecode_mptcp_and_raw():
    bytecode = struct.pack('=BBHBBxxi4x', 7, 16, 20, 0, 0, 22)
    request = inet.inet_request(262, socket.AF_INET, 0xfff, bytecode)
    assert struct.unpack_from('=I', request)[0] == len(request) == 16 + 56 + 4 + 16 + 8
    assert request[17] == 262 & 0xff
    assert request[72:76] == struct.pack('=HH', 20, 1) and request[76:92] == bytecode
    assert request[92:] == struct.pack('=HHI', 8, 3, 262)
    assert inet.inet_request(255, socket.AF_INET, 1)[19] == 255


@pytest.mark.parametrize('arguments, words', [
    ((99, socket.AF_INET, 1), 'protocol 99'),
    ((6, socket.AF_UNIX, 1), 'address family'),
    ((6, socket.AF_INET, -1), 'state mask -1'),
    ((6, socket.AF_INET, 1 << 32), 'state mask'),
    ((6, socket.AF_INET, True), 'state mask'),
    ((6, socket.AF_INET, 1, b'abc'), 'multiple of 4'),
    ((6, socket.AF_INET, 1, 'text'), 'expected bytes'),
])
def test_request_arguments_are_checked(arguments, words):
    with pytest.raises(ValueError, match=words):
        inet.inet_request(*arguments)


# ---- the live kernel in this test's own namespace (no sockets of ours needed) ----

@needs_sock_diag
def test_dump_inet_lists_a_listener_of_ours():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
        listener.bind(('::1', 0))
        listener.listen(3)
        port, inode = listener.getsockname()[1], os.fstat(listener.fileno()).st_ino
        records = inet.dump_inet(6, socket.AF_INET6, 1 << 10)
    [mine] = [r for r in records if r['inode'] == inode]
    assert (mine['local_address'], mine['local_port'], mine['state'], mine['send_q']) == ('::1', port, 'LISTEN', 3)
    assert mine['v6only'] is True      # binding a specific IPv6 address sets IPV6_V6ONLY in the kernel


@needs_sock_diag
def test_dump_inet_rejected_bytecode_names_the_table():
    with pytest.raises(transport.SockDiagError) as caught:
        inet.dump_inet(17, socket.AF_INET6, 0xfff, struct.pack('=BBH', 1, 0, 4))
    assert caught.value.errno == errno.EINVAL
    assert 'udp/inet6' in str(caught.value) and 'bytecode' in str(caught.value)


@settings(max_examples=500, deadline=None)
@given(words=st.lists(st.one_of(st.sampled_from([0, 0, 0, 1, 0xffff, 0xfe80, 0xa00]), st.integers(0, 0xffff)),
                      min_size=8, max_size=8))
def test_fast_address_text_agrees_with_the_record_contract(words):
    raw = struct.pack('!8H', *words)
    assert inet.address_text(socket.AF_INET6, raw) == inet_address_text(socket.AF_INET6, raw)
    assert inet.address_text(socket.AF_INET, raw) == inet_address_text(socket.AF_INET, raw)


# ---- dump_inet's socket handling, with a scripted stand-in for the kernel (support/fake_netlink.py) ----

def test_dump_reads_chunks_until_its_done_and_closes(scripted):
    seq = transport.SEQ
    scripted(inet_msg(seq=seq, inode=1) + inet_msg(seq=seq, inode=2),
             inet_msg(seq=seq + 1, inode=99) + nlmsg(3, bytes(4), seq=seq + 1),    # not ours: skipped
             inet_msg(seq=seq, inode=3) + nlmsg(3, bytes(4), seq=seq))
    records = inet.dump_inet(6, socket.AF_INET, 0xfff)
    assert [r['inode'] for r in records] == [1, 2, 3]
    [sock] = ScriptedNetlink.opened
    assert sock.closed and sock.sent == [(inet.inet_request(6, socket.AF_INET, 0xfff), (0, 0))]


@pytest.mark.parametrize('step, code, words', [
    (error_msg(errno.EPERM, seq=transport.SEQ), errno.EPERM, 'tcp/inet6 table failed: Operation not permitted'),
    (error_msg(errno.ENOENT, seq=transport.SEQ), errno.ENOENT, 'no sock_diag support'),
    (socket.timeout('timed out'), errno.ETIMEDOUT, 'no reply in 30 seconds'),
    (OSError(errno.ENOBUFS, 'No buffer space available'), errno.ENOBUFS, 'tcp/inet6'),
])
def test_dump_errors_name_the_table_and_close(scripted, step, code, words):
    scripted(inet_msg(seq=transport.SEQ), step)
    with pytest.raises(transport.SockDiagError) as caught:
        inet.dump_inet(6, socket.AF_INET6, 0xfff)
    assert caught.value.errno == code and words in str(caught.value)
    assert ScriptedNetlink.opened[0].closed


def test_dump_malformed_reply_is_a_value_error_naming_the_table(scripted):
    scripted(inet_msg(seq=transport.SEQ)[:-4])
    with pytest.raises(ValueError, match='udp/inet'):
        inet.dump_inet(17, socket.AF_INET, 0xfff)
    assert ScriptedNetlink.opened[0].closed


def test_no_netlink_socket_is_a_sock_diag_error(monkeypatch):
    def refuse(*args):
        raise OSError(errno.EAFNOSUPPORT, 'Address family not supported by protocol')
    monkeypatch.setattr(transport.socket, 'socket', refuse)
    with pytest.raises(transport.SockDiagError) as caught:
        inet.dump_inet(6, socket.AF_INET, 0xfff)
    assert caught.value.errno == errno.EAFNOSUPPORT and 'cannot open a NETLINK_SOCK_DIAG socket' in str(caught.value)
