# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the socket table vocabulary (names, aliases, groups, netids, default states).

Every consumer resolves table names here: socket_facts' `tables` option, the filter language's tables, the
`ss_filter` filter and the psutil backend. The names are those `ss -A` takes (iproute2 6.1), limited to the
tables this collection reads: `xdp` and `tipc`, which `ss -A` also takes, are refused by name (UNREAD), and so
`all` means every table of TABLES (ss's `all` less `xdp`). Names are matched without case and surrounding blanks
(ss itself takes lower case only). docs/socket_facts.md ("Tables") says the same for users.
"""

from __future__ import annotations

from typing import Iterable

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import ALL_STATES, STATE_NUMBERS

# The tables, in the order ss prints them.
TABLES = ('netlink', 'packet_raw', 'packet_dgram', 'unix_stream', 'unix_dgram', 'unix_seqpacket',
          'raw', 'udp', 'tcp', 'dccp', 'sctp', 'vsock_stream', 'vsock_dgram', 'mptcp')
ALIASES = {'u_str': 'unix_stream', 'u_dgr': 'unix_dgram', 'u_seq': 'unix_seqpacket',
           'p_raw': 'packet_raw', 'p_dgr': 'packet_dgram', 'v_str': 'vsock_stream', 'v_dgr': 'vsock_dgram'}
GROUPS = {
    'all': TABLES,
    'inet': ('raw', 'udp', 'tcp', 'dccp', 'sctp', 'mptcp'),
    'unix': ('unix_stream', 'unix_dgram', 'unix_seqpacket'),
    'packet': ('packet_raw', 'packet_dgram'),
    'vsock': ('vsock_stream', 'vsock_dgram'),
}
# Names `ss -A` takes for sockets that no reader here reads: refused, saying so, rather than read as "no sockets".
UNREAD = {'xdp': 'AF_XDP sockets', 'tipc': 'TIPC sockets'}
# The netid of each table's records, as ss prints it in its Netid column. Every reader names a raw socket `raw`
# (ss, over netlink, names it by its protocol: `icmp6`, or `???`).
NETIDS = {'netlink': 'nl', 'packet_raw': 'p_raw', 'packet_dgram': 'p_dgr', 'unix_stream': 'u_str',
          'unix_dgram': 'u_dgr', 'unix_seqpacket': 'u_seq', 'raw': 'raw', 'udp': 'udp', 'tcp': 'tcp', 'dccp': 'dccp',
          'sctp': 'sctp', 'vsock_stream': 'v_str', 'vsock_dgram': 'v_dgr', 'mptcp': 'mptcp'}


def _bits(*names: str) -> int:
    mask = 0
    for name in names:
        mask |= 1 << STATE_NUMBERS[name]
    return mask


# ss's SS_CONN: the states ss shows by default for a connection table (not LISTEN, UNCONN, TIME-WAIT, SYN-RECV).
SS_CONN = ALL_STATES & ~_bits('LISTEN', 'UNCONN', 'TIME-WAIT', 'SYN-RECV')
# The states ss shows for each table when a filter's state clauses come to nothing (ss's default_dbs).
DEFAULT_STATES = {
    'netlink': _bits('UNCONN'), 'packet_raw': _bits('UNCONN'), 'packet_dgram': _bits('UNCONN'),
    'unix_stream': SS_CONN, 'unix_dgram': _bits('UNCONN'), 'unix_seqpacket': SS_CONN,
    'raw': _bits('ESTAB'), 'udp': _bits('ESTAB'), 'tcp': SS_CONN, 'dccp': SS_CONN, 'sctp': SS_CONN,
    'vsock_stream': SS_CONN, 'vsock_dgram': SS_CONN, 'mptcp': SS_CONN,
}


class TableError(NetauditError, ValueError):
    """A table name that cannot be read; the message names it and lists the names that can."""


def known_names() -> list[str]:
    """Every name resolve() takes (tables, aliases, groups), sorted."""
    return sorted(set(TABLES) | set(GROUPS) | set(ALIASES))


def resolve(names: str | Iterable[object]) -> tuple[list[str], set[str]]:
    """(tables in ss's order, the set of tables named one by one rather than through a group such as `all`) for
    table names as `ss -A` takes them (a string is one name). Raises TableError naming an unknown or unread name,
    or an empty list."""
    if isinstance(names, str):
        names = [names]
    chosen: set[str] = set()
    explicit: set[str] = set()
    for name in names:
        key = str(name).strip().lower()
        key = ALIASES.get(key, key)
        if key in GROUPS:
            chosen.update(GROUPS[key])
        elif key in TABLES:
            chosen.add(key)
            explicit.add(key)
        elif key in UNREAD:
            raise TableError('tables: socket table "%s" (%s) is one ss knows but netaudit.sockets does not read; '
                             'expected one of %s' % (name, UNREAD[key], ', '.join(known_names())))
        else:
            raise TableError('tables: unknown socket table "%s"; expected one of %s' % (name, ', '.join(known_names())))
    if not chosen:
        raise TableError('tables: the list is empty; name at least one table (tcp, udp ...)')
    return [table for table in TABLES if table in chosen], explicit


def netids(tables: Iterable[str]) -> frozenset[str]:
    """The netids of the records of these tables (resolved names, as resolve() returns them)."""
    return frozenset(NETIDS[table] for table in tables)


def default_states(tables: Iterable[str]) -> int:
    """The state bits ss shows for these tables (resolved names) when a state clause set comes to nothing."""
    mask = 0
    for table in tables:
        mask |= DEFAULT_STATES[table]
    return mask
