# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: NETLINK_SOCK_DIAG readers for the unix, packet, netlink and vsock tables.

Every record has every key of _records.FIELDS, in that order, then the private key `_ifindex` (the device
index ss's `dev` condition compares: the packet socket's bound device, 0 for the other tables). Values are
what `ss -a -n` prints (iproute2 6.1), except where noted:

unix (`dump_unix`): netid `u_str` / `u_dgr` / `u_seq`; state from the kernel (`ESTAB`, `LISTEN`, `UNCONN`);
family `unix`; local_address = the path, `@name` for an abstract name (every NUL byte shown as `@`), `""` when
unnamed (ss: `*`); local_port = null (ss prints the inode there); peer_port = the peer's inode, 0 when none;
peer_address = the peer's name when the peer is in the same dump, else `""` (ss over netlink always prints
`*`: it never resolves peers); recv_q/send_q from UNIX_DIAG_RQLEN (LISTEN: pending connections / backlog);
uid from UNIX_DIAG_UID (null on kernels that do not send it). Names that are not UTF-8 keep their other
bytes as `\\xNN`.

packet (`dump_packet`): netid `p_raw` / `p_dgr`; state `UNCONN`; family `link`; local_address = the ethertype
as `ss -n` prints it: `*` for ETH_P_ALL, else `[N]` with N in decimal (`[2048]` for IPv4, `[0]` for none);
local_port = the bound ifindex (0 = any; ss prints the name, or `*`); interface = its name (null for 0);
peer_address `""`, peer_port 0 (ss: `*`); recv_q = receive memory, send_q = 0; uid from PACKET_DIAG_UID.

netlink (`dump_netlink`): netid `nl`; state `UNCONN`; family `netlink`; local_address = the protocol number as
text (`"0"` for rtnl); local_port = the portid as a signed 32-bit number, as ss prints it (0 = the kernel,
autobound portids are negative); peer: for a connected socket peer_address = the destination group as text
and peer_port = the destination portid (ss: `GROUP:PORTID`), else `""` and 0 (ss: `*`); recv_q/send_q =
receive/send memory; uid = null (the kernel does not report it). A socket the kernel lists twice (bound and
subscribed to multicast groups) is listed once.

vsock (`dump_vsock`): netid `v_str` / `v_dgr` (`???` for other types, as ss prints them); state from the
kernel; family `vsock`; addresses = the CIDs as decimal text, `*` for VMADDR_CID_ANY; ports as numbers, -1 for
VMADDR_PORT_ANY (ss: `*`); recv_q/send_q 0; uid = null.
"""

from __future__ import annotations

import struct

from ansible_collections.netaudit.sockets.plugins.module_utils._records import no_cycle_collection, state_name, user_namer
from ansible_collections.netaudit.sockets.plugins.module_utils._sockdiag import (
    _SEQ,
    DiagMessages,
    SockDiagError,
    _interface_namer,
    diag_request,
    explain_error,
    run_dump,
)

AF_UNIX, AF_NETLINK, AF_PACKET, AF_VSOCK = 1, 16, 17, 40
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
ETH_P_ALL = 0x0003
NETLINK_CONNECTED = 1
NDIAG_PROTO_ALL = 255
VMADDR_CID_ANY = 0xffffffff
VMADDR_PORT_ANY = 0xffffffff

# unix_diag: what to ask for (udiag_show) and the reply attributes we read.
UDIAG_SHOW_NAME, UDIAG_SHOW_PEER, UDIAG_SHOW_RQLEN, UDIAG_SHOW_UID = 0x01, 0x04, 0x10, 0x40
UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN, UNIX_DIAG_UID = 0, 2, 4, 7
# packet_diag.
PACKET_SHOW_INFO, PACKET_SHOW_MEMINFO = 0x01, 0x10
PACKET_DIAG_INFO, PACKET_DIAG_UID, PACKET_DIAG_MEMINFO = 0, 5, 6
# netlink_diag.
NDIAG_SHOW_MEMINFO = 0x01
NETLINK_DIAG_MEMINFO = 0
# Indexes into the SK_MEMINFO array that packet and netlink sockets send.
SK_MEMINFO_RMEM_ALLOC, SK_MEMINFO_WMEM_ALLOC = 0, 2

TABLES = {AF_UNIX: 'unix', AF_PACKET: 'packet', AF_NETLINK: 'netlink', AF_VSOCK: 'vsock'}
UNIX_NETIDS = {SOCK_STREAM: 'u_str', SOCK_SEQPACKET: 'u_seq'}           # any other type prints as u_dgr
VSOCK_NETIDS = {SOCK_STREAM: 'v_str', SOCK_DGRAM: 'v_dgr'}              # any other type prints as ???

_RTATTR = struct.Struct('=HH')
_U32 = struct.Struct('=I')
_I32 = struct.Struct('=i')
_TWO_U32 = struct.Struct('=II')
# Requests (after the netlink header).
_UNIX_REQ = struct.Struct('=BBHIII8x')       # family, protocol, pad, states, ino, show, cookie
_PACKET_REQ = struct.Struct('=BBHII8x')      # family, protocol, pad, ino, show, cookie
_NETLINK_REQ = struct.Struct('=BBHII8x')     # family, protocol, pad, ino, show, cookie
_VSOCK_REQ = struct.Struct('=BBHIII8x')      # family, protocol, pad, states, ino, show, cookie
# Replies (the netlink header's length, type and seq, then the family's message).
_UNIX_MSG = struct.Struct('=IH2xI4xBBBxI8x')            # type, state, ino
_PACKET_MSG = struct.Struct('=IH2xI4xBBHI8x')           # type, num (ethertype, host order), ino
_NETLINK_MSG = struct.Struct('=IH2xI4xBBBBIIII8x')      # type, protocol, state, portid, dst portid/group, ino
_VSOCK_MSG = struct.Struct('=IH2xI4xBBBBIIIII8x')       # type, state, shutdown, src cid/port, dst cid/port, ino
_MESSAGES = {AF_UNIX: _UNIX_MSG, AF_PACKET: _PACKET_MSG, AF_NETLINK: _NETLINK_MSG, AF_VSOCK: _VSOCK_MSG}
_STATE_TEXT = tuple(state_name(number) for number in range(256))
_MISSING = object()


def _signed32(value):
    return value - (1 << 32) if value & 0x80000000 else value


def packet_protocol_text(number):
    """An ethertype as `ss -n` prints a packet socket's protocol: `*` for ETH_P_ALL, else `[N]`."""
    return '*' if number == ETH_P_ALL else '[%d]' % number


