# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: what the value of a filter term parses to, read as ss 6.1 reads it: ports, inet
addresses (and host names), link/netlink/vsock specs, devices, marks and cgroups."""

from __future__ import annotations

import os
import re
import socket
import sys
from typing import Callable, Iterable, List, Optional, Tuple, Union

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.cgroups import find_cgroup2_mount
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.c_numbers import (
    MAX_DIGITS, SPACE, c_integer, c_integer_prefix, c_unsigned_prefix,
)

AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10
# The family prefixes a host or port word may start with (`unix:/run/*`, `inet6:[::1]:22` ...).
PREFIX_FAMILIES = ('unix', 'link', 'netlink', 'vsock', 'inet', 'inet6')

# One address of an inet condition: (family number, prefix length, the address as 128 bits, IPv4 in the first 32).
Alternative = Tuple[int, int, int]
# resolver(name, family) -> addresses as text; family 'inet', 'inet6' or None.
Resolver = Callable[[str, Optional[str]], Iterable[str]]
# The port of a link/netlink/vsock spec: None for any, a number, or (link) a device name.
OtherPort = Union[int, str, None]

# Ethertype names as ss 6.1's ll_proto table spells them (matched case-insensitively, as ss does), for link:
# conditions; the last four are our unambiguous extras, which ss refuses.
ETHERTYPES = {
    'loop': 0x0060, 'pup': 0x0200, 'pupat': 0x0201, 'ip': 0x0800, 'x25': 0x0805, 'arp': 0x0806, 'bpq': 0x08ff,
    'ieeepup': 0x0a00, 'ieeepupat': 0x0a01, 'dec': 0x6000, 'dna_dl': 0x6001, 'dna_rc': 0x6002, 'dna_rt': 0x6003,
    'lat': 0x6004, 'diag': 0x6005, 'cust': 0x6006, 'sca': 0x6007, 'rarp': 0x8035, 'atalk': 0x809b,
    'aarp': 0x80f3, 'ipx': 0x8137, 'ipv6': 0x86dd, 'ppp_disc': 0x8863, 'ppp_ses': 0x8864, 'atmmpoa': 0x884c,
    'atmfate': 0x8884, '802_3': 0x0001, 'ax25': 0x0002, 'all': 0x0003, '802_2': 0x0004, 'snap': 0x0005,
    'ddcmp': 0x0006, 'wan_ppp': 0x0007, 'ppp_mp': 0x0008, 'localtalk': 0x0009, 'can': 0x000c,
    'ppptalk': 0x0010, 'tr_802_2': 0x0011, 'mobitex': 0x0015, 'control': 0x0016, 'irda': 0x0017,
    'econet': 0x0018, 'tipc': 0x88ca, 'aoe': 0x88a2, '802.1q': 0x8100, '802.1ad': 0x88a8, 'mpls_uc': 0x8847,
    'mpls_mc': 0x8848, 'teb': 0x6558, 'lldp': 0x88cc, 'ipv4': 0x0800,
    '8021q': 0x8100, '8021ad': 0x88a8, 'pppoe_disc': 0x8863, 'pppoe_sess': 0x8864,
}
# Netlink protocol names as ss 6.1 spells them, for netlink: conditions ('smc' is our extra; ss matches the
# names case-sensitively, we do not).
NETLINK_PROTOCOLS = {
    'rtnl': 0, 'unused': 1, 'usersock': 2, 'fw': 3, 'tcpdiag': 4, 'nflog': 5, 'xfrm': 6, 'selinux': 7,
    'iscsi': 8, 'audit': 9, 'fiblookup': 10, 'connector': 11, 'nft': 12, 'ip6fw': 13, 'dec-rt': 14,
    'uevent': 15, 'genl': 16, 'scsi-trans': 18, 'ecryptfs': 19, 'rdma': 20, 'crypto': 21, 'smc': 22,
}


class ValueProblem(NetauditError):
    """A value token that cannot be read; the parser turns it into a FilterError with the token's position."""


# --- ports --------------------------------------------------------------------------------------------

