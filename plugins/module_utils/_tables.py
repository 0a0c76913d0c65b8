# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: reading socket tables from each backend (the names are _table_names')."""

from __future__ import annotations

import errno
import os
import socket

from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils import _sockdiag
from ansible_collections.netaudit.sockets.plugins.module_utils import _sockdiag_other
from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names

# The vocabulary's resolve() and its error, for the callers that read tables through this module (_gather).
resolve = _table_names.resolve
TableError = _table_names.TableError

INET_PROTOCOLS = {'tcp': 6, 'udp': 17, 'raw': 255, 'sctp': 132, 'mptcp': 262, 'dccp': 33}
# One dump serves every table of a source.
SOURCES = (
    ('netlink', ('netlink',), 'netlink'),
    ('packet', _table_names.GROUPS['packet'], 'link'),
    ('unix', _table_names.GROUPS['unix'], 'unix'),
    ('vsock', _table_names.GROUPS['vsock'], 'vsock'),
)
UNCONN = 1 << _records.STATE_NUMBERS['UNCONN']
INET_FAMILIES = ((socket.AF_INET, 'inet'), (socket.AF_INET6, 'inet6'))
MISSING_TABLE = (errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT)


class Outcome(object):
    """What reading some tables gave: records and what the caller must report."""

    def __init__(self):
        self.records = []
        self.reasons = []          # the data is partial
        self.notes = []            # worth knowing, not partial
        self.unsupported = []      # tables the kernel (or backend) cannot read, asked for one by one
        self.kernel_filtered = None
        self.unknown_marks = 0

    def missing(self, table, explicit, why):
        # Either way the facts lack that table's sockets, so they are incomplete (docs/socket_facts.md: never an
        # error, never silently empty); a table named one by one is also listed in unsupported_tables.
        if table in explicit and table not in self.unsupported:
            self.unsupported.append(table)
        self.reasons.append('table %s could not be read: %s' % (table, why))

    def kernel(self, ran_in_kernel):
        self.kernel_filtered = ran_in_kernel if self.kernel_filtered is None else (self.kernel_filtered and ran_in_kernel)

    def as_dict(self):
        reasons = list(self.reasons)
        if self.unknown_marks:
            reasons.append('fwmark: the kernel shows socket marks only to a caller with CAP_NET_ADMIN; the marks of %d '
                           'sockets were unknown and taken as 0 (as ss does), so sockets with a mark may be missing'
                           % self.unknown_marks)
        return dict(records=self.records, reasons=reasons, notes=self.notes,
                    unsupported=self.unsupported, kernel_filtered=self.kernel_filtered)


def family_allowed(flt, family):
    return flt is None or flt.families is None or family in flt.families


def _refused(outcome, exc):
    note = 'the kernel refused the filter program (%s); it was evaluated in userspace' % os.strerror(exc.errno)
    if note not in outcome.notes:
        outcome.notes.append(note)


