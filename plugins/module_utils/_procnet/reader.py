# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: reading the socket tables of a /proc tree (read_table), file by file (parse_text)."""

from __future__ import annotations

import os
from typing import Callable

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import (
    SMALL_LIMIT, TABLE_LIMIT, TABLE_LINE_LIMIT, BoundedReadError, host_text, net_directory, read_bytes, read_text,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.inet import parse_inet
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.interfaces import interface_namer
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.packet_netlink import parse_netlink, parse_packet
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.unix import old_layout, parse_unix, parse_unix_count, split_unix
from ansible_collections.netaudit.sockets.plugins.module_utils._records import ALL_STATES, Record, UserNamer, user_namer

TABLES = ('tcp', 'udp', 'raw', 'unix', 'packet', 'netlink')

# The files behind each table, in ss's order (IPv4 first), with the family of their records.
TABLE_FILES = {
    'tcp': (('tcp', 'inet'), ('tcp6', 'inet6')),
    'udp': (('udp', 'inet'), ('udp6', 'inet6')),
    'raw': (('raw', 'inet'), ('raw6', 'inet6')),
    'unix': (('unix', 'unix'),),
    'packet': (('packet', 'link'),),
    'netlink': (('netlink', 'netlink'),),
}
# Why a file may be missing: the kernel lacks the table, or IPv6.
_MISSING_WHY = {
    'tcp': 'the kernel lists no IPv4 TCP sockets', 'udp': 'the kernel lists no IPv4 UDP sockets',
    'raw': 'the kernel lists no IPv4 raw sockets',
    'tcp6': 'the kernel has no IPv6, so no IPv6 TCP sockets were read',
    'udp6': 'the kernel has no IPv6, so no IPv6 UDP sockets were read',
    'raw6': 'the kernel has no IPv6, so no IPv6 raw sockets were read',
    'unix': 'the kernel has no unix sockets', 'packet': 'the kernel has no packet sockets (CONFIG_PACKET)',
    'netlink': 'the kernel does not list netlink sockets',
}
# The unix table is read between two reads of the kernel's count, until both agree, at most this many times.
_COUNT_TRIES = 3


def parse_text(name: str, text: str, source: str | None = None, user_name: UserNamer | None = None,
               interface_name: Callable[[int], str | None] | None = None) -> tuple[list[Record], list[str]]:
    """(records, problems) from the text of one /proc/net file; name is the file's name ('tcp6', 'unix' ...)."""
    problems: list[str] = []
    source = source or 'net/' + name
    for table, files in TABLE_FILES.items():
        for file_name, family in files:
            if file_name == name:
                if table == 'unix':
                    return parse_unix(text, source, problems), problems
                if table == 'packet':
                    return parse_packet(text, source, problems, user_name, interface_name), problems
                if table == 'netlink':
                    return parse_netlink(text, source, problems), problems
                return parse_inet(text, table, family, source, problems, user_name), problems
    raise ValueError('unknown /proc/net socket file "%s": expected one of %s'
                     % (name, ', '.join(f for files in TABLE_FILES.values() for f, _family in files)))


def _read_file(path: str, name: str, problems: list[str]) -> bytes | None:
    """The bytes of one socket table, or None (a problem says why: missing, or not a file the module reads)."""
    try:
        return read_bytes(path, TABLE_LIMIT, TABLE_LINE_LIMIT)
    except BoundedReadError as exc:
        problems.append('%s is missing: %s' % (path, _MISSING_WHY[name]) if exc.missing else str(exc))
        return None


def unix_count(net: str) -> int | None:
    """The kernel's count of the namespace's unix sockets, from {net}/protocols; None when it cannot be read."""
    try:
        return parse_unix_count(read_text(os.path.join(net, 'protocols'), SMALL_LIMIT))
    except BoundedReadError:
        return None


def _unix_names() -> dict[int, str] | None:
    """{inode: name} of this namespace's unix sockets from the netlink unix_diag, or None when it is not usable."""
    from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import families    # pylint: disable=import-outside-toplevel
    try:
        return dict((record['inode'], record['local_address']) for record in families.dump_unix(ALL_STATES))
    except (OSError, ValueError):
        return None


def read_unix(net: str, problems: list[str], own_namespace: bool = False) -> list[Record]:
    """Records of {net}/unix; its candidates (unix.split_unix) judged by unix_diag when the tree is this namespace's
    /proc, and by the kernel's count (read before and after the file, until both agree) otherwise or for what
    unix_diag cannot tell."""
    path = os.path.join(net, 'unix')
    data = b''
    for _attempt in range(_COUNT_TRIES):
        before = unix_count(net)
        read = _read_file(path, 'unix', problems)
        if read is None:
            return []
        data = read
        after = unix_count(net)
        if before == after:
            break
    else:
        after = None
    if data.startswith(b'Peer'):
        problems.append(old_layout(path))
        return []
    entries = split_unix(data, path, problems)
    # unix_diag tells exactly where a name ends; the count alone can be matched by a host that also holds sockets
    # closed but not yet freed (counted, no longer listed).
    names = _unix_names() if own_namespace and any(entry.candidate for entry in entries) else None
    file_problems: list[str] = []
    records = parse_unix(entries, path, file_problems, after, names)
    problems.extend(file_problems)
    return records


def read_table(table: str, proc_root: str = '/proc') -> tuple[list[Record], list[str]]:
    """table: 'tcp', 'udp', 'raw', 'unix', 'packet', 'netlink'. Returns (records, problems): records of both
    families for inet tables (tcp + tcp6 ...); problems = human-readable strings (a missing file: the kernel lacks
    the table or IPv6; a file the module does not read (not a regular file, over its size limit, unreadable); a
    malformed line, naming file and line number; unix lines that could not be attributed). Never raises for a
    missing file; raises ValueError for an unusable proc_root (naming it)."""
    if table not in TABLE_FILES:
        raise ValueError('unknown socket table "%s" for /proc: expected one of %s' % (table, ', '.join(TABLES)))
    net = net_directory(proc_root)
    records: list[Record] = []
    problems: list[str] = []
    if table == 'unix':
        return read_unix(net, problems, os.path.realpath(proc_root) == '/proc'), problems
    user_name = user_namer()
    interface_name = interface_namer(proc_root, problems) if table == 'packet' else None
    for name, _family in TABLE_FILES[table]:
        path = os.path.join(net, name)
        data = _read_file(path, name, problems)
        if data is None:
            continue
        found, file_problems = parse_text(name, host_text(data), path, user_name, interface_name)
        records.extend(found)
        problems.extend(file_problems)
    return records, problems