def parse_port(text: str, tables: Iterable[str]) -> int:
    """A port value: a number in any base, '' or '*' (any = -1), or a tcp/udp service name."""
    if text in ('', '*'):
        return -1
    number = c_integer(text, -(1 << 31), (1 << 31) - 1)
    if number is not None:
        return number
    found: dict[str, int] = {}
    for proto in ('tcp', 'udp'):
        if proto in tables:
            try:
                found[proto] = socket.getservbyname(text, proto)
            except (OSError, UnicodeError, ValueError):
                pass
    if len(set(found.values())) > 1:
        raise ValueProblem('ambiguous port "%s" (tcp %d, udp %d)' % (text, found['tcp'], found['udp']))
    if found:
        return list(found.values())[0]
    raise ValueProblem(None)


# --- inet addresses -----------------------------------------------------------------------------------

def split_inet_spec(text: str, is_port: bool) -> tuple[str, str]:
    """(address, port) texts of an inet host word (`ADDR[:PORT]`, `[IPV6][:PORT]`, `*:PORT`), or of a port word."""
    if is_port:
        return '', text[1:] if text.startswith(':') else text
    if text.startswith('['):
        close = text.find(']')
        if close < 0:
            raise ValueProblem('missing "]"')
        port = text[close + 1:]
        return text[1:close], port[1:] if port.startswith(':') else port
    if text.startswith('*'):
        port = text[1:]
        return '', port[1:] if port.startswith(':') else port
    colon = text.rfind(':', max(text.find('/'), 0))
    return (text, '') if colon < 0 else (text[:colon], text[colon + 1:])


def _ipv4_bits(text: str) -> int | None:
    """ss's IPv4 reading: 1 to 4 dot-separated parts, each strtoul base 0 and <= 255; missing parts are 0."""
    parts = text.split('.')
    if len(parts) > 4:
        return None
    value = 0
    for part in parts:
        number, rest = c_unsigned_prefix(part)
        if number is None or rest or number > 255:
            return None
        value = (value << 8) | number
    return value << (8 * (4 - len(parts)))


def _prefix_len(text: str, family: int) -> int | None:
    """The /LEN part: an unsigned number in any base, else a dotted netmask (contiguous ones)."""
    limit = 32 if family == AF_INET else 128
    number, rest = c_unsigned_prefix(text)
    if number is not None and not rest and number <= 0xffffffff:
        return number if number <= limit else None
    mask = _ipv4_bits(text)
    if mask is None:
        return None
    ones = format(mask, '032b').rstrip('0')
    return len(ones) if '0' not in ones and len(ones) <= limit else None


def inet_prefix(text: str, fam: str | None) -> Alternative | None:
    """One address alternative (family number, prefix length, 128-bit data) or None; fam is the token's family."""
    if text in ('default', 'any', 'all'):
        return ({'inet': AF_INET, 'inet6': AF_INET6}.get(fam or '', AF_UNSPEC), 0, 0)
    addr, slash, length = text.partition('/')
    if ':' in addr:
        if fam == 'inet':
            return None
        try:
            data = int.from_bytes(socket.inet_pton(socket.AF_INET6, addr), 'big')
        except (OSError, ValueError):
            return None
        family = AF_INET6
    else:
        if fam == 'inet6':
            return None
        bits = _ipv4_bits(addr)
        if bits is None:
            return None
        data, family = bits << 96, AF_INET
    if slash:
        bitlen = _prefix_len(length, family)
        if bitlen is None:
            return None
    else:
        bitlen = 32 if family == AF_INET else 128
    return (family, bitlen, data)


