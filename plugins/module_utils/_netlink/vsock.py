# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the vsock table over vsock_diag: its request and its parser.

Records (`families.dump_vsock`): netid `v_str` / `v_dgr` (`???` for other types, as ss prints them); state from
the kernel; family `vsock`; addresses = the CIDs as decimal text, `*` for VMADDR_CID_ANY; ports as numbers, -1
for VMADDR_PORT_ANY (ss: `*`); recv_q/send_q 0; uid = null.
"""

from __future__ import annotations

import struct
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.family_parser import (
    SOCK_DGRAM,
    SOCK_STREAM,
    FamilyParser,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import STATE_TEXT
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import (
    SEQ,
    diag_request,
    states_checked,
)

AF_VSOCK = 40
VMADDR_CID_ANY = 0xffffffff
VMADDR_PORT_ANY = 0xffffffff
VSOCK_NETIDS = {SOCK_STREAM: 'v_str', SOCK_DGRAM: 'v_dgr'}              # any other type prints as ???

_VSOCK_REQ = struct.Struct('=BBHIII8x')      # family, protocol, pad, states, ino, show, cookie
_VSOCK_MSG = struct.Struct('=IH2xI4xBBBBIIIII8x')       # type, state, shutdown, src cid/port, dst cid/port, ino


def _cid_text(cid: int) -> str:
    return '*' if cid == VMADDR_CID_ANY else str(cid)


def _vsock_port(port: int) -> int:
    return -1 if port == VMADDR_PORT_ANY else port


def vsock_request(states: int, seq: int = SEQ) -> bytes:
    """The bytes of a vsock_diag dump request for sockets in these states."""
    return diag_request(_VSOCK_REQ.pack(AF_VSOCK, 0, 0, states_checked(states), 0, 0), seq)


class VsockParser(FamilyParser):
    """The records of a vsock_diag dump."""

    FAMILY = AF_VSOCK
    TABLE = 'vsock'
    MESSAGE = _VSOCK_MSG

    def build(self, view: memoryview, fields: tuple[Any, ...], start: int, end: int) -> None:
        kind, state, _shutdown, src_cid, src_port, dst_cid, dst_port, inode = fields[4:12]
        self.record(VSOCK_NETIDS.get(kind, '???'), STATE_TEXT[state], 'vsock', _cid_text(src_cid),
                    _vsock_port(src_port), _cid_text(dst_cid), _vsock_port(dst_port), 0, 0, inode, None)
