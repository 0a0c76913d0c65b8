# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a /proc/net reader for the socket tables (ss's fallback, and foreign /proc trees)."""

from __future__ import annotations

import os
import re
import socket
import struct
import sys

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import (
    SMALL_LIMIT, TABLE_LIMIT, TABLE_LINE_LIMIT, BoundedReadError, host_name, host_text, read_bytes, read_text,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._records import (
    ALL_STATES, inet_address_text, no_cycle_collection, state_name, user_namer,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._summary import net_directory

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

# Records have the keys and conventions of the netlink readers (_sockdiag.dump_inet, _sockdiag_other): every key
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


def lost_reason(table):
    """One sentence for socket_meta.incomplete_reasons: what records of this table read from /proc lack, and why
    (None when they lack nothing)."""
    keys = LOST_FIELDS[table]
    if not keys:
        return None
    reasons = []
    for key in keys:
        if LOST_REASONS[table][key] not in reasons:
            reasons.append(LOST_REASONS[table][key])
    return 'table %s read from /proc: %s %s null, because %s' % (
        table, ', '.join(keys), 'is' if len(keys) == 1 else 'are', '; '.join(reasons))


_HEX = '[0-9A-Fa-f]'
# One pattern per file layout; each matches the start of a data line (never the header) and captures the
# fields we read. The kernel's formats: net/ipv4/tcp_ipv4.c get_tcp4_sock, udp.c udp4_format_sock, raw.c,
# and their IPv6 twins (addresses as four host-order %08X words), af_unix.c unix_seq_show, af_packet.c
# packet_seq_show, af_netlink.c netlink_seq_show.
_INET_TAIL = r' (%s{2}) (%s{8}):(%s{8}) \S+ \S+ +(\d+) +\S+ +(\d+)(?!\S)' % (_HEX, _HEX, _HEX)
_INET_LINES = {
    'inet': re.compile(r'^ *\d+: (%s{8}):(%s{4}) (%s{8}):(%s{4})' % ((_HEX,) * 4) + _INET_TAIL, re.M),
    'inet6': re.compile(r'^ *\d+: (%s{32}):(%s{4}) (%s{32}):(%s{4})' % ((_HEX,) * 4) + _INET_TAIL, re.M),
}
_INET_LAYOUT = 'sl: LOCAL:PORT REMOTE:PORT st tx_queue:rx_queue tr:when retrnsmt uid timeout inode'
# Num: RefCount Protocol Flags Type St Inode [Path]; the path follows one space and may hold spaces.
_UNIX_LAYOUT = 'Num: RefCount Protocol Flags Type St Inode [Path]'
_PACKET_LINE = re.compile(r'^%s+ +\d+ +(\d+) +(%s+) +(\d+) +\d+ +(\d+) +(\d+) +(\d+)(?!\S)' % (_HEX, _HEX), re.M)
_PACKET_LAYOUT = 'sk RefCnt Type Proto Iface R Rmem User Inode'
_NETLINK_LINE = re.compile(r'^%s+ +(\d+) +(\d+) +%s+ +(\d+) +(\d+) +\d+ +\d+ +\d+ +(\d+)(?!\S)' % (_HEX, _HEX), re.M)
_NETLINK_LAYOUT = 'sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode'

# /proc/net/unix `St` is the socket's SS_* state (1 unconnected, 2 connecting, 3 connected, 4 disconnecting): 2
# and 3 mean sk_state ESTABLISHED, 1 and 4 CLOSE, which is what the netlink diag reports. The flag 0x10000
# (__SO_ACCEPTCON) means LISTEN.
_UNIX_STATES = {1: 'UNCONN', 2: 'ESTAB', 3: 'ESTAB', 4: 'UNCONN'}
_UNIX_LISTENING = 0x10000
_UNIX_NETIDS = {1: 'u_str', 2: 'u_dgr', 5: 'u_seq'}       # ss calls any other type u_dgr
_ETH_P_ALL = 3
_SOCK_RAW = 3
_MAX_PROBLEMS_PER_FILE = 5

_U32X4 = struct.Struct('=4I')
_BE_U32X4 = struct.Struct('>4I')
_STATES = dict(('%02X' % number, state_name(number)) for number in range(256))
_STATES.update(('%02x' % number, state_name(number)) for number in range(256))


def _ipv4(word, _ntop=socket.inet_ntop, _fromhex=bytes.fromhex, _swap=sys.byteorder == 'little'):
    # The kernel prints the network-order __be32 as a host-order %08X: on a little-endian host the hex digits
    # read backwards are the address bytes.
    return _ntop(socket.AF_INET, _fromhex(word)[::-1] if _swap else _fromhex(word))


def _ipv6(words, _ntop=socket.inet_ntop, _fromhex=bytes.fromhex, _words=_BE_U32X4.unpack, _raw=_U32X4.pack):
    # Four such words: each read as the number it prints, then stored in host order.
    raw = _raw(*_words(_fromhex(words)))
    text = _ntop(socket.AF_INET6, raw)
    # The netlink reader's text: ::ffff:a.b.c.d dotted, every other IPv6 address in hex groups.
    return inet_address_text(socket.AF_INET6, raw) if '.' in text else text


def _rows(pattern, text, layout, source, problems):
    """The captured fields of every data line. The first line is the header unless it matches. Lines that do
    not match are reported (the first few in full, then a count) and skipped."""
    lines = text.count('\n') + (1 if text and not text.endswith('\n') else 0)
    if pattern.match(text) is None:
        rows = pattern.findall(text)
        if len(rows) == lines - 1:
            return rows
    # Something does not fit (or there is no header): walk line by line to say where.
    rows, bad = [], 0
    for number, line in enumerate(text.split('\n'), 1):
        match = pattern.match(line)
        if match is not None:
            rows.append(match.groups())
        elif number > 1 and line.strip():
            bad += 1
            if bad <= _MAX_PROBLEMS_PER_FILE:
                shown = line if len(line) <= 120 else line[:117] + '...'
                problems.append('%s line %d: malformed, skipped (expected "%s"): %r' % (source, number, layout, shown))
    if bad > _MAX_PROBLEMS_PER_FILE:
        problems.append('%s: %d more malformed lines skipped' % (source, bad - _MAX_PROBLEMS_PER_FILE))
    return rows


def parse_inet(text, netid, family, source='net/tcp', problems=None, user_name=None):
    """Records from the text of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}; netid 'tcp', 'udp' or 'raw'; family
    'inet' or 'inet6'. Malformed lines are skipped and reported in problems (a list)."""
    problems = [] if problems is None else problems
    user_name = user_name or user_namer()
    to_text = _ipv4 if family == 'inet' else _ipv6
    addresses, users, states = {}, {}, _STATES
    listen_send_q = netid != 'tcp'      # a tcp LISTEN socket's tx_queue is 0 in /proc, not its backlog
    records = []
    append = records.append
    with no_cycle_collection():
        for local, lport, remote, rport, state, send_q, recv_q, uid, inode in _rows(
                _INET_LINES[family], text, _INET_LAYOUT, source, problems):
            local_text = addresses.get(local)
            if local_text is None:
                local_text = addresses[local] = to_text(local)
            peer_text = addresses.get(remote)
            if peer_text is None:
                peer_text = addresses[remote] = to_text(remote)
            owner = users.get(uid)
            if owner is None:
                owner = users[uid] = (int(uid), user_name(int(uid)))
            state = states[state]
            # Keys in _records.FIELDS order, then the netlink reader's private ones (unknown here: None).
            append({
                'netid': netid, 'state': state, 'family': family,
                'local_address': local_text, 'local_port': int(lport, 16),
                'peer_address': peer_text, 'peer_port': int(rport, 16),
                'interface': None, 'v6only': None, 'recv_q': int(recv_q, 16),
                'send_q': int(send_q, 16) if listen_send_q or state != 'LISTEN' else None,
                'inode': int(inode), 'uid': owner[0], 'user': owner[1], 'processes': [], 'owner_unknown': None, 'netns': None,
                'mark': None, 'cgroup_id': None, 'port_locked': None, '_ifindex': None,
            })
    return records


# A /proc/net/unix record line, as af_unix.c unix_seq_show prints it: "%pK: %08X %08X %08X %04X %02X %5lu", then
# " " and the socket's name when it has one. The name's bytes are printed raw, so a name can hold a newline and
# what follows it can look like a record line (docs/records.md, "Unix socket names with newlines").
_UNIX_RECORD = re.compile(rb'([0-9A-Fa-f]+): [0-9A-Fa-f]{8} [0-9A-Fa-f]{8} ([0-9A-Fa-f]{8}) ([0-9A-Fa-f]{4}) '
                          rb'([0-9A-Fa-f]{2}) ( *[0-9]+)(?: (.*))?\Z', re.S)
# sun_path holds 108 bytes: a pathname of up to 108 (with no NUL) or '@' and 107 more for an abstract name, so the
# kernel never prints a name longer than this.
UNIX_NAME_MAX = 108
# The pointer the kernel prints first is as wide as a pointer of the host that printed it.
_POINTER_DIGITS = struct.calcsize('P') * 2
_UNIX_COUNTED = ('UNIX', 'UNIX-STREAM')     # /proc/net/protocols rows of the unix sockets (dgram+seqpacket, stream)
_COUNT_TRIES = 3


def _unix_name(raw):
    """The Path column as text; the kernel already writes abstract names as '@' + name with every NUL as '@'."""
    return host_text(bytes(raw))


class _UnixLine(object):
    """One record line of /proc/net/unix and the lines that continue its name."""

    __slots__ = ('number', 'fields', 'text', 'name', 'candidate')

    def __init__(self, number, fields, line, name):
        self.number = number
        self.fields = fields
        self.text = line          # the line and its continuation lines, as they would read inside a name
        self.name = name          # bytes, or None for a socket without a name
        self.candidate = False    # it could be part of the name of the record before it


def _unix_record_match(line, width):
    match = _UNIX_RECORD.match(line)
    if match is None or len(match.group(1)) != width:
        return None
    inode = match.group(5)
    digits = inode.lstrip(b' ')
    if len(inode) != max(5, len(digits)):     # %5lu: padded to 5, never more
        return None
    return match


def split_unix(data, source='net/unix', problems=None, width=None):
    """The record lines of /proc/net/unix bytes ([_UnixLine]) with the lines that continue a name attached to it.
    A line that is not a record continues the name of the line before it. A record line that could also be the
    end of the name before it (the name is short enough to hold it) is marked `candidate`; one that cannot
    continue its own record (no name) but is followed by a continuation line must be part of the name before it,
    and is joined to it."""
    problems = [] if problems is None else problems
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    if width is None:
        width = _POINTER_DIGITS
        body = lines[1:]
        if body and not any(_unix_record_match(line, width) for line in body[:64]):
            # A tree printed by a host with other pointers (a capture from a 32-bit host).
            other = 8 if width == 16 else 16
            if any(_unix_record_match(line, other) for line in body[:64]):
                width = other
    entries = []
    bad = 0
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(b'Num '):
            continue
        match = _unix_record_match(line, width)
        if match is not None:
            entry = _UnixLine(number, match.groups()[1:5], line, match.group(6))
            if entries:
                before = entries[-1]
                entry.candidate = before.name is not None and len(before.name) + 1 + len(line) <= UNIX_NAME_MAX
            entries.append(entry)
            continue
        if entries:
            last = entries[-1]
            if last.name is not None and len(last.name) + 1 + len(line) <= UNIX_NAME_MAX:
                last.name += b'\n' + line
                last.text += b'\n' + line
                continue
            if last.candidate and len(entries[-2].name) + 2 + len(last.text) + len(line) <= UNIX_NAME_MAX:
                # A record without a name has nothing to continue: that line and this one are the name before it.
                entries.pop()
                entries[-1].name += b'\n' + last.text + b'\n' + line
                entries[-1].text += b'\n' + last.text + b'\n' + line
                continue
        if (number > 1 or entries) and line.strip():
            bad += 1
            if bad <= _MAX_PROBLEMS_PER_FILE:
                shown = host_text(line if len(line) <= 120 else line[:117] + b'...')
                problems.append('%s line %d: malformed, skipped (expected "%s"): %r' % (source, number, _UNIX_LAYOUT, shown))
    if bad > _MAX_PROBLEMS_PER_FILE:
        problems.append('%s: %d more malformed lines skipped' % (source, bad - _MAX_PROBLEMS_PER_FILE))
    return entries


def _still_fits(before, entry):
    return before.name is not None and len(before.name) + 1 + len(entry.text) <= UNIX_NAME_MAX


def resolve_unix(entries, count=None, names=None, source='net/unix', problems=None):
    """The entries that are sockets: candidates (see split_unix) judged by the netlink names (names: {inode: name
    text} from unix_diag, when the tree is this namespace's /proc) and then by the kernel's count of unix sockets
    (count: from net/protocols, or None). A candidate that cannot be judged is left out and problems say so."""
    problems = [] if problems is None else problems
    kept, open_ = [], []
    for entry in entries:
        if entry.candidate and kept and _still_fits(kept[-1], entry):
            before = kept[-1]
            known = names.get(int(before.fields[3])) if names and int(before.fields[3]) else None
            if known is not None and known == _unix_name(before.name):
                entry.candidate = False
            elif known is not None and known == _unix_name(before.name + b'\n' + entry.text):
                before.name += b'\n' + entry.text
                continue
            else:
                open_.append(entry)
        else:
            entry.candidate = False
        kept.append(entry)
    if not open_:
        return kept
    if count is not None and len(kept) <= count:
        # Every socket the file lists is counted (counts include sockets closed but not yet freed): with no more
        # lines than sockets, nothing shows that a line was forged.
        for entry in open_:
            entry.candidate = False
        return kept
    if count is not None and len(kept) - count == len(open_):
        # At least len(kept) - count lines are not sockets, and only these could be: all of them are names.
        result = []
        for entry in kept:
            if not entry.candidate:
                result.append(entry)
            elif _still_fits(result[-1], entry):
                result[-1].name += b'\n' + entry.text
            else:
                break
        else:
            return result
    if count is None:
        why = 'the kernel\'s count of unix sockets (net/protocols) could not be read'
    else:
        why = 'the kernel counts %d unix sockets and the file shows %d lines' % (count, len(kept))
    problems.append('%s: %d line%s could not be attributed: each could be a socket or the end of the name of the socket '
                    'listed before it (a name can hold a newline), and %s; %s left out (line%s %s)'
                    % (source, len(open_), '' if len(open_) == 1 else 's', why, 'it was' if len(open_) == 1 else 'they were',
                       '' if len(open_) == 1 else 's', ', '.join(str(entry.number) for entry in open_[:10])
                       + (', ...' if len(open_) > 10 else '')))
    return [entry for entry in kept if not entry.candidate]


def parse_unix(text, source='net/unix', problems=None, count=None, names=None):
    """Records from the text (bytes, or str; or the lines split_unix made of it) of /proc/net/unix. Sockets without an inode (connections not accepted
    yet) are left out, as the kernel's netlink diag leaves them out. count and names: see resolve_unix."""
    problems = [] if problems is None else problems
    if isinstance(text, list):
        entries = text      # split_unix's lines already
    else:
        data = text.encode('utf-8', 'surrogateescape') if isinstance(text, str) else text
        if data.startswith(b'Peer'):
            problems.append('%s: the "Peer ..." layout of Linux 2.4 is not supported; no unix sockets were read' % source)
            return []
        entries = split_unix(data, source, problems)
    records = []
    with no_cycle_collection():
        for entry in resolve_unix(entries, count, names, source, problems):
            flags, kind, status, inode = entry.fields
            inode = int(inode)
            if not inode:
                continue
            status = int(status, 16)
            records.append({
                'netid': _UNIX_NETIDS.get(int(kind, 16), 'u_dgr'),
                'state': 'LISTEN' if int(flags, 16) & _UNIX_LISTENING else _UNIX_STATES.get(status, state_name(status)),
                'family': 'unix', 'local_address': _unix_name(entry.name or b''), 'local_port': None,
                'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None,
                'recv_q': None, 'send_q': None, 'inode': inode, 'uid': None, 'user': None,
                'processes': [], 'owner_unknown': None, 'netns': None, 'mark': None, 'cgroup_id': None, 'port_locked': None,
                '_ifindex': 0,
            })
    return records


def parse_unix_count(text):
    """The number of unix sockets of the namespace from /proc/net/protocols text (the `sockets` column of its UNIX
    and UNIX-STREAM rows), or None when it has no such row."""
    lines = text.split('\n')
    header = lines[0].split() if lines else []
    if len(header) < 3 or header[2] != 'sockets':
        return None
    total = None
    for line in lines[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[0] in _UNIX_COUNTED and fields[2].isdigit():
            total = (total or 0) + int(fields[2])
    return total


def ethertype_text(protocol):
    """An ethertype as `ss -n` prints it: `*` for ETH_P_ALL, else `[number]` in decimal."""
    return '*' if protocol == _ETH_P_ALL else '[%d]' % protocol


def parse_packet(text, source='net/packet', problems=None, user_name=None, interface_name=None):
    """Records from the text of /proc/net/packet; interface_name(index) names a device (default `if<index>`)."""
    problems = [] if problems is None else problems
    user_name = user_name or user_namer()
    interface_name = interface_name or 'if{0}'.format
    records = []
    for kind, protocol, ifindex, rmem, uid, inode in _rows(_PACKET_LINE, text, _PACKET_LAYOUT, source, problems):
        ifindex, uid = int(ifindex), int(uid)
        records.append({
            'netid': 'p_raw' if int(kind) == _SOCK_RAW else 'p_dgr', 'state': 'UNCONN', 'family': 'link',
            'local_address': ethertype_text(int(protocol, 16)), 'local_port': ifindex, 'peer_address': '', 'peer_port': 0,
            'interface': interface_name(ifindex) if ifindex else None, 'v6only': None,
            # ss shows packet sockets' Send-Q as 0 on either path.
            'recv_q': int(rmem), 'send_q': 0, 'inode': int(inode), 'uid': uid, 'user': user_name(uid),
            'processes': [], 'owner_unknown': None, 'netns': None, 'mark': None, 'cgroup_id': None, 'port_locked': None,
            '_ifindex': ifindex,
        })
    return records


def parse_netlink(text, source='net/netlink', problems=None):
    """Records from the text of /proc/net/netlink."""
    problems = [] if problems is None else problems
    records, seen = [], set()
    for protocol, portid, rmem, wmem, inode in _rows(_NETLINK_LINE, text, _NETLINK_LAYOUT, source, problems):
        if (protocol, portid, inode) in seen:
            continue        # listed once, as the netlink reader lists it
        seen.add((protocol, portid, inode))
        portid = int(portid) & 0xffffffff
        records.append({
            'netid': 'nl', 'state': 'UNCONN', 'family': 'netlink',
            # ss prints the u32 port id as a signed int: ids the kernel picked on a clash are negative.
            'local_address': str(int(protocol)), 'local_port': portid - (1 << 32) if portid >> 31 else portid,
            'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None,
            'recv_q': int(rmem), 'send_q': int(wmem), 'inode': int(inode), 'uid': None, 'user': None,
            'processes': [], 'owner_unknown': None, 'netns': None, 'mark': None, 'cgroup_id': None, 'port_locked': None,
            '_ifindex': 0,
        })
    return records


def parse_text(name, text, source=None, user_name=None, interface_name=None):
    """(records, problems) from the text of one /proc/net file; name is the file's name ('tcp6', 'unix' ...)."""
    problems = []
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


# --- interface names -------------------------------------------------------------------------------------

def interface_names(proc_root='/proc'):
    """ifindex -> name in the namespace of a /proc tree, from its net/igmp, net/if_inet6, net/igmp6 and
    net/dev_mcast (together they name nearly every device; each may be missing)."""
    names = {}

    def lines(name):
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
        if len(fields) == 6 and re.match(r'%s+\Z' % _HEX, fields[1]):
            names.setdefault(int(fields[1], 16), fields[5])
    for line in lines('igmp6') + lines('dev_mcast'):
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            names.setdefault(int(fields[0]), fields[1])
    return names


def _interface_namer(proc_root, problems):
    """index -> name: the tree's own files first, this process's namespace only when the tree is /proc itself,
    else `if<index>` as ss writes an index it cannot name (and a problem says so)."""
    own_namespace = os.path.realpath(proc_root) == '/proc'
    cache = {}

    def interface_name(index):
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


# --- a /proc tree ----------------------------------------------------------------------------------------

_MISSING_WHY = {
    'tcp': 'the kernel lists no IPv4 TCP sockets', 'udp': 'the kernel lists no IPv4 UDP sockets',
    'raw': 'the kernel lists no IPv4 raw sockets',
    'tcp6': 'the kernel has no IPv6, so no IPv6 TCP sockets were read',
    'udp6': 'the kernel has no IPv6, so no IPv6 UDP sockets were read',
    'raw6': 'the kernel has no IPv6, so no IPv6 raw sockets were read',
    'unix': 'the kernel has no unix sockets', 'packet': 'the kernel has no packet sockets (CONFIG_PACKET)',
    'netlink': 'the kernel does not list netlink sockets',
}


def _read_file(path, name, problems):
    """The bytes of one socket table, or None (a problem says why: missing, or not a file the module reads)."""
    try:
        return read_bytes(path, TABLE_LIMIT, TABLE_LINE_LIMIT)
    except BoundedReadError as exc:
        problems.append('%s is missing: %s' % (path, _MISSING_WHY[name]) if exc.missing else str(exc))
        return None


def unix_count(net):
    """The kernel's count of the namespace's unix sockets, from {net}/protocols; None when it cannot be read."""
    try:
        return parse_unix_count(read_text(os.path.join(net, 'protocols'), SMALL_LIMIT))
    except BoundedReadError:
        return None


def _unix_names():
    """{inode: name} of this namespace's unix sockets from the netlink unix_diag, or None when it is not usable."""
    from ansible_collections.netaudit.sockets.plugins.module_utils import _sockdiag_other    # pylint: disable=import-outside-toplevel
    try:
        return dict((record['inode'], record['local_address']) for record in _sockdiag_other.dump_unix(ALL_STATES))
    except (OSError, ValueError):
        return None


def read_unix(net, problems, own_namespace=False):
    """Records of {net}/unix; its candidates (split_unix) judged by unix_diag when the tree is this namespace's
    /proc, and by the kernel's count (read before and after the file, until both agree) otherwise or for what
    unix_diag cannot tell."""
    path = os.path.join(net, 'unix')
    for _attempt in range(_COUNT_TRIES):
        before = unix_count(net)
        data = _read_file(path, 'unix', problems)
        if data is None:
            return []
        after = unix_count(net)
        if before == after:
            break
    else:
        after = None
    if data.startswith(b'Peer'):
        problems.append('%s: the "Peer ..." layout of Linux 2.4 is not supported; no unix sockets were read' % path)
        return []
    entries = split_unix(data, path, problems)
    # unix_diag tells exactly where a name ends; the count alone can be matched by a host that also holds sockets
    # closed but not yet freed (counted, no longer listed).
    names = _unix_names() if own_namespace and any(entry.candidate for entry in entries) else None
    file_problems = []
    records = parse_unix(entries, path, file_problems, after, names)
    problems.extend(file_problems)
    return records


def read_table(table, proc_root='/proc'):
    """table: 'tcp', 'udp', 'raw', 'unix', 'packet', 'netlink'. Returns (records, problems): records of both
    families for inet tables (tcp + tcp6 ...); problems = human-readable strings (a missing file: the kernel lacks
    the table or IPv6; a file the module does not read (not a regular file, over its size limit, unreadable); a
    malformed line, naming file and line number; unix lines that could not be attributed). Never raises for a
    missing file; raises ValueError for an unusable proc_root (naming it)."""
    if table not in TABLE_FILES:
        raise ValueError('unknown socket table "%s" for /proc: expected one of %s' % (table, ', '.join(TABLES)))
    net = net_directory(proc_root)
    records, problems = [], []
    if table == 'unix':
        return read_unix(net, problems, os.path.realpath(proc_root) == '/proc'), problems
    user_name = user_namer()
    interface_name = _interface_namer(proc_root, problems) if table == 'packet' else None
    for name, _family in TABLE_FILES[table]:
        path = os.path.join(net, name)
        data = _read_file(path, name, problems)
        if data is None:
            continue
        found, file_problems = parse_text(name, host_text(data), path, user_name, interface_name)
        records.extend(found)
        problems.extend(file_problems)
    return records, problems
