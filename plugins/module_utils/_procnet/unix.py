# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the lines of /proc/net/unix as socket records, names that hold a newline, and the
kernel's count of unix sockets (/proc/net/protocols) that tells a forged line from a socket."""

from __future__ import annotations

import re
import struct
from typing import Match

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import host_text
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.lines import Malformed
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record, no_cycle_collection, state_name

# Num: RefCount Protocol Flags Type St Inode [Path]; the path follows one space and may hold spaces.
_UNIX_LAYOUT = 'Num: RefCount Protocol Flags Type St Inode [Path]'
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

# /proc/net/unix `St` is the socket's SS_* state (1 unconnected, 2 connecting, 3 connected, 4 disconnecting): 2
# and 3 mean sk_state ESTABLISHED, 1 and 4 CLOSE, which is what the netlink diag reports. The flag 0x10000
# (__SO_ACCEPTCON) means LISTEN.
_UNIX_STATES = {1: 'UNCONN', 2: 'ESTAB', 3: 'ESTAB', 4: 'UNCONN'}
_UNIX_LISTENING = 0x10000
_UNIX_NETIDS = {1: 'u_str', 2: 'u_dgr', 5: 'u_seq'}       # ss calls any other type u_dgr


def _unix_name(raw: bytes) -> str:
    """The Path column as text; the kernel already writes abstract names as '@' + name with every NUL as '@'."""
    return host_text(bytes(raw))


class UnixLine(object):
    """One record line of /proc/net/unix and the lines that continue its name."""

    __slots__ = ('number', 'fields', 'text', 'name', 'candidate')

    def __init__(self, number: int, fields: tuple[bytes, ...], line: bytes, name: bytes | None) -> None:
        self.number = number
        self.fields = fields      # Flags, Type, St, Inode
        self.text = line          # the line and its continuation lines, as they would read inside a name
        self.name = name          # bytes, or None for a socket without a name
        self.candidate = False    # it could be part of the name of the record before it


def _unix_record_match(line: bytes, width: int) -> Match[bytes] | None:
    match = _UNIX_RECORD.match(line)
    if match is None or len(match.group(1)) != width:
        return None
    inode = match.group(5)
    digits = inode.lstrip(b' ')
    if len(inode) != max(5, len(digits)):     # %5lu: padded to 5, never more
        return None
    return match


def split_unix(data: bytes, source: str = 'net/unix', problems: list[str] | None = None,
               width: int | None = None) -> list[UnixLine]:
    """The record lines of /proc/net/unix bytes ([UnixLine]) with the lines that continue a name attached to it.
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
    entries: list[UnixLine] = []
    malformed = Malformed(source, _UNIX_LAYOUT, problems)
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(b'Num '):
            continue
        match = _unix_record_match(line, width)
        if match is not None:
            entry = UnixLine(number, match.groups()[1:5], line, match.group(6))
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
            # A candidate's record before it has a name (split_unix marks only those).
            named = entries[-2] if last.candidate else None
            if named is not None and named.name is not None and \
                    len(named.name) + 2 + len(last.text) + len(line) <= UNIX_NAME_MAX:
                # A record without a name has nothing to continue: that line and this one are the name before it.
                entries.pop()
                named.name += b'\n' + last.text + b'\n' + line
                named.text += b'\n' + last.text + b'\n' + line
                continue
        if (number > 1 or entries) and line.strip():
            malformed.skip(number, line)
    malformed.close()
    return entries


def _name_before(before: UnixLine, entry: UnixLine) -> bytes | None:
    """The name of `before` when entry's line (with its continuations) could still be the end of it (the whole fits
    in sun_path), else None."""
    if before.name is not None and len(before.name) + 1 + len(entry.text) <= UNIX_NAME_MAX:
        return before.name
    return None


def resolve_unix(entries: list[UnixLine], count: int | None = None, names: dict[int, str] | None = None,
                 source: str = 'net/unix', problems: list[str] | None = None) -> list[UnixLine]:
    """The entries that are sockets: candidates (see split_unix) judged by the netlink names (names: {inode: name
    text} from unix_diag, when the tree is this namespace's /proc) and then by the kernel's count of unix sockets
    (count: from net/protocols, or None). A candidate that cannot be judged is left out and problems say so."""
    problems = [] if problems is None else problems
    kept: list[UnixLine] = []
    open_: list[UnixLine] = []
    for entry in entries:
        name = _name_before(kept[-1], entry) if entry.candidate and kept else None
        if name is not None:
            before = kept[-1]
            known = names.get(int(before.fields[3])) if names and int(before.fields[3]) else None
            if known is not None and known == _unix_name(name):
                entry.candidate = False
            elif known is not None and known == _unix_name(name + b'\n' + entry.text):
                before.name = name + b'\n' + entry.text
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
        result: list[UnixLine] = []
        for entry in kept:
            if not entry.candidate:
                result.append(entry)
                continue
            name = _name_before(result[-1], entry)
            if name is None:
                break
            result[-1].name = name + b'\n' + entry.text
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


def parse_unix(text: bytes | str | list[UnixLine], source: str = 'net/unix', problems: list[str] | None = None,
               count: int | None = None, names: dict[int, str] | None = None) -> list[Record]:
    """Records from the text (bytes, or str; or the lines split_unix made of it) of /proc/net/unix. Sockets without
    an inode (connections not accepted yet) are left out, as the kernel's netlink diag leaves them out. count and
    names: see resolve_unix."""
    problems = [] if problems is None else problems
    if isinstance(text, list):
        entries = text      # split_unix's lines already
    else:
        data = text.encode('utf-8', 'surrogateescape') if isinstance(text, str) else text
        if data.startswith(b'Peer'):
            problems.append(old_layout(source))
            return []
        entries = split_unix(data, source, problems)
    records: list[Record] = []
    with no_cycle_collection():
        for entry in resolve_unix(entries, count, names, source, problems):
            flags, kind, status_text, inode_text = entry.fields
            inode = int(inode_text)
            if not inode:
                continue
            status = int(status_text, 16)
            records.append({
                'netid': _UNIX_NETIDS.get(int(kind, 16), 'u_dgr'),
                'state': 'LISTEN' if int(flags, 16) & _UNIX_LISTENING else _UNIX_STATES.get(status, state_name(status)),
                'family': 'unix', 'local_address': _unix_name(entry.name or b''), 'local_port': None,
                'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None,
                'recv_q': None, 'send_q': None, 'inode': inode, 'uid': None, 'user': None,
                'processes': [], 'owner_unknown': None, 'netns': None, 'mark': None, 'cgroup_id': None, 'port_locked': None,
                # The origin keys (_gather fills them after the owners: _origin/run.py).
                'cgroup': None, 'owner_cgroups': None, 'unit': None, 'container': None, 'package': None,
                'security_context': None, 'origin_unknown': None,
                '_ifindex': 0,
            })
    return records


def old_layout(source: str) -> str:
    """The problem for a file in the "Peer ..." layout of Linux 2.4, which is not read."""
    return '%s: the "Peer ..." layout of Linux 2.4 is not supported; no unix sockets were read' % source


def parse_unix_count(text: str) -> int | None:
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