def default_resolver(name: str, family: str | None) -> list[str]:
    """Addresses for a host name (getaddrinfo), as text, in the resolver's order."""
    af = {'inet': socket.AF_INET, 'inet6': socket.AF_INET6}.get(family or '', socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(name, None, af, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


def resolve_alternatives(text: str, fam: str | None, resolver: Resolver) -> list[Alternative]:
    """Every address a host name resolves to, each an alternative of the condition (an implicit OR)."""
    if not text or '/' in text or any(c in text for c in SPACE):
        return []
    alternatives: List[Alternative] = []
    for address in resolver(text, fam) or ():
        address = address.split('%', 1)[0]
        alt = inet_prefix(address, fam)
        if alt is not None and alt not in alternatives:
            alternatives.append(alt)
    return alternatives


def prefix_equal(a: int, b: int, bits: int) -> bool:
    """Whether two 128-bit addresses share their first `bits` bits."""
    if bits <= 0:
        return True
    shift = 128 - min(bits, 128)
    return (a >> shift) == (b >> shift)


def is_v4mapped(data: int) -> bool:
    """Whether a 128-bit IPv6 address is an IPv4-mapped one (::ffff:a.b.c.d)."""
    return (data >> 32) == 0xffff


# --- link:, netlink: and vsock: specs ---------------------------------------------------------------------

def address_word(value: int) -> int:
    """128-bit data whose first 32-bit word holds value in host byte order: how ss stores a link ethertype,
    a netlink protocol or a vsock CID where an inet address would be (its address tests compare these bits)."""
    return int.from_bytes((value & 0xffffffff).to_bytes(4, sys.byteorder), 'big') << 96


def other_spec(family: str, text: str, is_port: bool) -> tuple[int | None, OtherPort]:
    """(address value or None, port value or None) of a link:, netlink: or vsock: spec, read as ss's find_port
    splits it: a port word is all port (one leading ':' dropped), else the port follows the first ':'."""
    port: str | None
    if is_port:
        addr, port = '', text[1:] if text.startswith(':') else text
    else:
        addr, sep, port = text.partition(':')
        port = port if sep else None
    table = {'link': ETHERTYPES, 'netlink': NETLINK_PROTOCOLS}.get(family, {})
    address = None
    if addr not in ('', '*'):
        address = table.get(addr.lower())
        if address is None:
            address, rest = c_unsigned_prefix(addr)
            if address is None or rest:
                raise ValueProblem('unknown %s address "%s"' % (family, addr))
    return address, _other_port(family, port)


def _other_port(family: str, port: str | None) -> OtherPort:
    """The port of a link:/netlink:/vsock: spec (None when the spec has no port part): None for any, a number,
    or (link) a device name."""
    if port is None or port == '*':
        return None
    if family == 'vsock':
        # ss's get_u32: a whole number up to 0xffffffff (so not empty, and not negative).
        value, rest = c_unsigned_prefix(port)
        if value is None or rest or value > 0xffffffff:
            raise ValueProblem('"%s" is not a number from 0 to 4294967295' % port)
        return value
    if port == '':
        return None
    # ss's get_integer: a whole number in the range of a C int; else `kernel` (netlink) or a device name (link).
    number = c_integer(port, -(1 << 31), (1 << 31) - 1)
    if number is not None:
        return number
    number, rest = c_integer_prefix(port)
    if number is not None and not rest:
        raise ValueProblem('"%s" is out of range' % port)
    if family == 'netlink':
        if port != 'kernel':
            raise ValueProblem('"%s" is not a number' % port)
        return 0
    if len(port.encode('utf-8', 'replace')) > 15 or any(c in port for c in '/: \t\n\v\f\r'):
        raise ValueProblem('"%s" is not a device name or index' % port)
    return port


_BRACKETED = re.compile(r'\[(\d+)\]\Z')


def other_address_value(family: str, text: object) -> object:
    """A link/netlink/vsock address (ethertype, protocol, CID) as a number, from a name, a number, or the text
    `ss -n` prints (`*` and `[N]` for ethertypes, `*` for the any-CID); other text is returned unchanged."""
    if text is None:
        return None
    if isinstance(text, int):
        return text
    text = str(text).strip()
    if text == '*':
        return {'link': ETHERTYPES['all'], 'vsock': 0xffffffff}.get(family, text)
    table = {'link': ETHERTYPES, 'netlink': NETLINK_PROTOCOLS}.get(family, {})
    if text.lower() in table:
        return table[text.lower()]
    bracketed = _BRACKETED.match(text)
    if bracketed and family == 'link':
        return int(bracketed.group(1))
    value, rest = c_unsigned_prefix(text)
    return value if value is not None and not rest else text


# --- devices --------------------------------------------------------------------------------------------

def parse_dev(text: str) -> tuple[int | None, str | None]:
    """dev NAME|INDEX: (index or None, name or None); a name unknown here is kept and matched by name."""
    try:
        return socket.if_nametoindex(text), text
    except (OSError, ValueError, UnicodeError):
        pass
    index = c_integer(text, 0, 0xffffffff)
    if index is not None:
        try:
            name = socket.if_indextoname(index) if index else None
        except (OSError, ValueError, OverflowError):
            name = None
        return index, name
    if not text or '/' in text or len(text.encode('utf-8', 'replace')) > 15 or any(c in text for c in SPACE):
        raise ValueProblem('expected a device name or index')
    return None, text


# ll_idx_a2n's sscanf(name, "if%u"): "if", blanks, a sign, decimal digits (strtoul's reading, cut to 32 bits).
_IF_NUMBER = re.compile(r'if[ \t\n\v\f\r]*([+-]?)([0-9]+)')


def _if_number(text: str) -> int:
    """The index ss reads from a word of the form `if<N>` (`if7` is 7, `if-1` 4294967295), 0 otherwise."""
    found = _IF_NUMBER.match(text)
    if not found:
        return 0
    digits = found.group(2).lstrip('0') or '0'
    if len(digits) > MAX_DIGITS or int(digits) >= 1 << 64:
        value = (1 << 64) - 1            # strtoul saturates, whatever the sign
    else:
        value = int(digits)
        if found.group(1) == '-':
            value = ((1 << 64) - value) & ((1 << 64) - 1)
    return value & 0xffffffff


def ll_name_to_index(text: str) -> int:
    """The index of a device name in the current network namespace as iproute2's ll_name_to_index finds it
    (the name or a short alternative name, else `if<N>`); 0 when there is none. ss also finds alternative names
    of 16 characters or more (through an RTM_GETLINK request); those are not looked up here."""
    try:
        index = socket.if_nametoindex(text)
    except (OSError, ValueError, UnicodeError):
        index = 0
    return index or _if_number(text)


def ss_device_index(text: str) -> int | None:
    """The device index ss 6.1 reads for a `dev` word in the current network namespace (its parse_devcond: a
    device name, `if<N>`, else a number from 0 to 4294967295, which need not be a device); None where ss says
    "Cannot parse device."."""
    index = ll_name_to_index(text)
    if index:
        return index
    value, rest = c_unsigned_prefix(text)
    if value is None or rest or value > 0xffffffff:
        return None
    return value


def device_name(index: int) -> str | None:
    """The name of a device index in the current network namespace, None when there is none."""
    try:
        return socket.if_indextoname(index) if index else None
    except (OSError, ValueError, OverflowError):
        return None


# --- marks and cgroups ----------------------------------------------------------------------------------

def parse_mark(text: str) -> tuple[int, int]:
    """fwmark MARK[/MASK], each read like sscanf's %i (trailing junk after the last number is ignored)."""
    if '/' in text:
        head, _sep, tail = text.partition('/')
        mark, rest = c_integer_prefix(head)
        mask = c_integer_prefix(tail)[0]
        if mark is None or rest or mask is None:
            raise ValueProblem('expected a mark or mark/mask')
    else:
        mark = c_integer_prefix(text)[0]
        mask = 0xffffffff
        if mark is None:
            raise ValueProblem('expected a mark or mark/mask')
    return mark & 0xffffffff, mask & 0xffffffff


def cgroup2_mount() -> str | None:
    """Where the cgroup2 file system is mounted (the first cgroup2 mount, as _origin/cgroups.py finds it, the one
    ss takes), None when it is not."""
    mount, _problem = find_cgroup2_mount()
    return mount.path if mount is not None else None


def parse_cgroup(text: str) -> int:
    """A cgroup path, relative to the cgroup2 mount ('/' is its root), to the id the kernel reports (the inode)."""
    mount = cgroup2_mount()
    if mount is None:
        raise ValueProblem('no cgroup2 file system is mounted, so there is no cgroup')
    path = os.path.join(mount, text.lstrip('/'))
    try:
        return os.stat(path).st_ino
    except (OSError, ValueError) as exc:     # ValueError: a NUL byte, or a lone surrogate the file system cannot take
        raise ValueProblem('no such cgroup (%s)' % (getattr(exc, 'strerror', None) or exc))
