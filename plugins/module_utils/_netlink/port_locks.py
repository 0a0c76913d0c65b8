# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: which inet sockets hold no port lock (their local port picked by the kernel, ss's
`autobound`), asked of the kernel in a dump of its own that keeps only those sockets."""

from __future__ import annotations

import struct
from typing import Any, Callable, Mapping

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.inet import (
    SWAP_PORTS,
    address_text,
    explain_inet_error,
    inet_request,
    reply_type,
    table_name,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import (
    SEQ,
    SOCK_DIAG_BY_FAMILY,
    DiagMessages,
    run_dump,
)

# One BC_AUTO op (yes: the next op, no: past the end): the kernel's own test that a socket holds no port lock.
_AUTO_OP = struct.Struct('=BBH')
INET_DIAG_BC_AUTO = 6
# nlmsghdr + inet_diag_msg, only what the port-lock dump needs: len, type, seq, family, sport, dport, src, dst,
# inode.
_LOCK_MSG = struct.Struct('=IH2xI4xB3xHH16s16s4x8x4x4x4x4xI')

# record -> whether its socket holds no port lock, as unlocked_sockets() makes it.
IsUnlocked = Callable[[Mapping[str, Any]], bool]


def autobound_program(bytecode: bytes | bytearray | memoryview | None = None) -> bytes:
    """An INET_DIAG bytecode program that keeps the sockets without the kernel's port lock (SOCK_BINDPORT_LOCK),
    and that pass `bytecode` too when given."""
    rest = bytes(bytecode or b'')
    return _AUTO_OP.pack(INET_DIAG_BC_AUTO, 4, 8 + len(rest)) + rest


class _LockParser(object):
    """Collects the sockets of a port-lock dump: inodes, and (src, sport, dst, dport) for those without one."""

    def __init__(self, seq: int | None, msg_type: int = SOCK_DIAG_BY_FAMILY) -> None:
        self.seq = seq
        self.msg_type = msg_type
        self.inodes: set[int] = set()
        self.flows: set[tuple[int, bytes, int, bytes, int]] = set()

    def feed(self, data: bytes | bytearray | memoryview, length: int | None = None) -> bool:
        """Read data[:length]; return True once NLMSG_DONE is seen. NLMSG_ERROR raises SockDiagError."""
        messages = DiagMessages(data, length, self.seq, self.msg_type)
        view, unpack_msg, msg_size = messages.view, _LOCK_MSG.unpack_from, _LOCK_MSG.size
        add_inode, add_flow = self.inodes.add, self.flows.add
        for offset, msg_len, _end in messages:
            if msg_len < msg_size:
                raise ValueError('malformed netlink reply: inet_diag message at byte %d has %d bytes'
                                 % (offset, msg_len))
            family, sport, dport, src, dst, inode = unpack_msg(view, offset)[3:]
            if inode:
                add_inode(inode)
            else:
                add_flow((family, src, sport, dst, dport))
        return messages.done


def unlocked_sockets(protocol: int, family: int, states: int,
                     bytecode: bytes | bytearray | memoryview | None = None) -> IsUnlocked:
    """The sockets of an inet table that hold no port lock, i.e. whose local port the kernel picked (ss's
    `autobound`, as the kernel judges it; TIME-WAIT and SYN-RECV entries never hold one), among those that pass
    `bytecode` when given: a function is_unlocked(record) for records of that table dumped just before."""
    parser = _LockParser(SEQ, reply_type(family))
    request = inet_request(protocol, family, states, autobound_program(bytecode))
    run_dump(request, parser.feed, table_name(protocol, family),
             lambda code: explain_inet_error(protocol, family, code, True))
    inodes, flows = parser.inodes, parser.flows
    if not flows:
        return lambda record: record['inode'] in inodes
    texts = set()
    swap = SWAP_PORTS
    for flow_family, src, sport, dst, dport in flows:
        if swap:
            sport = ((sport & 0xff) << 8) | (sport >> 8)
            dport = ((dport & 0xff) << 8) | (dport >> 8)
        texts.add((address_text(flow_family, src), sport, address_text(flow_family, dst), dport))

    def is_unlocked(record: Mapping[str, Any]) -> bool:
        inode = record['inode']
        if inode:
            return inode in inodes
        return (record['local_address'], record['local_port'], record['peer_address'], record['peer_port']) in texts
    return is_unlocked
