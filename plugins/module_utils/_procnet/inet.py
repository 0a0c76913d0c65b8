# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the lines of /proc/net/{tcp,udp,raw} and their IPv6 twins, as socket records."""

from __future__ import annotations

import re
import socket
import struct
import sys
from typing import Callable

from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.lines import HEX, data_rows
from ansible_collections.netaudit.sockets.plugins.module_utils._records import (
    Record, UserNamer, inet_address_text, no_cycle_collection, state_name, user_namer,
)

# One pattern per family; each matches the start of a data line (never the header) and captures the fields we read.
# The kernel's formats: net/ipv4/tcp_ipv4.c get_tcp4_sock, udp.c udp4_format_sock, raw.c, and their IPv6 twins
# (addresses as four host-order %08X words).
_INET_TAIL = r' (%s{2}) (%s{8}):(%s{8}) \S+ \S+ +(\d+) +\S+ +(\d+)(?!\S)' % (HEX, HEX, HEX)
_INET_LINES = {
    'inet': re.compile(r'^ *\d+: (%s{8}):(%s{4}) (%s{8}):(%s{4})' % ((HEX,) * 4) + _INET_TAIL, re.M),
    'inet6': re.compile(r'^ *\d+: (%s{32}):(%s{4}) (%s{32}):(%s{4})' % ((HEX,) * 4) + _INET_TAIL, re.M),
}
_INET_LAYOUT = 'sl: LOCAL:PORT REMOTE:PORT st tx_queue:rx_queue tr:when retrnsmt uid timeout inode'

_U32X4 = struct.Struct('=4I')
_BE_U32X4 = struct.Struct('>4I')
_STATES = dict(('%02X' % number, state_name(number)) for number in range(256))
_STATES.update(('%02x' % number, state_name(number)) for number in range(256))


def _ipv4(word: str, _ntop: Callable[[int, bytes], str] = socket.inet_ntop, _fromhex: Callable[[str], bytes] = bytes.fromhex,
          _swap: bool = sys.byteorder == 'little') -> str:
    # The kernel prints the network-order __be32 as a host-order %08X: on a little-endian host the hex digits
    # read backwards are the address bytes.
    return _ntop(socket.AF_INET, _fromhex(word)[::-1] if _swap else _fromhex(word))


def _ipv6(words: str, _ntop: Callable[[int, bytes], str] = socket.inet_ntop, _fromhex: Callable[[str], bytes] = bytes.fromhex,
          _words: Callable[[bytes], tuple[int, ...]] = _BE_U32X4.unpack, _raw: Callable[..., bytes] = _U32X4.pack) -> str:
    # Four such words: each read as the number it prints, then stored in host order.
    raw = _raw(*_words(_fromhex(words)))
    text = _ntop(socket.AF_INET6, raw)
    # The netlink reader's text: ::ffff:a.b.c.d dotted, every other IPv6 address in hex groups.
    return inet_address_text(socket.AF_INET6, raw) if '.' in text else text


def parse_inet(text: str, netid: str, family: str, source: str = 'net/tcp', problems: list[str] | None = None,
               user_name: UserNamer | None = None) -> list[Record]:
    """Records from the text of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}; netid 'tcp', 'udp' or 'raw'; family
    'inet' or 'inet6'. Malformed lines are skipped and reported in problems (a list)."""
    problems = [] if problems is None else problems
    user_name = user_name or user_namer()
    to_text = _ipv4 if family == 'inet' else _ipv6
    addresses: dict[str, str] = {}
    users: dict[str, tuple[int, str | None]] = {}
    states = _STATES
    listen_send_q = netid != 'tcp'      # a tcp LISTEN socket's tx_queue is 0 in /proc, not its backlog
    records: list[Record] = []
    append = records.append
    with no_cycle_collection():
        for local, lport, remote, rport, state, send_q, recv_q, uid, inode in data_rows(
                _INET_LINES[family], text, _INET_LAYOUT, source, problems):
            local_text = addresses.get(local)
            if local_text is None:
                local_text = addresses[local] = to_text(local)
            peer_text = addresses.get(remote)
            if peer_text is None:
                peer_text = addresses[remote] = to_text(remote)
            owner = users.get(uid)
            if owner is None:
                owner = users[uid] = (int(uid), user_name(int(uid)))
            state = states[state]
            # Keys in _records.FIELDS order, then the netlink reader's private ones (unknown here: None).
            append({
                'netid': netid, 'state': state, 'family': family,
                'local_address': local_text, 'local_port': int(lport, 16),
                'peer_address': peer_text, 'peer_port': int(rport, 16),
                'interface': None, 'v6only': None, 'recv_q': int(recv_q, 16),
                'send_q': int(send_q, 16) if listen_send_q or state != 'LISTEN' else None,
                'inode': int(inode), 'uid': owner[0], 'user': owner[1], 'processes': [], 'owner_unknown': None, 'netns': None,
                'mark': None, 'cgroup_id': None, 'port_locked': None,
                # The origin keys (_gather fills them after the owners: _origin/run.py).
                'cgroup': None, 'owner_cgroups': None, 'unit': None, 'container': None, 'package': None,
                'security_context': None, 'origin_unknown': None, '_ifindex': None,
            })
    return records