def read_netlink(tables, explicit, states, flt):
    """Read tables over netlink sock_diag. Raises _sockdiag.SockDiagError when netlink itself is unusable."""
    outcome = Outcome()
    fallbacks = {}
    for table in tables:
        if table not in INET_PROTOCOLS:
            continue
        protocol = INET_PROTOCOLS[table]
        plan = [(family, flt.bytecode(family) if flt is not None else b'')
                for family, family_name in INET_FAMILIES if family_allowed(flt, family_name)]
        if table == 'tcp' and len(plan) == 2 and plan[0][1] == plan[1][1]:
            # Both families under one program: one legacy dump walks the kernel's tables once, not twice. If
            # the kernel will not take it (for any reason), the dumps per family below say why.
            try:
                found, in_kernel = read_inet(protocol, socket.AF_UNSPEC, states, plan[0][1], outcome, strict=True)
            except _sockdiag.SockDiagError:
                pass
            else:
                plan = []
                _add_selected(outcome, flt, found, in_kernel)
        for family, program in plan:
            try:
                found, in_kernel = read_inet(protocol, family, states, program, outcome)
            except _sockdiag.SockDiagError as exc:
                if exc.errno not in MISSING_TABLE:
                    raise
                if table in PROC_SOURCES:
                    fallbacks.setdefault(table, os.strerror(exc.errno))
                else:
                    outcome.missing(table, explicit, 'the kernel has no sock_diag support for %s (%s)'
                                    % ('IPv6' if family == socket.AF_INET6 else 'IPv4', os.strerror(exc.errno)))
                continue
            _add_selected(outcome, flt, found, in_kernel)
    for table, why in fallbacks.items():
        # Like ss, which reads /proc/net/raw when the kernel has no raw_diag.
        outcome.notes.append('table %s: the kernel has no sock_diag support for it (%s); it was read from /proc/net' % (table, why))
        extra = read_proc([table], explicit, states, flt, '/proc')
        outcome.records.extend(extra.records)
        outcome.reasons.extend(extra.reasons)
        if extra.kernel_filtered is not None:
            outcome.kernel(False)
    for source, members, family in SOURCES:
        wanted = [table for table in members if table in tables]
        if not wanted or not family_allowed(flt, family):
            continue
        if source in ('netlink', 'packet') and not states & UNCONN:
            continue        # ss lists these only when UNCONN is among the states
        try:
            if source == 'unix':
                found = _sockdiag_other.dump_unix(states)
            elif source == 'vsock':
                found = _sockdiag_other.dump_vsock(states)
            elif source == 'packet':
                found = _sockdiag_other.dump_packet()
            else:
                found = _sockdiag_other.dump_netlink()
        except _sockdiag.SockDiagError as exc:
            if exc.errno not in MISSING_TABLE:
                raise
            for table in wanted:
                outcome.missing(table, explicit, 'the kernel has no sock_diag support for it (%s)' % os.strerror(exc.errno))
            continue
        kept = _table_names.netids(wanted)
        found = [record for record in found if record['netid'] in kept]
        if flt is not None and flt.tree is not None:
            outcome.kernel(False)
        outcome.records.extend(flt.select(found) if flt is not None else found)
    return outcome


def read_inet(protocol, family, states, program, outcome, strict=False):
    """One inet dump with its filter's program (b'': none), and beside it, on a thread of its own, the dump that
    tells which sockets hold a port lock (the same states and program, so that it walks no more than the first).
    A program the kernel refuses (EINVAL, EPERM, EACCES) is noted and the table read without it, unless strict,
    which raises SockDiagError for that too. Returns (records with `port_locked` filled, whether the program ran
    in the kernel)."""
    lock_program = program or None
    locks = _sockdiag.in_background(_sockdiag.unlocked_sockets, protocol, family, states, lock_program)
    try:
        found = None
        if program:
            try:
                found = _sockdiag.dump_inet(protocol, family, states, program)
            except _sockdiag.SockDiagError as exc:
                if strict or exc.errno not in (errno.EINVAL, errno.EPERM, errno.EACCES):
                    raise
                _refused(outcome, exc)
                program = None
        if found is None:
            found = _sockdiag.dump_inet(protocol, family, states, None)
    except BaseException:
        _settle(locks)
        raise
    if program is None and lock_program is not None:
        # The kernel refused the program, so the port-lock dump that carried it failed too: ask again without it
        # (only if there are records to mark).
        _settle(locks)

        def locks():
            return _sockdiag.unlocked_sockets(protocol, family, states, None)
    if found:
        mark_port_locks(locks, found, outcome)
    else:
        _settle(locks)
    return found, program is not None


def _settle(wait):
    """Wait for a background dump whose answer is no longer wanted."""
    try:
        wait()
    except (_sockdiag.SockDiagError, ValueError):
        pass


def _add_selected(outcome, flt, found, in_kernel):
    """Add to outcome what the filter keeps of records read with (in_kernel) or without its program."""
    outcome.kernel(in_kernel)
    if flt is not None:
        if not in_kernel:
            mark_problem(flt, found, outcome)
        found = flt.select(found, kernel_filtered=in_kernel)
    outcome.records.extend(found)


