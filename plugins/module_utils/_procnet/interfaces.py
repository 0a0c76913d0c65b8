# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the names of a /proc tree's network devices, for the packet sockets bound to one."""

from __future__ import annotations

import os
import re
import socket
from typing import Callable

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import (
    TABLE_LIMIT, TABLE_LINE_LIMIT, BoundedReadError, host_name, read_text,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.lines import HEX


def interface_names(proc_root: str = '/proc') -> dict[int, str]:
    """ifindex -> name in the namespace of a /proc tree, from its net/igmp, net/if_inet6, net/igmp6 and
    net/dev_mcast (together they name nearly every device; each may be missing)."""
    names: dict[int, str] = {}

    def lines(name: str) -> list[str]:
        try:
            return read_text(os.path.join(proc_root, 'net', name), TABLE_LIMIT, TABLE_LINE_LIMIT).split('\n')
        except BoundedReadError:
            return []

    for line in lines('igmp'):
        # `Idx<TAB>Device    : Count Querier`, then group lines that start with tabs.
        index, _tab, rest = line.partition('\t')
        name = rest.split(':', 1)[0].strip()
        if index.isdigit() and ':' in rest and name:
            names.setdefault(int(index), name)
    for line in lines('if_inet6'):
        fields = line.split()
        if len(fields) == 6 and re.match(r'%s+\Z' % HEX, fields[1]):
            names.setdefault(int(fields[1], 16), fields[5])
    for line in lines('igmp6') + lines('dev_mcast'):
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names.setdefault(int(fields[0]), fields[1])
    return names


def interface_namer(proc_root: str, problems: list[str]) -> Callable[[int], str | None]:
    """index -> name: the tree's own files first, this process's namespace only when the tree is /proc itself,
    else `if<index>` as ss writes an index it cannot name (and a problem says so)."""
    own_namespace = os.path.realpath(proc_root) == '/proc'
    cache: dict[int, str | None] = {}

    def interface_name(index: int) -> str | None:
        if not cache:
            cache.update(interface_names(proc_root))
            cache[0] = None
        if index in cache:
            return cache[index]
        name = None
        if own_namespace:
            try:
                name = host_name(socket.if_indextoname(index))
            except (OSError, OverflowError, ValueError):
                pass
        if name is None:
            name = 'if%d' % index
            problems.append('%s: no interface with index %d is named there; it is shown as "%s"'
                            % (os.path.join(proc_root, 'net'), index, name))
        cache[index] = name
        return name
    return interface_name
