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
import sys

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10
INET_FAMILIES = ('inet', 'inet6')
PREFIX_FAMILIES = ('unix', 'link', 'netlink', 'vsock', 'inet', 'inet6')

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


class RecordProblem(NetauditError):
    """A record lacks what a condition needs (marks, cgroup ids, interface indexes)."""

    def __init__(self, term, what):
        super(RecordProblem, self).__init__(term, what)
        self.term, self.what = term, what


# --- numbers, the way ss's C helpers read them -------------------------------------------------------

_SPACE = ' \t\n\v\f\r'
# More significant digits than this is past every range a C long holds (strtol saturates there), and int() refuses
# more than 4300 decimal digits: such a number is read as one that no range check lets through.
_MAX_DIGITS = 64
_HUGE = 1 << 256


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
    number = text[start:i].lstrip('0') or '0'
    if len(number) > _MAX_DIGITS:
        return sign * _HUGE, text[i:]
    return sign * int(number, base), text[i:]


def c_unsigned_prefix(text):
    """strtoul's reading: a negative number wraps around (so it is huge); past 64 bits it saturates at ULONG_MAX."""
    value, rest = c_integer_prefix(text)
    if value is not None:
        if not -(1 << 64) < value < (1 << 64):
            value = (1 << 64) - 1
        elif value < 0:
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

# A unix socket name is at most 108 bytes (sun_path): a glob that needs more characters matches nothing.
_LONGEST_UNIX_NAME = 108


