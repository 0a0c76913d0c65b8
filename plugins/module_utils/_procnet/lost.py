# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the record keys the /proc/net files cannot fill, per table, and why."""

from __future__ import annotations

# Records have the keys and conventions of the netlink readers (_netlink.inet.dump_inet, _netlink.families): every key
# of _records.FIELDS in that order, then their private key `_ifindex` (None for inet here: /proc has no device index).
# Keys /proc cannot fill are None (an inet socket's mark, cgroup id and port lock among them):
LOST_FIELDS = {
    'tcp': ('interface', 'v6only', 'send_q', 'mark', 'cgroup_id', 'port_locked'),
    'udp': ('interface', 'v6only', 'mark', 'cgroup_id', 'port_locked'),
    'raw': ('interface', 'v6only', 'mark', 'cgroup_id', 'port_locked'),
    'unix': ('peer_address', 'peer_port', 'recv_q', 'send_q', 'uid', 'user'),
    'packet': (),
    'netlink': ('peer_address', 'peer_port'),
}
# Why, per table, in words a socket_meta reason can quote.
_NO_DEVICE = '/proc shows neither the bound device nor the IPv6 scope'
_NO_V6ONLY = '/proc does not show IPV6_V6ONLY'
_NO_PEER = '/proc does not show the peer'
_NO_MARK = '/proc shows no socket marks'
_NO_CGROUP = '/proc shows no cgroups'
_NO_LOCK = '/proc does not show whether a port was bound explicitly'
_INET_KERNEL = {'mark': _NO_MARK, 'cgroup_id': _NO_CGROUP, 'port_locked': _NO_LOCK}
LOST_REASONS = {
    'tcp': {'interface': _NO_DEVICE, 'v6only': _NO_V6ONLY,
            'send_q': '/proc shows 0 instead of the backlog of LISTEN sockets (other states keep their send queue)',
            **_INET_KERNEL},
    'udp': {'interface': _NO_DEVICE, 'v6only': _NO_V6ONLY, **_INET_KERNEL},
    'raw': {'interface': _NO_DEVICE, 'v6only': _NO_V6ONLY, **_INET_KERNEL},
    'unix': {'peer_address': _NO_PEER, 'peer_port': _NO_PEER, 'recv_q': '/proc shows no queues for unix sockets',
             'send_q': '/proc shows no queues for unix sockets', 'uid': '/proc shows no owner for unix sockets',
             'user': '/proc shows no owner for unix sockets'},
    'packet': {},
    'netlink': {'peer_address': _NO_PEER, 'peer_port': _NO_PEER},
}


def lost_reason(table: str) -> str | None:
    """One sentence for socket_meta.incomplete_reasons: what records of this table read from /proc lack, and why
    (None when they lack nothing)."""
    keys = LOST_FIELDS[table]
    if not keys:
        return None
    reasons: list[str] = []
    for key in keys:
        if LOST_REASONS[table][key] not in reasons:
            reasons.append(LOST_REASONS[table][key])
    return 'table %s read from /proc: %s %s null, because %s' % (
        table, ', '.join(keys), 'is' if len(keys) == 1 else 'are', '; '.join(reasons))
