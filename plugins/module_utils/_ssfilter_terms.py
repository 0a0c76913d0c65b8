# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the values and conditions of the ss filter language, and how each is judged."""

from __future__ import annotations

import ipaddress
import os
import re
import socket

AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10
INET_FAMILIES = ('inet', 'inet6')
PREFIX_FAMILIES = ('unix', 'link', 'netlink', 'vsock', 'inet', 'inet6')

# Ethertype names as ss's ll_proto table spells them (lower case), for link: conditions.
ETHERTYPES = {
    'loop': 0x0060, '802_3': 0x0001, '802_2': 0x0004, 'all': 0x0003, 'ip': 0x0800, 'ipv6': 0x86dd,
    'arp': 0x0806, 'rarp': 0x8035, '8021q': 0x8100, '8021ad': 0x88a8, 'ipx': 0x8137, 'mpls_uc': 0x8847,
    'mpls_mc': 0x8848, 'pppoe_disc': 0x8863, 'pppoe_sess': 0x8864, 'lldp': 0x88cc, 'tipc': 0x88ca,
    'x25': 0x0805, 'ax25': 0x0002, 'can': 0x000c, 'wan_ppp': 0x0007, 'ppp_mp': 0x0008, 'snap': 0x0005,
}
# Netlink protocol names as ss spells them, for netlink: conditions.
NETLINK_PROTOCOLS = {
    'rtnl': 0, 'unused': 1, 'usersock': 2, 'fw': 3, 'tcpdiag': 4, 'nflog': 5, 'xfrm': 6, 'selinux': 7,
    'iscsi': 8, 'audit': 9, 'fiblookup': 10, 'connector': 11, 'nft': 12, 'ip6fw': 13, 'dec-rt': 14,
    'uevent': 15, 'genl': 16, 'scsi-trans': 18, 'ecryptfs': 19, 'rdma': 20, 'crypto': 21, 'smc': 22,
}


class ValueProblem(Exception):
    """A value token that cannot be read; the parser turns it into a FilterError with the token's position."""


class RecordProblem(Exception):
    """A record lacks what a condition needs (marks, cgroup ids, interface indexes)."""

    def __init__(self, term, what):
        super(RecordProblem, self).__init__(term, what)
        self.term, self.what = term, what


# --- numbers, the way ss's C helpers read them -------------------------------------------------------

_SPACE = ' \t\n\v\f\r'


def c_integer(text, low, high):
    """strtol(text, base 0) that must consume everything and land in [low, high]; None otherwise."""
    value, rest = c_integer_prefix(text)
    if value is None or rest or not low <= value <= high:
        return None
    return value


def c_integer_prefix(text):
    """The longest base-0 integer at the start of text (after blanks), as strtol reads it, and the rest."""
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    sign = 1
    if i < len(text) and text[i] in '+-':
        sign = -1 if text[i] == '-' else 1
        i += 1
    if text[i:i + 2].lower() == '0x' and i + 2 < len(text) and text[i + 2] in '0123456789abcdefABCDEF':
        base, i = 16, i + 2
        digits = '0123456789abcdef'
    elif text[i:i + 1] == '0':
        base, digits = 8, '01234567'
    else:
        base, digits = 10, '0123456789'
    start = i
    while i < len(text) and text[i].lower() in digits:
        i += 1
    if i == start:
        return None, text
    return sign * int(text[start:i], base), text[i:]


def c_unsigned_prefix(text):
    """strtoul's reading: a negative number wraps around (so it is huge)."""
    value, rest = c_integer_prefix(text)
    if value is not None and value < 0:
        value = (1 << 64) + value
    return value, rest


# --- ports --------------------------------------------------------------------------------------------

def parse_port(text, tables):
    """A port value: a number in any base, '' or '*' (any = -1), or a tcp/udp service name."""
    if text in ('', '*'):
        return -1
    number = c_integer(text, -(1 << 31), (1 << 31) - 1)
    if number is not None:
        return number
    found = {}
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

def _ipv4_bits(text):
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


def _prefix_len(text, family):
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


def inet_prefix(text, fam):
    """One address alternative (family number, prefix length, 128-bit data) or None; fam is the token's family."""
    if text in ('default', 'any', 'all'):
        return ({'inet': AF_INET, 'inet6': AF_INET6}.get(fam, AF_UNSPEC), 0, 0)
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


