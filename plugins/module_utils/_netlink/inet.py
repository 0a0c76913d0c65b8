# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the NETLINK_SOCK_DIAG reader of the inet socket tables (tcp, udp, raw, sctp,
mptcp, dccp): requests, the parser of their replies, and dump_inet."""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import (
    MISSING,
    STATE_TEXT,
    InterfaceNamer,
    interface_namer,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import (
    NLMSGHDR,
    RTATTR,
    SEQ,
    SOCK_DIAG_BY_FAMILY,
    U32,
    U64,
    control_message,
    diag_request,
    explain_error,
    rtattr,
    run_dump,
    states_checked,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._records import (
    FAMILY_NAMES,
    FIELDS,
    INET_NETIDS,
    Record,
    UserNamer,
    inet_address_text,
    key_sharing_template,
    no_cycle_collection,
    user_namer,
)

# The legacy request (struct inet_diag_req) for TCP: the kernel dumps both address families in one walk of its
# tables (the family-agnostic dump of inet_diag's compatibility path); replies carry this type too.
TCPDIAG_GETSOCK = 18
IPPROTO_TCP = 6
IPPROTO_RAW = 255

# Request attributes (inet_diag_req_v2 is followed by these).
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_REQ_PROTOCOL = 3
# Reply attributes we read. The kernel sends them without being asked: SKV6ONLY for AF_INET6 sockets in
# LISTEN or CLOSE state, MARK when the requester has CAP_NET_ADMIN, CGROUP_ID when cgroups are built in.
INET_DIAG_SKV6ONLY = 11
INET_DIAG_MARK = 15
INET_DIAG_CGROUP_ID = 21

_REQ_V2 = struct.Struct('=BBBBI48x')            # family, protocol, ext, pad/raw protocol, states, zero sockid
_REQ_V1 = struct.Struct('=BBBB48xII')           # family, src_len, dst_len, ext, zero sockid, states, dbs
# nlmsghdr (16 bytes) + inet_diag_msg (72): len, type, -flags, seq, -pid, family, state, -timer, -retrans,
# sport, dport, src, dst, ifindex, -cookie, -expires, rqueue, wqueue, uid, inode.
# What every inet record starts from (see _records.key_sharing_template); netns and port_locked stay None here.
_INET_RECORD = key_sharing_template(FIELDS + ('_ifindex',))
_INET_MSG = struct.Struct('=IH2xI4xBB2xHH16s16sI8x4xIIII')
SWAP_PORTS = sys.byteorder == 'little'      # the ports were read in host order but travel big-endian

_ATTRIBUTE_CACHE_SIZE = 4096


def table_name(protocol: int, family: int) -> str:
    """The inet table as messages name it: `tcp/inet6`, or `tcp (IPv4 and IPv6)` for one dump of both families."""
    netid = INET_NETIDS.get(protocol, 'protocol %s' % protocol)
    if family == socket.AF_UNSPEC:
        return '%s (IPv4 and IPv6)' % netid
    return '%s/%s' % (netid, FAMILY_NAMES.get(family, family))


def explain_inet_error(protocol: int, family: int, code: int, with_bytecode: bool) -> str:
    """explain_error for an inet table."""
    return explain_error(table_name(protocol, family), code, with_bytecode)


def reply_type(family: int) -> int:
    """The netlink message type of the replies to inet_request(protocol, family, ...)."""
    return TCPDIAG_GETSOCK if family == socket.AF_UNSPEC else SOCK_DIAG_BY_FAMILY


def inet_request(protocol: int, family: int, states: int, bytecode: bytes | bytearray | memoryview | None = None,
                 seq: int = SEQ) -> bytes:
    """The bytes of one SOCK_DIAG_BY_FAMILY dump request for an inet table; for TCP with family AF_UNSPEC, the
    legacy TCPDIAG_GETSOCK request, which dumps IPv4 and IPv6 sockets in one walk (the same records, the same
    bytecode semantics: the kernel runs the program on each socket with that socket's own family)."""
    if protocol not in INET_NETIDS:
        raise ValueError('unsupported inet protocol %r: expected one of %s'
                         % (protocol, ', '.join('%d (%s)' % item for item in sorted(INET_NETIDS.items()))))
    both = family == socket.AF_UNSPEC and protocol == IPPROTO_TCP
    if family not in (socket.AF_INET, socket.AF_INET6) and not both:
        raise ValueError('unsupported address family %r for an inet socket dump: expected AF_INET or AF_INET6 '
                         '(or AF_UNSPEC for TCP)' % (family,))
    states_checked(states)
    attributes = b''
    if bytecode is not None:
        if not isinstance(bytecode, (bytes, bytearray, memoryview)):
            raise ValueError('invalid filter bytecode %r: expected bytes' % (bytecode,))
        if len(bytecode) % 4 or len(bytecode) > 0xffff - RTATTR.size:
            raise ValueError('invalid filter bytecode: %d bytes (must be a multiple of 4 and at most 65528)'
                             % len(bytecode))
        attributes += rtattr(INET_DIAG_REQ_BYTECODE, bytes(bytecode))
    if both:
        return diag_request(_REQ_V1.pack(family, 0, 0, 0, states, 0) + attributes, seq, TCPDIAG_GETSOCK)
    if protocol > 0xff:
        # sdiag_protocol is one byte: larger protocol numbers (MPTCP 262) travel in an attribute.
        attributes += rtattr(INET_DIAG_REQ_PROTOCOL, U32.pack(protocol))
    # For raw sockets the pad byte selects the raw protocol; IPPROTO_RAW asks for all of them.
    raw_protocol = IPPROTO_RAW if protocol == IPPROTO_RAW else 0
    return diag_request(_REQ_V2.pack(family, protocol & 0xff, 0, raw_protocol, states) + attributes, seq)


def address_text(family: int, raw: bytes) -> str:
    """_records.inet_address_text, faster: the C inet_ntop agrees with it except for dotted IPv4 forms."""
    if family == socket.AF_INET:
        return socket.inet_ntop(family, raw[:4])
    text = socket.inet_ntop(family, raw)
    if '.' in text:
        return inet_address_text(family, raw)
    return text


class _InetParser(object):
    """Turns netlink reply bytes into records; keeps its name caches across the chunks of one dump."""

    def __init__(self, protocol: int, seq: int | None = None, interface_name: InterfaceNamer | None = None,
                 user_name: UserNamer | None = None, msg_type: int = SOCK_DIAG_BY_FAMILY) -> None:
        if protocol not in INET_NETIDS:
            raise ValueError('unsupported inet protocol %r' % (protocol,))
        self.netid = INET_NETIDS[protocol]
        self.seq = seq
        self.msg_type = msg_type
        self.interface_name = interface_name or interface_namer()
        self.user_name = user_name or user_namer()
        self.users: dict[int, Any] = {}
        self.addresses: dict[int, dict[bytes, str]] = {socket.AF_INET: {}, socket.AF_INET6: {}}
        self.attributes: dict[bytes, tuple[bool | None, int | None, int | None]] = {}
        self.records: list[Record] = []

    def feed(self, data: bytes | bytearray | memoryview, length: int | None = None) -> bool:
        """Parse data[:length]; return True once NLMSG_DONE is seen. NLMSG_ERROR raises SockDiagError.

        This loop is the hot path of a large dump (100k sockets): locals only, one struct call per message,
        attribute headers read through a 16-bit view, name lookups cached.
        """
        view = data if isinstance(data, memoryview) else memoryview(data)
        if length is None:
            length = len(view)
        halves = view[:length & ~1].cast('H')
        unpack_msg, unpack_header, u32, u64 = (_INET_MSG.unpack_from, NLMSGHDR.unpack_from,
                                               U32.unpack_from, U64.unpack_from)
        append, users, user_name, interface_name = (self.records.append, self.users, self.user_name,
                                                    self.interface_name)
        addresses, netid, seq, state_text, swap = self.addresses, self.netid, self.seq, STATE_TEXT, SWAP_PORTS
        diag_type = self.msg_type
        attribute_cache = self.attributes
        new_record = _INET_RECORD.copy
        inet6 = socket.AF_INET6
        msg_size = _INET_MSG.size
        done = False
        offset = 0
        try:
            while offset + 16 <= length:
                if offset + msg_size <= length:
                    (msg_len, msg_type, msg_seq, family, state, sport, dport, src, dst, ifindex,
                     rqueue, wqueue, uid, inode) = unpack_msg(view, offset)
                else:
                    msg_len, msg_type, _flags, msg_seq, _pid = unpack_header(view, offset)
                end = offset + msg_len
                if msg_len < 16 or end > length:
                    raise ValueError('malformed netlink reply: the message at byte %d claims %d bytes, %d remain'
                                     % (offset, msg_len, length - offset))
                if msg_type == diag_type and (seq is None or msg_seq == seq):
                    if msg_len < msg_size:
                        raise ValueError('malformed netlink reply: inet_diag message at byte %d has %d bytes, '
                                         'expected at least %d' % (offset, msg_len, msg_size))
                    attr = offset + msg_size
                    # Most sockets carry byte-identical attributes (same shutdown, mark, cgroup, options):
                    # a dict hit on those bytes replaces the walk below.
                    region = view[attr:end].tobytes()
                    known = attribute_cache.get(region)
                    if known is not None:
                        v6only, mark, cgroup_id = known
                        attr = end
                    else:
                        v6only = mark = cgroup_id = None
                    last_attr = end - 4
                    while attr <= last_attr:
                        attr_len = halves[attr >> 1]
                        if attr_len < 4 or attr + attr_len > end:
                            raise ValueError('malformed netlink reply: attribute at byte %d has length %d'
                                             % (attr, attr_len))
                        # Types are compared with their flag bits: a nested or network-order attribute
                        # is not the plain value we read.
                        attr_type = halves[(attr >> 1) + 1]
                        if attr_type == INET_DIAG_MARK:
                            if attr_len >= 8:
                                mark = u32(view, attr + 4)[0]
                        elif attr_type == INET_DIAG_CGROUP_ID:
                            if attr_len >= 12:
                                cgroup_id = u64(view, attr + 4)[0]
                        elif attr_type == INET_DIAG_SKV6ONLY and attr_len > 4:
                            v6only = view[attr + 4] != 0
                        attr += (attr_len + 3) & ~3
                    if known is None and len(attribute_cache) < _ATTRIBUTE_CACHE_SIZE:
                        attribute_cache[region] = (v6only, mark, cgroup_id)
                    cache = addresses.get(family)
                    if cache is None:
                        raise ValueError('malformed netlink reply: inet_diag message at byte %d has family %d'
                                         % (offset, family))
                    local = cache.get(src)
                    if local is None:
                        local = cache[src] = address_text(family, src)
                    peer = cache.get(dst)
                    if peer is None:
                        peer = cache[dst] = address_text(family, dst)
                    user = users.get(uid, MISSING)
                    if user is MISSING:
                        user = users[uid] = user_name(uid)
                    if swap:
                        sport = ((sport & 0xff) << 8) | (sport >> 8)
                        dport = ((dport & 0xff) << 8) | (dport >> 8)
                    # A copy of a key-sharing template (keys in _records.FIELDS order, then the private ones; a test
                    # holds the two together): about 140 bytes less per record than a dict literal.
                    record = new_record()
                    record['netid'] = netid
                    record['state'] = state_text[state]
                    record['family'] = 'inet6' if family == inet6 else 'inet'
                    record['local_address'] = local
                    record['local_port'] = sport
                    record['peer_address'] = peer
                    record['peer_port'] = dport
                    if ifindex:
                        record['interface'] = interface_name(ifindex)
                    if family == inet6:
                        record['v6only'] = v6only
                    record['recv_q'] = rqueue
                    record['send_q'] = wqueue
                    record['inode'] = inode
                    record['uid'] = uid
                    record['user'] = user
                    record['processes'] = []
                    record['mark'] = mark
                    record['cgroup_id'] = cgroup_id
                    record['_ifindex'] = ifindex
                    append(record)
                elif seq is None or msg_seq == seq:
                    done = control_message(view, offset, msg_type, msg_len) or done
                offset = (end + 3) & ~3
        finally:
            halves.release()
        return done


def parse_inet_messages(data: bytes | bytearray | memoryview, protocol: int,
                        interface_name: InterfaceNamer | None = None,
                        user_name: UserNamer | None = None) -> list[Record]:
    """Records from the bytes of one or more netlink messages (a captured sock_diag reply).

    Messages of every sequence number are read; NLMSG_DONE does not stop the walk (captures may hold several
    dumps); NLMSG_ERROR raises SockDiagError. interface_name(index) and user_name(uid) replace the lookups in
    this host's interfaces and users (a capture from another namespace names its own interfaces).
    """
    parser = _InetParser(protocol, None, interface_name, user_name)
    with no_cycle_collection():
        parser.feed(memoryview(data))
    return parser.records


def dump_inet(protocol: int, family: int, states: int,
              bytecode: bytes | bytearray | memoryview | None = None) -> list[Record]:
    """protocol: 6/17/...; family: socket.AF_INET/AF_INET6 (AF_UNSPEC: both, TCP only); states: bitmask (1 << state number);
    bytecode: bytes of an INET_DIAG_REQ_BYTECODE program or None. Returns a list of records
    (dicts with every public key of _records.FIELDS, `mark` None when the kernel sent no INET_DIAG_MARK and
    `port_locked` None: port_locks.unlocked_sockets() tells it) plus the private key `_ifindex` (int).
    A table the kernel lacks raises SockDiagError with its errno (ENOENT) and the table's name."""
    request = inet_request(protocol, family, states, bytecode)
    parser = _InetParser(protocol, SEQ, msg_type=reply_type(family))
    with_bytecode = bytecode is not None
    run_dump(request, parser.feed, table_name(protocol, family),
             lambda code: explain_inet_error(protocol, family, code, with_bytecode))
    return parser.records
