# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: FamilyParser, what the readers of the unix, packet, netlink and vsock tables share:
the walk over one dump's messages, checked against the family's message, and the record in _records.FIELDS order.

Every record has every key of _records.FIELDS, in that order, then the private key `_ifindex` (the device
index ss's `dev` condition compares: the packet socket's bound device, 0 for the other tables). Values are
what `ss -a -n` prints (iproute2 6.1), except where each family's file says otherwise.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.names import InterfaceNamer, interface_namer
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import DiagMessages
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record, UserNamer, user_namer

SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
# Indexes into the SK_MEMINFO array that packet and netlink sockets send.
SK_MEMINFO_RMEM_ALLOC, SK_MEMINFO_WMEM_ALLOC = 0, 2


class FamilyParser(object):
    """Turns the reply bytes of one dump of a family into records, chunk by chunk.

    A subclass names its FAMILY (the AF_* number), TABLE (the table's name in messages) and MESSAGE (the netlink
    header's length, type and seq, then the family's *_diag_msg; the family is its fourth field), and builds the
    record of each message in build()."""

    FAMILY: ClassVar[int]
    TABLE: ClassVar[str]
    MESSAGE: ClassVar[struct.Struct]

    def __init__(self, seq: int | None = None, interface_name: InterfaceNamer | None = None,
                 user_name: UserNamer | None = None) -> None:
        self.seq = seq
        self.interface_name = interface_name or interface_namer()
        self.user_name = user_name or user_namer()
        self.records: list[Record] = []
        self.users: dict[int | None, Any] = {}

    def feed(self, data: bytes | bytearray | memoryview, length: int | None = None) -> bool:
        """Parse data[:length]; return True once NLMSG_DONE is seen. NLMSG_ERROR raises SockDiagError."""
        messages = DiagMessages(data, length, self.seq)
        view, msg, build, family = messages.view, self.MESSAGE, self.build, self.FAMILY
        msg_size = msg.size
        for offset, msg_len, end in messages:
            if msg_len < msg_size:
                raise ValueError('malformed netlink reply: %s_diag message at byte %d has %d bytes, expected '
                                 'at least %d' % (self.TABLE, offset, msg_len, msg_size))
            fields = msg.unpack_from(view, offset)
            if fields[3] != family:
                raise ValueError('malformed netlink reply: message at byte %d has family %d, expected %d'
                                 % (offset, fields[3], family))
            build(view, fields, offset + msg_size, end)
        return messages.done

    def build(self, view: memoryview, fields: tuple[Any, ...], start: int, end: int) -> None:
        """Add the record of one message: fields unpacked by MESSAGE, its attributes in view[start:end]."""
        raise NotImplementedError

    def record(self, netid: str, state: str, family: str, local: str, local_port: int, peer: str, peer_port: int,
               recv_q: int, send_q: int, inode: int, uid: int | None, interface: str | None = None,
               ifindex: int = 0) -> None:
        """Add a record (the packet, netlink and vsock readers; unix builds its own on the hot path)."""
        # Keys in _records.FIELDS order, then the private one (a test holds the two together).
        self.records.append({
            'netid': netid, 'state': state, 'family': family,
            'local_address': local, 'local_port': local_port, 'peer_address': peer, 'peer_port': peer_port,
            'interface': interface, 'v6only': None, 'recv_q': recv_q, 'send_q': send_q, 'inode': inode,
            'uid': uid, 'user': None if uid is None else self.user_name(uid), 'processes': [], 'owner_unknown': None, 'netns': None,
            'mark': None, 'cgroup_id': None, 'port_locked': None,
            # The origin keys (_gather fills them after the owners: _origin/run.py).
            'cgroup': None, 'owner_cgroups': None, 'unit': None, 'container': None, 'package': None,
            'security_context': None, 'origin_unknown': None, '_ifindex': ifindex,
        })

    def finish(self) -> list[Record]:
        """The records of the dump."""
        return self.records
