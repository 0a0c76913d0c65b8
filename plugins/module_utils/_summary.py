# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the socket summary of `ss -s`, from /proc/net/sockstat, sockstat6 and snmp."""

from __future__ import annotations

import os
from typing import Any, Dict

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import (
    SMALL_LIMIT, BoundedReadError, net_directory, read_text,
)

# Parsed counters: {label: {name: value}} ('TCP': {'inuse': 1, ...}), as parse_sockstat and parse_snmp return them.
Counters = Dict[str, Dict[str, int]]


# The sockstat and sockstat6 lines behind the IP and IPv6 columns of the transport table of `ss -s`.
TRANSPORTS = (('raw', 'RAW', 'RAW6'), ('udp', 'UDP', 'UDP6'), ('tcp', 'TCP', 'TCP6'), ('frag', 'FRAG', 'FRAG6'))
ROWS = ('raw', 'udp', 'tcp', 'inet', 'frag')     # the rows of the transport table, as ss prints them


def parse_sockstat(text: str) -> Counters:
    """{'TCP': {'inuse': 1, 'orphan': 0, ...}, 'sockets': {'used': 13}, ...} from sockstat or sockstat6 text.

    Every `LABEL: name value name value ...` line; values that are not integers are left out."""
    counters: Counters = {}
    for line in text.split('\n'):
        label, colon, rest = line.partition(':')
        if not colon or not label.strip():
            continue
        words = rest.split()
        values: dict[str, int] = {}
        for index in range(0, len(words) - 1, 2):
            try:
                values[words[index]] = int(words[index + 1])
            except ValueError:
                continue
        counters[label.strip()] = values
    return counters


def parse_snmp(text: str) -> Counters:
    """{'Tcp': {'CurrEstab': 0, ...}, 'Udp': {...}, ...} from /proc/net/snmp (a header line, then a value line)."""
    tables: Counters = {}
    lines = text.split('\n')
    for index in range(len(lines) - 1):
        label, colon, header = lines[index].partition(':')
        next_label, next_colon, values = lines[index + 1].partition(':')
        if not colon or not next_colon or label != next_label or label in tables:
            continue
        names, numbers = header.split(), values.split()
        if not names or not all(_is_int(word) for word in numbers) or any(_is_int(word) for word in names):
            continue
        tables[label] = dict((name, int(number)) for name, number in zip(names, numbers))
    return tables


def _is_int(word: str) -> bool:
    try:
        int(word)
    except ValueError:
        return False
    return True


def summarize(sockstat: Counters, sockstat6: Counters, snmp: Counters, problems: list[str] | None = None,
              sources: dict[str, str] | None = None) -> dict[str, Any]:
    """The figures of `ss -s` from parsed counters (parse_sockstat, parse_snmp); a missing counter counts as 0,
    as in ss, and is named in problems (a list). sources: the files' names for those messages."""
    problems = [] if problems is None else problems
    sources = sources or {}

    def count(table: Counters, label: str, name: str, file_name: str) -> int:
        value = table.get(label, {}).get(name)
        if value is None:
            if table:     # a file that is missing altogether is reported once, by the caller
                problems.append('%s has no "%s %s" counter; it counts as 0'
                                % (sources.get(file_name, file_name), label, name))
            return 0
        return value

    ipv4 = dict((key, count(sockstat, label, 'inuse', 'sockstat')) for key, label, _label6 in TRANSPORTS)
    ipv6 = dict((key, count(sockstat6, label6, 'inuse', 'sockstat6')) for key, _label, label6 in TRANSPORTS)
    allocated = count(sockstat, 'TCP', 'alloc', 'sockstat')
    timewait = count(sockstat, 'TCP', 'tw', 'sockstat')
    ipv4['inet'] = ipv4['raw'] + ipv4['udp'] + ipv4['tcp']
    ipv6['inet'] = ipv6['raw'] + ipv6['udp'] + ipv6['tcp']
    transport = dict((key, {'total': ipv4[key] + ipv6[key], 'ip': ipv4[key], 'ipv6': ipv6[key]}) for key in ROWS)
    return {
        'total': count(sockstat, 'sockets', 'used', 'sockstat'),
        'tcp': {
            # ss 6.1: every allocated TCP socket plus the TIME-WAIT minisockets, which are not allocated sockets.
            'total': allocated + timewait,
            'estab': count(snmp, 'Tcp', 'CurrEstab', 'snmp'),
            # Allocated sockets that are not in a hash table (not listening, not connected). It can be negative:
            # alloc counts every namespace while inuse counts this one.
            'closed': allocated - (ipv4['tcp'] + ipv6['tcp'] - timewait),
            'orphaned': count(sockstat, 'TCP', 'orphan', 'sockstat'),
            'timewait': timewait,
        },
        'transport': transport,
    }


def read_summary(proc_root: str = '/proc') -> dict[str, Any]:
    """The figures `ss -s` prints, read from {proc_root}/net/sockstat, sockstat6 and snmp (see docs/summary.md).

    Returns {'total', 'tcp': {...}, 'transport': {...}, 'counters': {...}, 'problems': [...]}. A missing or unreadable
    file counts as zeros, as in ss, and is named in problems. Raises ProcRootError for an unusable proc_root."""
    net = net_directory(proc_root)
    problems: list[str] = []
    texts: dict[str, str] = {}
    why = {'sockstat': 'no socket counts', 'sockstat6': 'the kernel has no IPv6; IPv6 counts are 0',
           'snmp': 'no TCP CurrEstab; estab is 0'}
    for name in ('sockstat', 'sockstat6', 'snmp'):
        path = os.path.join(net, name)
        try:
            texts[name] = read_text(path, SMALL_LIMIT)
        except BoundedReadError as exc:
            problems.append('%s is missing: %s' % (path, why[name]) if exc.missing else str(exc))
            texts[name] = ''
    sockstat, sockstat6 = parse_sockstat(texts['sockstat']), parse_sockstat(texts['sockstat6'])
    snmp = parse_snmp(texts['snmp'])
    summary = summarize(sockstat, sockstat6, snmp, problems, dict((name, os.path.join(net, name)) for name in texts))
    summary['counters'] = {'sockstat': sockstat, 'sockstat6': sockstat6}
    summary['problems'] = problems
    return summary
