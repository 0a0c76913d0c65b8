# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the netlink table over netlink_diag: its request and its parser.

Records (`families.dump_netlink`): netid `nl`; state `UNCONN`; family `netlink`; local_address = the protocol
number as text (`"0"` for rtnl); local_port = the portid as a signed 32-bit number, as ss prints it (0 = the
kernel, autobound portids are negative); peer: for a connected socket peer_address = the destination group as
text and peer_port = the destination portid (ss: `GROUP:PORTID`), else `""` and 0 (ss: `*`); recv_q/send_q =
receive/send memory; uid = null (the kernel does not report it). A socket the kernel lists twice (bound and
subscribed to multicast groups) is listed once.
"""

from __future__ import annotations

import struct
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.family_parser import (
    SK_MEMINFO_RMEM_ALLOC,
    SK_MEMINFO_WMEM_ALLOC,
    FamilyParser,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import InterfaceNamer
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import (
    I32,
    SEQ,
    attributes,
    diag_request,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._records import UserNamer

AF_NETLINK = 16
NETLINK_CONNECTED = 1
NDIAG_PROTO_ALL = 255
NDIAG_SHOW_MEMINFO = 0x01
NETLINK_DIAG_MEMINFO = 0

_NETLINK_REQ = struct.Struct('=BBHII8x')     # family, protocol, pad, ino, show, cookie
_NETLINK_MSG = struct.Struct('=IH2xI4xBBBBIIII8x')      # type, protocol, state, portid, dst portid/group, ino


def _signed32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def netlink_request(seq: int = SEQ) -> bytes:
    """The bytes of a netlink_diag dump request for every netlink protocol, with memory."""
    return diag_request(_NETLINK_REQ.pack(AF_NETLINK, NDIAG_PROTO_ALL, 0, 0, NDIAG_SHOW_MEMINFO), seq)


class NetlinkParser(FamilyParser):
    """The records of a netlink_diag dump, each socket once."""

    FAMILY = AF_NETLINK
    TABLE = 'netlink'
    MESSAGE = _NETLINK_MSG

    def __init__(self, seq: int | None = None, interface_name: InterfaceNamer | None = None,
                 user_name: UserNamer | None = None) -> None:
        super().__init__(seq, interface_name, user_name)
        self.seen: set[tuple[int, int, int]] = set()

    def build(self, view: memoryview, fields: tuple[Any, ...], start: int, end: int) -> None:
        protocol, state, portid, dst_portid, dst_group, inode = fields[5:11]
        key = (protocol, portid, inode)
        if key in self.seen:
            return
        self.seen.add(key)
        recv_q = send_q = 0
        for attr, first, last in attributes(view, start, end):
            if attr == NETLINK_DIAG_MEMINFO and last - first >= 4 * (SK_MEMINFO_WMEM_ALLOC + 1):
                recv_q = I32.unpack_from(view, first + 4 * SK_MEMINFO_RMEM_ALLOC)[0]
                send_q = I32.unpack_from(view, first + 4 * SK_MEMINFO_WMEM_ALLOC)[0]
        if state == NETLINK_CONNECTED:
            peer, peer_port = str(_signed32(dst_group)), _signed32(dst_portid)
        else:
            peer, peer_port = '', 0
        self.record('nl', 'UNCONN', 'netlink', str(protocol), _signed32(portid), peer, peer_port,
                    recv_q, send_q, inode, None)
