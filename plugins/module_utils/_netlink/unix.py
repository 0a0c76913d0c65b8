# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the unix table over unix_diag: its request, names as ss prints them, its parser.

Records (`families.dump_unix`): netid `u_str` / `u_dgr` / `u_seq`; state from the kernel (`ESTAB`, `LISTEN`,
`UNCONN`); family `unix`; local_address = the path, `@name` for an abstract name (every NUL byte shown as `@`),
`""` when unnamed (ss: `*`); local_port = null (ss prints the inode there); peer_port = the peer's inode, 0 when
none; peer_address = the peer's name when the peer is in the same dump, else `""` (ss over netlink always prints
`*`: it never resolves peers); recv_q/send_q from UNIX_DIAG_RQLEN (LISTEN: pending connections / backlog);
uid from UNIX_DIAG_UID (null on kernels that do not send it). Names that are not UTF-8 keep their other
bytes as `\\xNN`.
"""

from __future__ import annotations

import struct
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.family_parser import (
    SOCK_SEQPACKET,
    SOCK_STREAM,
    FamilyParser,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import MISSING, STATE_TEXT
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import (
    RTATTR,
    SEQ,
    U32,
    diag_request,
    states_checked,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record

AF_UNIX = 1
# What to ask for (udiag_show) and the reply attributes we read.
UDIAG_SHOW_NAME, UDIAG_SHOW_PEER, UDIAG_SHOW_RQLEN, UDIAG_SHOW_UID = 0x01, 0x04, 0x10, 0x40
UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN, UNIX_DIAG_UID = 0, 2, 4, 7
UNIX_NETIDS = {SOCK_STREAM: 'u_str', SOCK_SEQPACKET: 'u_seq'}           # any other type prints as u_dgr

_TWO_U32 = struct.Struct('=II')
_UNIX_REQ = struct.Struct('=BBHIII8x')       # family, protocol, pad, states, ino, show, cookie
_UNIX_MSG = struct.Struct('=IH2xI4xBBBxI8x')            # type, state, ino


def unix_name_text(raw: bytes | bytearray | memoryview) -> str:
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


def unix_request(states: int, seq: int = SEQ) -> bytes:
    """The bytes of a unix_diag dump request: names, peers, queues and uids of sockets in these states."""
    return diag_request(_UNIX_REQ.pack(AF_UNIX, 0, 0, states_checked(states), 0,
                                       UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID), seq)


class UnixParser(FamilyParser):
    """The records of a unix_diag dump; finish() names the peers."""

    FAMILY = AF_UNIX
    TABLE = 'unix'
    MESSAGE = _UNIX_MSG

    def build(self, view: memoryview, fields: tuple[Any, ...], start: int, end: int) -> None:
        """The hot path of a large dump (10k unix sockets): one pass over the attributes, locals only."""
        kind, state, inode = fields[4:7]
        name, peer, recv_q, send_q, uid = '', 0, 0, 0, None
        unpack_attr, u32 = RTATTR.unpack_from, U32.unpack_from
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
        user = users.get(uid, MISSING)
        if user is MISSING:
            user = users[uid] = None if uid is None else self.user_name(uid)
        # Keys in _records.FIELDS order, then the private one (a test holds the two together).
        self.records.append({
            'netid': UNIX_NETIDS.get(kind, 'u_dgr'), 'state': STATE_TEXT[state], 'family': 'unix',
            'local_address': name, 'local_port': None, 'peer_address': '', 'peer_port': peer,
            'interface': None, 'v6only': None, 'recv_q': recv_q, 'send_q': send_q, 'inode': inode,
            'uid': uid, 'user': user, 'processes': [], 'owner_unknown': None, 'netns': None,
            'mark': None, 'cgroup_id': None, 'port_locked': None,
            # The origin keys (_gather fills them after the owners: _origin/run.py).
            'cgroup': None, 'owner_cgroups': None, 'unit': None, 'container': None, 'package': None,
            'security_context': None, 'origin_unknown': None, '_ifindex': 0,
        })

    def finish(self) -> list[Record]:
        """The records; unix peers get the name of the peer socket when it is in the same dump."""
        names = dict((record['inode'], record['local_address']) for record in self.records)
        for record in self.records:
            if record['peer_port']:
                record['peer_address'] = names.get(record['peer_port'], '')
        return self.records
