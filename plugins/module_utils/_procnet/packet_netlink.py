# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the lines of /proc/net/packet and /proc/net/netlink as socket records."""

from __future__ import annotations

import re
from typing import Callable

from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.lines import HEX, data_rows
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record, UserNamer, ethertype_text, user_namer

# Each pattern matches the start of a data line (never the header) and captures the fields we read. The kernel's
# formats: af_packet.c packet_seq_show, af_netlink.c netlink_seq_show.
_PACKET_LINE = re.compile(r'^%s+ +\d+ +(\d+) +(%s+) +(\d+) +\d+ +(\d+) +(\d+) +(\d+)(?!\S)' % (HEX, HEX), re.M)
_PACKET_LAYOUT = 'sk RefCnt Type Proto Iface R Rmem User Inode'
_NETLINK_LINE = re.compile(r'^%s+ +(\d+) +(\d+) +%s+ +(\d+) +(\d+) +\d+ +\d+ +\d+ +(\d+)(?!\S)' % (HEX, HEX), re.M)
_NETLINK_LAYOUT = 'sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode'

_SOCK_RAW = 3


def parse_packet(text: str, source: str = 'net/packet', problems: list[str] | None = None, user_name: UserNamer | None = None,
                 interface_name: Callable[[int], str | None] | None = None) -> list[Record]:
    """Records from the text of /proc/net/packet; interface_name(index) names a device (default `if<index>`)."""
    problems = [] if problems is None else problems
    user_name = user_name or user_namer()
    interface_name = interface_name or 'if{0}'.format
    records: list[Record] = []
    for kind, protocol, ifindex_text, rmem, uid_text, inode in data_rows(_PACKET_LINE, text, _PACKET_LAYOUT, source, problems):
        ifindex, uid = int(ifindex_text), int(uid_text)
        records.append({
            'netid': 'p_raw' if int(kind) == _SOCK_RAW else 'p_dgr', 'state': 'UNCONN', 'family': 'link',
            'local_address': ethertype_text(int(protocol, 16)), 'local_port': ifindex, 'peer_address': '', 'peer_port': 0,
            'interface': interface_name(ifindex) if ifindex else None, 'v6only': None,
            # ss shows packet sockets' Send-Q as 0 on either path.
            'recv_q': int(rmem), 'send_q': 0, 'inode': int(inode), 'uid': uid, 'user': user_name(uid),
            'processes': [], 'owner_unknown': None, 'netns': None, 'mark': None, 'cgroup_id': None, 'port_locked': None,
            # The origin keys (_gather fills them after the owners: _origin/run.py).
            'cgroup': None, 'owner_cgroups': None, 'unit': None, 'container': None, 'package': None,
            'security_context': None, 'origin_unknown': None,
            '_ifindex': ifindex,
        })
    return records


def parse_netlink(text: str, source: str = 'net/netlink', problems: list[str] | None = None) -> list[Record]:
    """Records from the text of /proc/net/netlink."""
    problems = [] if problems is None else problems
    records: list[Record] = []
    seen: set[tuple[str, ...]] = set()
    for protocol, portid_text, rmem, wmem, inode in data_rows(_NETLINK_LINE, text, _NETLINK_LAYOUT, source, problems):
        if (protocol, portid_text, inode) in seen:
            continue        # listed once, as the netlink reader lists it
        seen.add((protocol, portid_text, inode))
        portid = int(portid_text) & 0xffffffff
        records.append({
            'netid': 'nl', 'state': 'UNCONN', 'family': 'netlink',
            # ss prints the u32 port id as a signed int: ids the kernel picked on a clash are negative.
            'local_address': str(int(protocol)), 'local_port': portid - (1 << 32) if portid >> 31 else portid,
            'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None,
            'recv_q': int(rmem), 'send_q': int(wmem), 'inode': int(inode), 'uid': None, 'user': None,
            'processes': [], 'owner_unknown': None, 'netns': None, 'mark': None, 'cgroup_id': None, 'port_locked': None,
            # The origin keys (_gather fills them after the owners: _origin/run.py).
            'cgroup': None, 'owner_cgroups': None, 'unit': None, 'container': None, 'package': None,
            'security_context': None, 'origin_unknown': None,
            '_ifindex': 0,
        })
    return records