def unix_name_text(raw):
    """A unix socket name as ss prints it: a path up to its first NUL, or an abstract name with every NUL as `@`."""
    raw = bytes(raw)
    if raw[:1] == b'\0':
        raw = raw.replace(b'\0', b'@')
    else:
        end = raw.find(b'\0')
        if end >= 0:
            raw = raw[:end]
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw.decode('utf-8', 'backslashreplace')


def _states_checked(states):
    if not isinstance(states, int) or isinstance(states, bool) or not 0 <= states <= 0xffffffff:
        raise ValueError('invalid state mask %r: expected an int from 0 to 0xffffffff' % (states,))
    return states


def unix_request(states, seq=_SEQ):
    """The bytes of a unix_diag dump request: names, peers, queues and uids of sockets in these states."""
    return diag_request(_UNIX_REQ.pack(AF_UNIX, 0, 0, _states_checked(states), 0,
                                       UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID), seq)


def packet_request(seq=_SEQ):
    """The bytes of a packet_diag dump request (bound device and memory of every packet socket)."""
    return diag_request(_PACKET_REQ.pack(AF_PACKET, 0, 0, 0, PACKET_SHOW_INFO | PACKET_SHOW_MEMINFO), seq)


def netlink_request(seq=_SEQ):
    """The bytes of a netlink_diag dump request for every netlink protocol, with memory."""
    return diag_request(_NETLINK_REQ.pack(AF_NETLINK, NDIAG_PROTO_ALL, 0, 0, NDIAG_SHOW_MEMINFO), seq)


def vsock_request(states, seq=_SEQ):
    """The bytes of a vsock_diag dump request for sockets in these states."""
    return diag_request(_VSOCK_REQ.pack(AF_VSOCK, 0, 0, _states_checked(states), 0, 0), seq)


def _attributes(view, start, end):
    """(type, payload start, payload end) of each rtattr in view[start:end]; ValueError when one overruns."""
    while start + 4 <= end:
        length, kind = _RTATTR.unpack_from(view, start)
        if length < 4 or start + length > end:
            raise ValueError('malformed netlink reply: attribute at byte %d has length %d' % (start, length))
        yield kind, start + 4, start + length
        start += (length + 3) & ~3


