# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: one gather run of socket_facts, from options to facts."""

from __future__ import annotations

import errno
import os
import socket
import time

from ansible_collections.netaudit.sockets.plugins.module_utils import _owners
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils import _sockdiag
from ansible_collections.netaudit.sockets.plugins.module_utils import _ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter_terms import MarkCond

# Table names as `ss -A` takes them, with the inet protocol each reads.
INET_TABLES = {'tcp': 6, 'udp': 17}
TABLE_ALIASES = {'inet': ('tcp', 'udp'), 'all': ('tcp', 'udp')}
# Tables ss knows that this version cannot read yet: asking for one is an error, never a silent gap.
NOT_YET = ('raw', 'sctp', 'mptcp', 'dccp', 'unix', 'unix_stream', 'u_str', 'unix_dgram', 'u_dgr',
           'unix_seqpacket', 'u_seq', 'packet', 'packet_raw', 'p_raw', 'packet_dgram', 'p_dgr',
           'netlink', 'vsock', 'vsock_stream', 'v_str', 'vsock_dgram', 'v_dgr')
FAMILIES = ((socket.AF_INET, 'inet'), (socket.AF_INET6, 'inet6'))
PRIVATE_KEYS = ('_ifindex', '_mark', '_cgroup_id')
# Like `ss -l`: listening TCP and unconnected (bound) UDP.
LISTENING_STATES = (1 << _records.STATE_NUMBERS['LISTEN']) | (1 << _records.STATE_NUMBERS['UNCONN'])


class GatherError(ValueError):
    """An option value that cannot be gathered; the message names the option."""


def resolve_tables(names):
    """The inet tables to read, in ss's order, from table names and aliases as `ss -A` takes them."""
    chosen = []
    for name in names:
        key = str(name).strip().lower()
        if key in TABLE_ALIASES:
            expanded = TABLE_ALIASES[key]
        elif key in INET_TABLES:
            expanded = (key,)
        elif key in NOT_YET:
            raise GatherError('tables: "%s" is not supported yet; this version reads %s' % (name, ', '.join(INET_TABLES)))
        else:
            raise GatherError('tables: unknown socket table "%s"; expected one of %s' % (
                name, ', '.join(sorted(set(INET_TABLES) | set(TABLE_ALIASES) | set(NOT_YET)))))
        for table in expanded:
            if table not in chosen:
                chosen.append(table)
    if not chosen:
        raise GatherError('tables: the list is empty; name at least one table (tcp, udp)')
    # ss prints udp before tcp; keep its order so output compares line by line.
    return sorted(chosen, key=('udp', 'tcp').index)


def _dump_table(table, family, states, flt, notes, reasons):
    """Records of one table and family, and whether the kernel ran the whole filter expression."""
    program = flt.bytecode(family) if flt is not None else b''
    protocol = INET_TABLES[table]
    try:
        if program:
            try:
                return _sockdiag.dump_inet(protocol, family, states, program), True
            except _sockdiag.SockDiagError as exc:
                if exc.errno not in (errno.EINVAL, errno.EPERM, errno.EACCES):
                    raise
                note = 'the kernel refused the filter program (%s); it was evaluated in userspace' % os.strerror(exc.errno)
                if note not in notes:
                    notes.append(note)
                program = None
        return _sockdiag.dump_inet(protocol, family, states, None), program is not None
    except _sockdiag.SockDiagError as exc:
        if exc.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT):
            reasons.append('table %s (%s): the kernel has no sock_diag support for it (%s)'
                           % (table, _family_name(family), os.strerror(exc.errno)))
            return [], True
        raise


def _family_name(family):
    return 'IPv6' if family == socket.AF_INET6 else 'IPv4'


def gather(tables=('tcp', 'udp'), listening=False, processes=True, filter_text=None, proc_root='/proc'):
    """Gather socket facts. Returns a dict with `sockets` and `socket_meta`.

    Raises GatherError (bad option values, including filter syntax) and _sockdiag.SockDiagError (netlink unusable).
    """
    started = time.monotonic()
    table_list = resolve_tables(tables)
    try:
        flt = _ssfilter.parse(filter_text, tables=table_list) if filter_text else None
    except _ssfilter.FilterError as exc:
        raise GatherError(str(exc)) from exc
    if flt is not None:
        states = flt.state_mask(listening)
    else:
        states = LISTENING_STATES if listening else _records.ALL_STATES
    families = [(number, name) for number, name in FAMILIES
                if flt is None or flt.families is None or name in flt.families]

    reasons = []
    notes = []
    records = []
    if not families:
        # Like ss -tu with `src unix:...`: the filter's family has none of the tables asked for, so nothing matches.
        notes.append('the filter selects only %s sockets, which are not in the tables read (%s)'
                     % (', '.join(sorted(flt.families)), ', '.join(table_list)))
    kernel_filtered = True
    uses_mark = flt is not None and any(isinstance(term, MarkCond) for term in flt.terms())
    unknown_marks = 0
    for table in table_list:
        for family, _name in families:
            found, in_kernel = _dump_table(table, family, states, flt, notes, reasons)
            kernel_filtered = kernel_filtered and in_kernel
            if flt is not None:
                if uses_mark and not in_kernel:
                    unknown_marks += sum(1 for record in found if record.get('_mark') is None)
                found = flt.select(found, kernel_filtered=in_kernel)
            records.extend(found)

    if unknown_marks:
        reasons.append('fwmark: the kernel shows socket marks only to a caller with CAP_NET_ADMIN; the marks of %d '
                       'sockets were unknown and taken as 0 (as ss does), so sockets with a mark may be missing'
                       % unknown_marks)

    if processes:
        owners, problems = _owners.find_owners(set(r['inode'] for r in records if r['inode']), proc_root=proc_root)
        unowned = 0
        for record in records:
            record['processes'] = owners.get(record['inode'], []) if record['inode'] else []
            unowned += bool(record['inode'] and not record['processes'])
        if unowned:
            reasons.extend(problems)
        else:
            # Unreadable processes matter only if they could own a socket returned here; every one has an owner.
            notes.extend('every socket returned has a known owner, so this does not affect these facts: ' + problem
                         for problem in problems)

    for record in records:
        for key in PRIVATE_KEYS:
            record.pop(key, None)
    records.sort(key=_records.sort_key)

    meta = {
        'backend': 'netlink',
        'complete': not reasons,
        'incomplete_reasons': reasons,
        'notes': notes,
        'filter': filter_text or None,
        'tables': table_list,
        'states': [name for number, name in sorted(_records.STATE_NAMES.items()) if states & (1 << number)],
        # None: nothing to filter; True: states and expression were applied by the kernel; False: partly in userspace.
        'kernel_filtered': kernel_filtered if flt is not None and families else None,
        'netns': [],
        'count': len(records),
        'elapsed_ms': round((time.monotonic() - started) * 1000.0, 1),
    }
    return {'sockets': records, 'socket_meta': meta}