def default_resolver(name, family):
    """Addresses for a host name (getaddrinfo), as text, in the resolver's order."""
    af = {'inet': socket.AF_INET, 'inet6': socket.AF_INET6}.get(family, socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(name, None, af, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    return [info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


def resolve_alternatives(text, fam, resolver):
    """Every address a host name resolves to, each an alternative of the condition (an implicit OR)."""
    if not text or '/' in text or any(c in text for c in _SPACE):
        return []
    alternatives = []
    for address in resolver(text, fam) or ():
        address = address.split('%', 1)[0]
        alt = inet_prefix(address, fam)
        if alt is not None and alt not in alternatives:
            alternatives.append(alt)
    return alternatives


# --- unix globs (fnmatch(3) with FNM_CASEFOLD, no FNM_PATHNAME) -----------------------------------

def glob_regex(pattern):
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == '*':
            out.append('.*')
        elif c == '?':
            out.append('.')
        elif c == '\\' and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == '[':
            j = i
            if j < n and pattern[j] in '!^':
                j += 1
            if j < n and pattern[j] == ']':
                j += 1
            while j < n and pattern[j] != ']':
                j += 1
            if j >= n:
                out.append('\\[')
                continue
            body = pattern[i:j]
            i = j + 1
            negate = body[:1] in ('!', '^')
            if negate:
                body = body[1:]
            body = body.replace('\\', '\\\\').replace('^', '\\^').replace('[', '\\[')
            out.append('[%s%s]' % ('^' if negate else '', body))
        else:
            out.append(re.escape(c))
    return re.compile('(?s:%s)\\Z' % ''.join(out), re.IGNORECASE)


# --- record views -------------------------------------------------------------------------------------

_ADDR_CACHE = {}


def _address_bits(text):
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


class View(object):
    """What the conditions look at in one record, computed once."""
    __slots__ = ('record', 'family', 'inet', 'local', 'peer', 'lport', 'rport')

    def __init__(self, record):
        self.record = record
        self.family = record.get('family')
        self.inet = self.family in INET_FAMILIES
        if self.inet:
            self.local = _address_bits(record.get('local_address') or '')
            self.peer = _address_bits(record.get('peer_address') or '')
            self.lport = record.get('local_port') or 0
            self.rport = record.get('peer_port') or 0
        else:
            self.local = self.peer = None
            if self.family == 'unix':
                # ss puts the inode where the port would be, and the peer's inode as the peer port.
                self.lport = record.get('inode') or 0
                self.rport = record.get('_peer_inode', -2)
            else:
                self.lport = record.get('local_port')
                self.rport = record.get('peer_port')
            self.lport = -2 if self.lport is None else self.lport
            self.rport = -2 if self.rport is None else self.rport


def _prefix_equal(a, b, bits):
    if bits <= 0:
        return True
    shift = 128 - min(bits, 128)
    return (a >> shift) == (b >> shift)


def _is_v4mapped(data):
    return (data >> 32) == 0xffff


# --- conditions ---------------------------------------------------------------------------------------

class Term(object):
    """A leaf of the filter tree. user() is ss's userspace check, kernel() the INET_DIAG interpreter's."""
    in_kernel = True
    word = 0
    text = ''

    def user(self, view, env):
        raise NotImplementedError

    def kernel(self, view, env):
        return self.user(view, env)


class HostCond(Term):
    """src/dst/sport =/dport = : a host (alternatives) and a port, or a unix glob, or link/netlink/vsock."""

    def __init__(self, side, family, port, alternatives=(), pattern=None, other=None, text='', word=0):
        self.side = side              # 'src' or 'dst'
        self.family = family          # the token's family prefix, None when none
        self.port = port              # -1 = any
        self.alternatives = list(alternatives) or [(AF_UNSPEC, 0, 0)]
        self.pattern = pattern        # unix glob text
        self.regex = glob_regex(pattern) if pattern is not None else None
        self.other = other            # (address value or None, port value or None) for link/netlink/vsock
        self.text, self.word = text, word
        self.in_kernel = family not in ('unix', 'link', 'netlink', 'vsock')

    def _mine(self, view):
        if self.side == 'src':
            return view.local, view.lport
        return view.peer, view.rport

    def user(self, view, env):
        if self.family == 'unix':
            if view.family != 'unix':
                return False
            key = 'local_address' if self.side == 'src' else 'peer_address'
            return self.regex.match(view.record.get(key) or '') is not None
        if self.family in ('link', 'netlink', 'vsock'):
            return self._other_match(view)
        data, port = self._mine(view)
        if self.port != -1 and self.port != port:
            return False
        if self.alternatives[0][1] == 0:
            return True
        if data is None:
            return False
        mapped = view.family == 'inet6' and _is_v4mapped(data)
        for family, bits, rule in self.alternatives:
            if _prefix_equal(data, rule, bits):
                return True
            if mapped and family == AF_INET and _prefix_equal((data & 0xffffffff) << 96, rule, bits):
                return True
        return False

    def kernel(self, view, env):
        data, port = self._mine(view)
        if self.port != -1 and self.port != port:
            return False
        sock_family = AF_INET if view.family == 'inet' else AF_INET6
        for family, bits, rule in self.alternatives:
            if family != AF_UNSPEC and family != sock_family:
                if (sock_family == AF_INET6 and family == AF_INET and _is_v4mapped(data)
                        and _prefix_equal((data & 0xffffffff) << 96, rule, bits)):
                    return True
                continue
            if _prefix_equal(data, rule, bits):
                return True
        return False

    def _other_match(self, view):
        if view.family != self.family:
            return False
        address, port = self.other
        record = view.record
        if port is not None:
            if self.family == 'link':
                if port != record.get('_ifindex', record.get('local_port')) and port != record.get('interface'):
                    return False
            elif port != (record.get('local_port') if self.side == 'src' else record.get('peer_port')):
                return False
        if address is not None:
            key = 'local_address' if self.side == 'src' else 'peer_address'
            return other_address_value(self.family, record.get(key)) == address
        return True


def other_address_value(family, text):
    """A link/netlink/vsock address (ethertype, protocol, CID) as a number, from a name or a number."""
    if text is None:
        return None
    if isinstance(text, int):
        return text
    text = str(text).strip()
    table = {'link': ETHERTYPES, 'netlink': NETLINK_PROTOCOLS}.get(family, {})
    if text.lower() in table:
        return table[text.lower()]
    if family == 'link' and text == '*':
        return ETHERTYPES['all']
    value, rest = c_unsigned_prefix(text)
    return value if value is not None and not rest else text


class PortCmp(Term):
    """sport/dport >= or <= N (> and < are their negations)."""

    def __init__(self, side, op, port, text='', word=0):
        self.side, self.op, self.port, self.text, self.word = side, op, port, text, word

    def _cmp(self, have, want):
        return have >= want if self.op == 'ge' else have <= want

    def user(self, view, env):
        return self._cmp(view.lport if self.side == 'src' else view.rport, self.port)

    def kernel(self, view, env):
        # The kernel reads the port from a u16 field of the program.
        return self._cmp(view.lport if self.side == 'src' else view.rport, self.port & 0xffff)


class AutoBound(Term):
    text = 'autobound'

    def __init__(self, word=0):
        self.word = word

    def user(self, view, env):
        record = view.record
        if view.inet:
            low, high = env.ephemeral_range()
            return low <= view.lport <= high
        if view.family == 'unix':
            name = record.get('local_address') or ''
            return name == '' or re.match(r'@[0-9a-f]{5}\Z', name) is not None
        if view.family == 'link':
            return view.lport in (0, -2) and other_address_value('link', record.get('local_address')) in (0, None, '')
        if view.family == 'netlink':
            return view.lport < 0 and view.lport != -2
        if view.family == 'vsock':
            return view.lport > 1023
        return False

    def kernel(self, view, env):
        locked = view.record.get('_port_locked')
        if locked is None:
            # Without the kernel's BINDPORT lock, the best guess is the userspace rule.
            return self.user(view, env)
        return not locked


class DevCond(Term):
    in_kernel = False

    def __init__(self, index, name, text='', word=0):
        self.index, self.name, self.text, self.word = index, name, text, word

    def user(self, view, env):
        record = view.record
        if self.index is not None and record.get('_ifindex') is not None:
            return record['_ifindex'] == self.index
        if self.index == 0:
            return not record.get('interface')
        if self.name is not None:
            return record.get('interface') == self.name
        raise RecordProblem(self, 'interface indexes (_ifindex)')


class MarkCond(Term):
    def __init__(self, mark, mask, text='', word=0):
        self.mark, self.mask, self.text, self.word = mark, mask, text, word

    def user(self, view, env):
        mark = view.record.get('_mark')
        if mark is None:
            if '_mark' in view.record or not view.inet:
                mark = 0
            else:
                raise RecordProblem(self, 'socket marks (_mark)')
        return (mark & self.mask) == self.mark


class CgroupCond(Term):
    def __init__(self, cgroup_id, path, text='', word=0):
        self.cgroup_id, self.path, self.text, self.word = cgroup_id, path, text, word

    def user(self, view, env):
        value = view.record.get('_cgroup_id')
        if value is None:
            if '_cgroup_id' in view.record or not view.inet:
                value = 0
            else:
                raise RecordProblem(self, 'cgroup ids (_cgroup_id)')
        return value == self.cgroup_id


# --- dev, fwmark, cgroup values -----------------------------------------------------------------------

def parse_dev(text):
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
    if not text or '/' in text or len(text.encode('utf-8', 'replace')) > 15 or any(c in text for c in _SPACE):
        raise ValueProblem('expected a device name or index')
    return None, text


def parse_mark(text):
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


def cgroup2_mount(mounts='/proc/self/mounts'):
    try:
        with open(mounts, encoding='utf-8', errors='surrogateescape') as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 2 and fields[2] == 'cgroup2':
                    return fields[1].replace('\\040', ' ')
    except OSError:
        pass
    return None


def parse_cgroup(text):
    """A cgroup path, relative to the cgroup2 mount ('/' is its root), to the id the kernel reports (the inode)."""
    mount = cgroup2_mount()
    if mount is None:
        raise ValueProblem('no cgroup2 file system is mounted, so there is no cgroup')
    path = os.path.join(mount, text.lstrip('/'))
    try:
        return os.stat(path).st_ino
    except OSError as exc:
        raise ValueProblem('no such cgroup (%s)' % (exc.strerror or exc))