class _Parser(object):
    """Turns the reply bytes of one dump (unix, packet, netlink or vsock) into records, chunk by chunk."""

    def __init__(self, family, seq=None, interface_name=None, user_name=None):
        if family not in TABLES:
            raise ValueError('unsupported sock_diag family %r: expected one of %s'
                             % (family, ', '.join('%d (%s)' % item for item in sorted(TABLES.items()))))
        self.family = family
        self.seq = seq
        self.interface_name = interface_name or _interface_namer()
        self.user_name = user_name or user_namer()
        self.records = []
        self.users = {}
        self.seen = set()
        self.build = {AF_UNIX: self._unix, AF_PACKET: self._packet, AF_NETLINK: self._netlink,
                      AF_VSOCK: self._vsock}[family]

    def feed(self, data, length=None):
        """Parse data[:length]; return True once NLMSG_DONE is seen. NLMSG_ERROR raises SockDiagError."""
        messages = DiagMessages(data, length, self.seq)
        view, msg, build = messages.view, _MESSAGES[self.family], self.build
        msg_size = msg.size
        for offset, msg_len, end in messages:
            if msg_len < msg_size:
                raise ValueError('malformed netlink reply: %s_diag message at byte %d has %d bytes, expected '
                                 'at least %d' % (TABLES[self.family], offset, msg_len, msg_size))
            fields = msg.unpack_from(view, offset)
            if fields[3] != self.family:
                raise ValueError('malformed netlink reply: message at byte %d has family %d, expected %d'
                                 % (offset, fields[3], self.family))
            build(view, fields, offset + msg_size, end)
        return messages.done

    def _record(self, netid, state, family, local, local_port, peer, peer_port, recv_q, send_q, inode, uid,
                interface=None, ifindex=0):
        # Keys in _records.FIELDS order, then the private one (a test holds the two together).
        self.records.append({
            'netid': netid, 'state': state, 'family': family,
            'local_address': local, 'local_port': local_port, 'peer_address': peer, 'peer_port': peer_port,
            'interface': interface, 'v6only': None, 'recv_q': recv_q, 'send_q': send_q, 'inode': inode,
            'uid': uid, 'user': None if uid is None else self.user_name(uid), 'processes': [], 'owner_unknown': None, 'netns': None,
            'mark': None, 'cgroup_id': None, 'port_locked': None, '_ifindex': ifindex,
        })

    def _unix(self, view, fields, start, end):
        """The hot path of a large dump (10k unix sockets): one pass over the attributes, locals only."""
        kind, state, inode = fields[4:7]
        name, peer, recv_q, send_q, uid = '', 0, 0, 0, None
        unpack_attr, u32 = _RTATTR.unpack_from, _U32.unpack_from
        attr = start
        while attr + 4 <= end:
            length, attr_type = unpack_attr(view, attr)
            last = attr + length
            if length < 4 or last > end:
                raise ValueError('malformed netlink reply: attribute at byte %d has length %d' % (attr, length))
            if attr_type == UNIX_DIAG_NAME:
                name = unix_name_text(view[attr + 4:last])
            elif attr_type == UNIX_DIAG_RQLEN and length >= 12:
                recv_q, send_q = _TWO_U32.unpack_from(view, attr + 4)
            elif attr_type == UNIX_DIAG_PEER and length >= 8:
                peer = u32(view, attr + 4)[0]
            elif attr_type == UNIX_DIAG_UID and length >= 8:
                uid = u32(view, attr + 4)[0]
            attr += (length + 3) & ~3
        users = self.users
        user = users.get(uid, _MISSING)
        if user is _MISSING:
            user = users[uid] = None if uid is None else self.user_name(uid)
        # Keys in _records.FIELDS order, then the private one (a test holds the two together).
        self.records.append({
            'netid': UNIX_NETIDS.get(kind, 'u_dgr'), 'state': _STATE_TEXT[state], 'family': 'unix',
            'local_address': name, 'local_port': None, 'peer_address': '', 'peer_port': peer,
            'interface': None, 'v6only': None, 'recv_q': recv_q, 'send_q': send_q, 'inode': inode,
            'uid': uid, 'user': user, 'processes': [], 'owner_unknown': None, 'netns': None,
            'mark': None, 'cgroup_id': None, 'port_locked': None, '_ifindex': 0,
        })

    def _packet(self, view, fields, start, end):
        kind, number, inode = fields[4:7]
        ifindex, recv_q, uid = 0, 0, None
        for attr, first, last in _attributes(view, start, end):
            if attr == PACKET_DIAG_INFO and last - first >= 4:
                ifindex = _U32.unpack_from(view, first)[0]
            elif attr == PACKET_DIAG_MEMINFO and last - first >= 4 * (SK_MEMINFO_RMEM_ALLOC + 1):
                recv_q = _I32.unpack_from(view, first + 4 * SK_MEMINFO_RMEM_ALLOC)[0]
            elif attr == PACKET_DIAG_UID and last - first >= 4:
                uid = _U32.unpack_from(view, first)[0]
        self._record('p_raw' if kind == SOCK_RAW else 'p_dgr', 'UNCONN', 'link', packet_protocol_text(number),
                     ifindex, '', 0, recv_q, 0, inode, uid, self.interface_name(ifindex) if ifindex else None, ifindex)

    def _netlink(self, view, fields, start, end):
        protocol, state, portid, dst_portid, dst_group, inode = fields[5:11]
        key = (protocol, portid, inode)
        if key in self.seen:
            return
        self.seen.add(key)
        recv_q = send_q = 0
        for attr, first, last in _attributes(view, start, end):
            if attr == NETLINK_DIAG_MEMINFO and last - first >= 4 * (SK_MEMINFO_WMEM_ALLOC + 1):
                recv_q = _I32.unpack_from(view, first + 4 * SK_MEMINFO_RMEM_ALLOC)[0]
                send_q = _I32.unpack_from(view, first + 4 * SK_MEMINFO_WMEM_ALLOC)[0]
        if state == NETLINK_CONNECTED:
            peer, peer_port = str(_signed32(dst_group)), _signed32(dst_portid)
        else:
            peer, peer_port = '', 0
        self._record('nl', 'UNCONN', 'netlink', str(protocol), _signed32(portid), peer, peer_port,
                     recv_q, send_q, inode, None)

    def _vsock(self, view, fields, start, end):
        kind, state, _shutdown, src_cid, src_port, dst_cid, dst_port, inode = fields[4:12]
        self._record(VSOCK_NETIDS.get(kind, '???'), _STATE_TEXT[state], 'vsock', _cid_text(src_cid),
                     _vsock_port(src_port), _cid_text(dst_cid), _vsock_port(dst_port), 0, 0, inode, None)

    def finish(self):
        """The records; unix peers get the name of the peer socket when it is in the same dump."""
        if self.family == AF_UNIX:
            names = dict((record['inode'], record['local_address']) for record in self.records)
            for record in self.records:
                if record['peer_port']:
                    record['peer_address'] = names.get(record['peer_port'], '')
        return self.records


