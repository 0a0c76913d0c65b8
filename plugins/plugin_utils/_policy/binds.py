# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a rule's bind (any, loopback, public, an address or a CIDR), read into a test of the
endpoints a socket listens on."""

from __future__ import annotations

import ipaddress

from typing import Callable, Optional, Tuple, Union

from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError, type_name
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import Listener, parse_ip

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
# (canonical text, IP version or None for a word, whether one endpoint of a listening socket is in the bind)
Bind = Tuple[str, Optional[int], Callable[[Address, Listener], bool]]


def bind_matcher(value: object, where: str) -> Bind:
    """The bind `value` read; raises PolicyError naming `where`."""
    if not isinstance(value, str) or not value.strip():
        raise PolicyError('%s: expected any, loopback, public, an address or a CIDR, got %s' % (
            where, 'an empty string' if isinstance(value, str) else type_name(value)))
    text = value.strip()
    word = text.lower()
    if word in ('any', '*'):
        return 'any', None, lambda end, listener: end.is_unspecified
    if word == 'loopback':
        return 'loopback', None, lambda end, listener: end.is_loopback or listener.interface == 'lo'
    if word == 'public':
        return 'public', None, lambda end, listener: not (end.is_loopback or listener.interface == 'lo')
    bare = text[1:-1] if text.startswith('[') and text.endswith(']') else text
    if '/' in bare:
        try:
            network = ipaddress.ip_network(bare, strict=False)
        except ValueError:
            pass
        else:
            if network.version == 6 and network.prefixlen >= 96 and network.network_address.ipv4_mapped is not None:
                network = ipaddress.ip_network('%s/%d' % (network.network_address.ipv4_mapped, network.prefixlen - 96))
            return str(network), network.version, (
                lambda end, listener: end.version == network.version and end in network)
    else:
        ip = parse_ip(bare)
        if ip is not None and '%' not in bare:
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            return str(ip), ip.version, lambda end, listener: end == ip
    raise PolicyError('%s: "%s": expected any, loopback, public, an address or a CIDR' % (where, value))