def mark_port_locks(locks, records, outcome):
    """Fill `port_locked` from the answer of a port-lock dump: locks() returns is_unlocked(record)
    (_sockdiag.unlocked_sockets), or raises when the kernel did not answer, which the facts' reasons say."""
    try:
        is_unlocked = locks()
    except (_sockdiag.SockDiagError, ValueError) as exc:
        reason = 'port_locked is null: the kernel did not say which ports were bound explicitly (%s)' % exc
        if reason not in outcome.reasons:
            outcome.reasons.append(reason)
        return
    for record in records:
        record['port_locked'] = not is_unlocked(record)


def mark_problem(flt, records, outcome):
    """Count sockets whose marks the kernel hid (no CAP_NET_ADMIN) when fwmark runs in userspace."""
    from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter_terms import MarkCond
    if any(isinstance(term, MarkCond) for term in flt.terms()):
        outcome.unknown_marks += sum(1 for record in records if record.get('mark') is None)


def state_bit(record):
    return 1 << _records.STATE_NUMBERS.get(record['state'], 0)


def read_userspace(records, states, flt):
    """The state and filter checks a backend without kernel filtering needs (the /proc and psutil readers)."""
    kept = [record for record in records if states & state_bit(record)]
    if flt is None:
        return kept
    return flt.select(kept)


# /proc/net has files for these sources only.
PROC_SOURCES = {'tcp': 'tcp', 'udp': 'udp', 'raw': 'raw', 'unix_stream': 'unix', 'unix_dgram': 'unix',
                'unix_seqpacket': 'unix', 'packet_raw': 'packet', 'packet_dgram': 'packet', 'netlink': 'netlink'}


def _lost(outcome, reason):
    if reason and reason not in outcome.reasons:
        outcome.reasons.append(reason)


def _keep(records, tables):
    """The records of the tables asked for, from readers that return several tables at once."""
    kept = _table_names.netids(tables)
    return [record for record in records if record['netid'] in kept]


def _visible(record, states, flt):
    if record['family'] in ('link', 'netlink') and not states & UNCONN:
        return False
    return family_allowed(flt, record['family'])


def read_proc(tables, explicit, states, flt, proc_root):
    """Read tables from {proc_root}/net/* (ss's PROC_ROOT fallback), with the same records and filter semantics."""
    from ansible_collections.netaudit.sockets.plugins.module_utils import _procnet  # only the proc path pays for it
    outcome = Outcome()
    sources = []
    for table in tables:
        source = PROC_SOURCES.get(table)
        if source is None:
            outcome.missing(table, explicit, '%s/net has no file for it' % proc_root)
        elif source not in sources:
            sources.append(source)
    for source in sources:
        records, problems = _procnet.read_table(source, proc_root=proc_root)
        outcome.reasons.extend(problems)
        _lost(outcome, _procnet.lost_reason(source))
        records = [record for record in _keep(records, tables) if _visible(record, states, flt)]
        outcome.records.extend(read_userspace(records, states, flt))
    if flt is not None:     # its state clauses too: no kernel saw them
        outcome.kernel_filtered = False
    return outcome


def read_psutil(tables, explicit, states, flt, processes, psutil_module=None):
    """Read what psutil can give (non-Linux hosts), with the same records and filter semantics."""
    from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source
    outcome = Outcome()
    records, lost, problems = _psutil_source.gather_psutil(tables, processes=processes, psutil_module=psutil_module)
    outcome.reasons.extend(problems)
    if lost:
        _lost(outcome, 'backend psutil cannot give %s; those fields are null' % ', '.join(sorted(lost)))
    records = [record for record in _keep(records, tables) if _visible(record, states, flt)]
    outcome.records.extend(read_userspace(records, states, flt))
    if flt is not None:     # its state clauses too: no kernel saw them
        outcome.kernel_filtered = False
    return outcome