def _without_reversed_ranges(body):
    """A bracket expression's body without its reversed ranges ([z-a]): fnmatch(3) ignores them, re refuses them."""
    kept, i = [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == '-':
            if body[i] <= body[i + 2]:
                kept.append(body[i:i + 3])
            i += 3
        else:
            kept.append(body[i])
            i += 1
    return ''.join(kept)


def glob_regex(pattern):
    pieces, i, n = [], 0, len(pattern)      # the regex of each item of the pattern; None for a star
    while i < n:
        c = pattern[i]
        i += 1
        if c == '*':
            if not pieces or pieces[-1] is not None:
                pieces.append(None)
        elif c == '?':
            pieces.append('.')
        elif c == '\\' and i < n:
            pieces.append(re.escape(pattern[i]))
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
                pieces.append('\\[')
                continue
            body = pattern[i:j]
            i = j + 1
            negate = body[:1] in ('!', '^')
            if negate:
                body = body[1:]
            body = _without_reversed_ranges(body)
            if not body:
                pieces.append('.' if negate else '(?!)')
                continue
            body = body.replace('\\', '\\\\').replace('^', '\\^').replace('[', '\\[')
            pieces.append('[%s%s]' % ('^' if negate else '', body))
        else:
            pieces.append(re.escape(c))
    if sum(1 for piece in pieces if piece is not None) > _LONGEST_UNIX_NAME:
        return re.compile('(?!)')
    # Each star and the items up to the next star are one atomic group, (?=(.*?ITEMS))(?P=g): the shortest match is
    # kept and never retried, which is enough for a glob and cannot backtrack exponentially (fnmatch does the same).
    out, group, k = [], 0, 0
    while k < len(pieces) and pieces[k] is not None:
        out.append(pieces[k])
        k += 1
    while k < len(pieces):
        k += 1
        run = []
        while k < len(pieces) and pieces[k] is not None:
            run.append(pieces[k])
            k += 1
        if k == len(pieces):
            out.append('.*' + ''.join(run))
        else:
            group += 1
            out.append('(?=(?P<g%d>.*?%s))(?P=g%d)' % (group, ''.join(run), group))
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


def _word(value):
    """128-bit data whose first 32-bit word holds value in host byte order: how ss stores a link ethertype,
    a netlink protocol or a vsock CID where an inet address would be (its address tests compare these bits)."""
    return int.from_bytes((value & 0xffffffff).to_bytes(4, sys.byteorder), 'big') << 96


def _signed32(value):
    value &= 0xffffffff
    return value - (1 << 32) if value & 0x80000000 else value


def _as_int(value, default):
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

    def __init__(self, record):
        self.record = record
        family = self.family = record.get('family')
        self.inet = family in INET_FAMILIES
        self.name = self.peer_name = None
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
            self.local = _word(_as_int(other_address_value('link', record.get('local_address')), 0))
            self.lport = _as_int(record.get('local_port'), 0)
            self.rport = 0
            self.iface = _as_int(record.get('_ifindex'), self.lport)
        elif family == 'netlink':
            self.local = _word(_as_int(other_address_value('netlink', record.get('local_address')), 0))
            self.lport = _signed32(_as_int(record.get('local_port'), 0))
            self.rport = -1
        elif family == 'vsock':
            self.local = _word(_as_int(other_address_value('vsock', record.get('local_address')), 0))
            self.peer = _word(_as_int(other_address_value('vsock', record.get('peer_address')), 0))
            self.lport = _signed32(_as_int(record.get('local_port'), 0))
            self.rport = _signed32(_as_int(record.get('peer_port'), 0))
        else:
            self.local = self.peer = None
            self.lport = _as_int(record.get('local_port'), -2)
            self.rport = _as_int(record.get('peer_port'), -2)


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
        self.device = None
        if family in ('link', 'netlink', 'vsock'):
            self._other_spec(family, other or (None, None))

    def _other_spec(self, family, other):
        """The address word, its bit length and the port, as ss stores them for a link/netlink/vsock spec."""
        address, port = other
        self.other_bits = 0 if address is None else 32
        self.other_data = 0 if address is None else _word(address)
        if port is None:
            port = -1
        elif isinstance(port, int):
            # ss reads these ports into a C int: a negative number stays negative (autobound netlink portids),
            # and a vsock port of 0xffffffff is -1, which means any.
            port = port - (1 << 64) if port >= 1 << 63 else port
            if family == 'vsock':
                port = _signed32(port)
        self.other_port = port        # -1 = any; a str is a device name ss would turn into its index
        self.device = port if isinstance(port, str) else None

    def _mine(self, view):
        if self.side == 'src':
            return view.local, view.lport
        return view.peer, view.rport

    def user(self, view, env):
        if self.family == 'unix':
            if view.family != 'unix':
                return False
            name = view.name if self.side == 'src' else view.peer_name
            return self.regex.match(name or '') is not None
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
        """ss's generic check with a link/netlink/vsock spec: the port, then the first address word."""
        data, port = self._mine(view)
        wanted = self.other_port
        if isinstance(wanted, str):
            # A device ss would have turned into its index here; records name their device.
            if self.side != 'src' or view.family != 'link' or view.record.get('interface') != wanted:
                return False
        elif wanted != -1 and wanted != port:
            return False
        if self.other_bits:
            return data is not None and _prefix_equal(data, self.other_data, self.other_bits)
        return True


_BRACKETED = re.compile(r'\[(\d+)\]\Z')


def other_address_value(family, text):
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


class PortCmp(Term):
    """sport/dport >= or <= N (> and < are their negations). device: the name of a `link:NAME` port, N being its
    index (the module reads it again in each network namespace it reads: SSFilter.bind_devices)."""

    def __init__(self, side, op, port, text='', word=0, device=None, device_word=0):
        self.side, self.op, self.port, self.text, self.word = side, op, port, text, word
        self.device, self.device_word = device, device_word

    def _cmp(self, have, want):
        return have >= want if self.op == 'ge' else have <= want

    def user(self, view, env):
        return self._cmp(view.lport if self.side == 'src' else view.rport, self.port)

    def kernel(self, view, env):
        # The kernel reads the port from a u16 field of the program.
        return self._cmp(view.lport if self.side == 'src' else view.rport, self.port & 0xffff)


# The name the kernel gives a unix socket bound to "": `@` and five lower-case hex digits.
_AUTOBIND_NAME = re.compile(r'@[0-9a-f]{5}\Z')


class AutoBound(Term):
    text = 'autobound'

    def __init__(self, word=0):
        self.word = word

    def user(self, view, env):
        if view.inet:
            low, high = env.ephemeral_range()
            return low <= view.lport <= high
        if view.family == 'unix':
            return view.name == '' or _AUTOBIND_NAME.match(view.name) is not None
        if view.family == 'link':
            return view.lport == 0 and view.local == 0
        if view.family == 'netlink':
            return view.lport < 0
        if view.family == 'vsock':
            return view.lport > 1023
        return False

    def kernel(self, view, env):
        locked = view.record.get('port_locked')
        if locked is None:
            # Without the kernel's BINDPORT lock, the best guess is the userspace rule.
            return self.user(view, env)
        return not locked


class DevCond(Term):
    """dev NAME|INDEX. value is the word as written, value_word its position: the module reads it again in each
    network namespace it reads (SSFilter.bind_devices), as ss run there would; ss_filter keeps parse_dev's reading."""
    in_kernel = False

    def __init__(self, index, name, text='', word=0, value=None, value_word=0):
        self.index, self.name, self.text, self.word = index, name, text, word
        self.value, self.value_word = value, value_word
        self.bound = False

    def user(self, view, env):
        record = view.record
        if self.index is not None and view.iface is not None:
            # ss compares the socket's device index: the bound device of inet and packet sockets, else 0.
            return view.iface == self.index
        if not view.inet:
            return self.index is None and self.name is not None and record.get('interface') == self.name
        if self.index == 0:
            return not record.get('interface')
        if self.name is not None or self.bound:
            # Bound in the namespace read: a record without the index (the /proc reader knows no device) has the
            # device ss's /proc reading gives it, none.
            return self.name is not None and record.get('interface') == self.name
        raise RecordProblem(self, 'interface indexes (_ifindex)')

    def bind(self):
        """Read the word again in the current network namespace, as ss run there reads it; False when ss refuses it."""
        index = ss_device_index(self.value)
        if index is None:
            return False
        self.index, self.name, self.bound = index, device_name(index), True
        return True


class MarkCond(Term):
    def __init__(self, mark, mask, text='', word=0):
        self.mark, self.mask, self.text, self.word = mark, mask, text, word

    def user(self, view, env):
        mark = view.record.get('mark')
        if mark is None:
            if 'mark' in view.record or not view.inet:
                mark = 0
            else:
                raise RecordProblem(self, 'socket marks (mark)')
        return (mark & self.mask) == self.mark


class CgroupCond(Term):
    def __init__(self, cgroup_id, path, text='', word=0):
        self.cgroup_id, self.path, self.text, self.word = cgroup_id, path, text, word

    def user(self, view, env):
        value = view.record.get('cgroup_id')
        if value is None:
            if 'cgroup_id' in view.record or not view.inet:
                value = 0
            else:
                raise RecordProblem(self, 'cgroup ids (cgroup_id)')
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


# ll_idx_a2n's sscanf(name, "if%u"): "if", blanks, a sign, decimal digits (strtoul's reading, cut to 32 bits).
_IF_NUMBER = re.compile(r'if[ \t\n\v\f\r]*([+-]?)([0-9]+)')


def _if_number(text):
    """The index ss reads from a word of the form `if<N>` (`if7` is 7, `if-1` 4294967295), 0 otherwise."""
    found = _IF_NUMBER.match(text)
    if not found:
        return 0
    digits = found.group(2).lstrip('0') or '0'
    if len(digits) > _MAX_DIGITS or int(digits) >= 1 << 64:
        value = (1 << 64) - 1            # strtoul saturates, whatever the sign
    else:
        value = int(digits)
        if found.group(1) == '-':
            value = ((1 << 64) - value) & ((1 << 64) - 1)
    return value & 0xffffffff


def ll_name_to_index(text):
    """The index of a device name in the current network namespace as iproute2's ll_name_to_index finds it
    (the name or a short alternative name, else `if<N>`); 0 when there is none. ss also finds alternative names
    of 16 characters or more (through an RTM_GETLINK request); those are not looked up here."""
    try:
        index = socket.if_nametoindex(text)
    except (OSError, ValueError, UnicodeError):
        index = 0
    return index or _if_number(text)


def ss_device_index(text):
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


def device_name(index):
    """The name of a device index in the current network namespace, None when there is none."""
    try:
        return socket.if_indextoname(index) if index else None
    except (OSError, ValueError, OverflowError):
        return None


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
    except (OSError, ValueError) as exc:     # ValueError: a NUL byte, or a lone surrogate the file system cannot take
        raise ValueProblem('no such cgroup (%s)' % (getattr(exc, 'strerror', None) or exc))
