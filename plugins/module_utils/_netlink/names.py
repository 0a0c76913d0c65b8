# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the names the sock_diag readers put in records: state names by number, interface
names by index (looked up once per dump), and MISSING, which marks a user name not looked up yet."""

from __future__ import annotations

import socket
from typing import Callable, Optional

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import host_name
from ansible_collections.netaudit.sockets.plugins.module_utils._records import state_name

# index -> interface name (None for 0: no device), as interface_namer() makes it.
InterfaceNamer = Callable[[int], Optional[str]]

STATE_TEXT = tuple(state_name(number) for number in range(256))
# The value of a cache lookup that found nothing (a user name may itself be None).
MISSING = object()


def interface_namer() -> InterfaceNamer:
    """index -> name in the caller's network namespace, cached for one dump (ss writes an unknown index as ifN)."""
    cache: dict[int, str | None] = {0: None}

    def interface_name(index: int) -> str | None:
        try:
            return cache[index]
        except KeyError:
            try:
                # Python decodes the name with surrogateescape; facts show bytes that are not UTF-8 as \\xNN.
                name = host_name(socket.if_indextoname(index))
            except OSError:
                name = 'if%d' % index
            cache[index] = name
            return name
    return interface_name