def _cid_text(cid):
    return '*' if cid == VMADDR_CID_ANY else str(cid)


def _vsock_port(port):
    return -1 if port == VMADDR_PORT_ANY else port


def parse_messages(data, family, interface_name=None, user_name=None):
    """Records from the bytes of captured unix/packet/netlink/vsock sock_diag replies (family: AF_UNIX=1,
    AF_PACKET=17, AF_NETLINK=16, AF_VSOCK=40). Every sequence number is read and NLMSG_DONE does not stop the
    walk; NLMSG_ERROR raises SockDiagError. interface_name(index) and user_name(uid) replace this host's
    lookups."""
    parser = _Parser(family, None, interface_name, user_name)
    with no_cycle_collection():
        parser.feed(memoryview(data))
    return parser.finish()


def _dump(family, request):
    parser = _Parser(family, _SEQ)
    table = TABLES[family]
    run_dump(request, parser.feed, table, lambda code: explain_error(table, code))
    return parser.finish()


def dump_unix(states):
    """Records for unix stream, dgram and seqpacket sockets in these states (a bitmask of ss state bits,
    1 << _records state number). The kernel filters the states; the caller picks the types by netid."""
    return _dump(AF_UNIX, unix_request(states))


def dump_packet():
    """Records for packet sockets (ss shows them only when UNCONN is among the states: the caller decides)."""
    return _dump(AF_PACKET, packet_request())


def dump_netlink():
    """Records for netlink sockets of every protocol (ss shows them only when UNCONN is among the states)."""
    return _dump(AF_NETLINK, netlink_request())


def dump_vsock(states):
    """Records for vsock sockets in these states; SockDiagError(ENOENT, ...) when the kernel has no vsock_diag."""
    return _dump(AF_VSOCK, vsock_request(states))


__all__ = ('SockDiagError', 'dump_unix', 'dump_packet', 'dump_netlink', 'dump_vsock', 'parse_messages',
           'unix_request', 'packet_request', 'netlink_request', 'vsock_request', 'packet_protocol_text', 'unix_name_text')
