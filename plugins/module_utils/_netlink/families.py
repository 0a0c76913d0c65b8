# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: reading the unix, packet, netlink and vsock tables: which parser reads which
family (`unix.py`, `packet.py`, `netlink.py`, `vsock.py`), the dumps, and parse_messages for captured replies."""

from __future__ import annotations

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.family_parser import FamilyParser
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import InterfaceNamer
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.netlink import (
    AF_NETLINK,
    NetlinkParser,
    netlink_request,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.packet import (
    AF_PACKET,
    PacketParser,
    packet_request,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import SEQ, explain_error, run_dump
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.unix import AF_UNIX, UnixParser, unix_request
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.vsock import AF_VSOCK, VsockParser, vsock_request
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record, UserNamer, no_cycle_collection

PARSERS = {AF_UNIX: UnixParser, AF_PACKET: PacketParser, AF_NETLINK: NetlinkParser, AF_VSOCK: VsockParser}
TABLES = dict((family, parser.TABLE) for family, parser in PARSERS.items())


def family_parser(family: int, seq: int | None = None, interface_name: InterfaceNamer | None = None,
                  user_name: UserNamer | None = None) -> FamilyParser:
    """The parser of one dump of family (AF_UNIX=1, AF_PACKET=17, AF_NETLINK=16, AF_VSOCK=40)."""
    if family not in PARSERS:
        raise ValueError('unsupported sock_diag family %r: expected one of %s'
                         % (family, ', '.join('%d (%s)' % item for item in sorted(TABLES.items()))))
    return PARSERS[family](seq, interface_name, user_name)


def parse_messages(data: bytes | bytearray | memoryview, family: int, interface_name: InterfaceNamer | None = None,
                   user_name: UserNamer | None = None) -> list[Record]:
    """Records from the bytes of captured unix/packet/netlink/vsock sock_diag replies (family: AF_UNIX=1,
    AF_PACKET=17, AF_NETLINK=16, AF_VSOCK=40). Every sequence number is read and NLMSG_DONE does not stop the
    walk; NLMSG_ERROR raises SockDiagError. interface_name(index) and user_name(uid) replace this host's
    lookups."""
    parser = family_parser(family, None, interface_name, user_name)
    with no_cycle_collection():
        parser.feed(memoryview(data))
    return parser.finish()


def _dump(family: int, request: bytes) -> list[Record]:
    parser = family_parser(family, SEQ)
    table = TABLES[family]
    run_dump(request, parser.feed, table, lambda code: explain_error(table, code))
    return parser.finish()


def dump_unix(states: int) -> list[Record]:
    """Records for unix stream, dgram and seqpacket sockets in these states (a bitmask of ss state bits,
    1 << _records state number). The kernel filters the states; the caller picks the types by netid."""
    return _dump(AF_UNIX, unix_request(states))


def dump_packet() -> list[Record]:
    """Records for packet sockets (ss shows them only when UNCONN is among the states: the caller decides)."""
    return _dump(AF_PACKET, packet_request())


def dump_netlink() -> list[Record]:
    """Records for netlink sockets of every protocol (ss shows them only when UNCONN is among the states)."""
    return _dump(AF_NETLINK, netlink_request())


def dump_vsock(states: int) -> list[Record]:
    """Records for vsock sockets in these states; SockDiagError(ENOENT, ...) when the kernel has no vsock_diag."""
    return _dump(AF_VSOCK, vsock_request(states))
