# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the packet table over packet_diag: its request, the protocol as ss prints it, its
parser.

Records (`families.dump_packet`): netid `p_raw` / `p_dgr`; state `UNCONN`; family `link`; local_address = the
ethertype as `ss -n` prints it: `*` for ETH_P_ALL, else `[N]` with N in decimal (`[2048]` for IPv4, `[0]` for
none); local_port = the bound ifindex (0 = any; ss prints the name, or `*`); interface = its name (null for 0);
peer_address `""`, peer_port 0 (ss: `*`); recv_q = receive memory, send_q = 0; uid from PACKET_DIAG_UID.
"""

from __future__ import annotations

import struct
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.family_parser import (
    SK_MEMINFO_RMEM_ALLOC,
    SOCK_RAW,
    FamilyParser,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import (
    I32,
    SEQ,
    U32,
    attributes,
    diag_request,
)

AF_PACKET = 17
ETH_P_ALL = 0x0003
PACKET_SHOW_INFO, PACKET_SHOW_MEMINFO = 0x01, 0x10
PACKET_DIAG_INFO, PACKET_DIAG_UID, PACKET_DIAG_MEMINFO = 0, 5, 6

_PACKET_REQ = struct.Struct('=BBHII8x')      # family, protocol, pad, ino, show, cookie
_PACKET_MSG = struct.Struct('=IH2xI4xBBHI8x')           # type, num (ethertype, host order), ino


def packet_protocol_text(number: int) -> str:
    """An ethertype as `ss -n` prints a packet socket's protocol: `*` for ETH_P_ALL, else `[N]`."""
    return '*' if number == ETH_P_ALL else '[%d]' % number


def packet_request(seq: int = SEQ) -> bytes:
    """The bytes of a packet_diag dump request (bound device and memory of every packet socket)."""
    return diag_request(_PACKET_REQ.pack(AF_PACKET, 0, 0, 0, PACKET_SHOW_INFO | PACKET_SHOW_MEMINFO), seq)


class PacketParser(FamilyParser):
    """The records of a packet_diag dump."""

    FAMILY = AF_PACKET
    TABLE = 'packet'
    MESSAGE = _PACKET_MSG

    def build(self, view: memoryview, fields: tuple[Any, ...], start: int, end: int) -> None:
        kind, number, inode = fields[4:7]
        ifindex, recv_q, uid = 0, 0, None
        for attr, first, last in attributes(view, start, end):
            if attr == PACKET_DIAG_INFO and last - first >= 4:
                ifindex = U32.unpack_from(view, first)[0]
            elif attr == PACKET_DIAG_MEMINFO and last - first >= 4 * (SK_MEMINFO_RMEM_ALLOC + 1):
                recv_q = I32.unpack_from(view, first + 4 * SK_MEMINFO_RMEM_ALLOC)[0]
            elif attr == PACKET_DIAG_UID and last - first >= 4:
                uid = U32.unpack_from(view, first)[0]
        self.record('p_raw' if kind == SOCK_RAW else 'p_dgr', 'UNCONN', 'link', packet_protocol_text(number),
                    ifindex, '', 0, recv_q, 0, inode, uid, self.interface_name(ifindex) if ifindex else None, ifindex)
