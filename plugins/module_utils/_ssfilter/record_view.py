# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: what ss's userspace check sees of one socket record, which the conditions judge."""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, Mapping

from ansible_collections.netaudit.sockets.plugins.module_utils._records import INET_FAMILIES
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.c_numbers import signed32
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.values import address_word, other_address_value

_ADDR_CACHE: Dict[str, int] = {}


def _address_bits(text: str) -> int:
    """128-bit userspace data of an inet address text: IPv4 in the first 32 bits, IPv6 as is."""
    try:
        return _ADDR_CACHE[text]
    except KeyError:
        pass
    try:
        ip = ipaddress.ip_address(text.split('%', 1)[0]) if text else None
    except ValueError:
        ip = None
    if ip is None:
        value = 0
    elif ip.version == 4:
        value = int(ip) << 96
    else:
        value = int(ip)
    if len(_ADDR_CACHE) > 65536:
        _ADDR_CACHE.clear()
    _ADDR_CACHE[text] = value
    return value


def _as_int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class View(object):
    """What ss's userspace check sees of one record (its `sockstat`), computed once.

    inet: the addresses and ports. unix: lport is the inode, rport the peer's inode; the local name is what
    `src unix:` globs see; live ss never learns peer names, so `dst unix:` sees "" (`peer_name` is always None),
    whatever `peer_address` says.
    link: lport is the bound ifindex, rport 0, the ethertype sits in the first address word. netlink: lport is
    the portid, rport always -1, the protocol sits in the first address word. vsock: ports and CIDs.
    Outside inet, an address word ss never fills is 0, and a unix name is a pointer in ss (None here: no match).
    """
    __slots__ = ('record', 'family', 'inet', 'local', 'peer', 'lport', 'rport', 'iface', 'name', 'peer_name')

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        family = self.family = record.get('family')
        self.inet = family in INET_FAMILIES
        self.name: str | None = None
        self.peer_name: str | None = None
        # Addresses as 128-bit numbers (None: a name or nothing ss could compare); ports and the device index, as
        # the record gives them (records from elsewhere than socket_facts may hold anything there).
        self.local: int | None
        self.peer: int | None
        self.lport: Any
        self.rport: Any
        self.iface: Any
        if self.inet:
            self.local = _address_bits(record.get('local_address') or '')
            self.peer = _address_bits(record.get('peer_address') or '')
            self.lport = record.get('local_port') or 0
            self.rport = record.get('peer_port') or 0
            self.iface = record.get('_ifindex')
            return
        self.iface = 0
        self.peer = 0
        if family == 'unix':
            self.name = record.get('local_address') or ''
            self.local = None if self.name else 0
            self.lport = _as_int(record.get('inode'), 0)
            self.rport = _as_int(record.get('peer_port'), 0)
        elif family == 'link':
            self.local = address_word(_as_int(other_address_value('link', record.get('local_address')), 0))
            self.lport = _as_int(record.get('local_port'), 0)
            self.rport = 0
            self.iface = _as_int(record.get('_ifindex'), self.lport)
        elif family == 'netlink':
            self.local = address_word(_as_int(other_address_value('netlink', record.get('local_address')), 0))
            self.lport = signed32(_as_int(record.get('local_port'), 0))
            self.rport = -1
        elif family == 'vsock':
            self.local = address_word(_as_int(other_address_value('vsock', record.get('local_address')), 0))
            self.peer = address_word(_as_int(other_address_value('vsock', record.get('peer_address')), 0))
            self.lport = signed32(_as_int(record.get('local_port'), 0))
            self.rport = signed32(_as_int(record.get('peer_port'), 0))
        else:
            self.local = self.peer = None
            self.lport = _as_int(record.get('local_port'), -2)
            self.rport = _as_int(record.get('peer_port'), -2)
