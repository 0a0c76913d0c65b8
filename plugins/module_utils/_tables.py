# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: reading socket tables from each backend (the names are _table_names')."""

from __future__ import annotations

import errno
import os
import socket
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Sequence

from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import families
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import port_locks
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.background import in_background
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import SockDiagError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record

if TYPE_CHECKING:
    from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.ssfilter import SSFilter

INET_PROTOCOLS = {'tcp': 6, 'udp': 17, 'raw': 255, 'sctp': 132, 'mptcp': 262, 'dccp': 33}
# One dump serves every table of a source.
SOURCES = (
    ('netlink', ('netlink',), 'netlink'),
    ('packet', _table_names.GROUPS['packet'], 'link'),
    ('unix', _table_names.GROUPS['unix'], 'unix'),
    ('vsock', _table_names.GROUPS['vsock'], 'vsock'),
)
UNCONN = 1 << _records.STATE_NUMBERS['UNCONN']
MISSING_TABLE = (errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT)


class Outcome(object):
    """What reading some tables gave: records and what the caller must report."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.reasons: list[str] = []          # the data is partial
        self.notes: list[str] = []            # worth knowing, not partial
        self.unsupported: list[str] = []      # tables the kernel (or backend) cannot read, asked for one by one
        self.kernel_filtered: bool | None = None
        self.unknown_marks = 0

    def missing(self, table: str, explicit: Collection[str], why: str) -> None:
        # Either way the facts lack that table's sockets, so they are incomplete (docs/socket_facts.md: never an
        # error, never silently empty); a table named one by one is also listed in unsupported_tables.
        if table in explicit and table not in self.unsupported:
            self.unsupported.append(table)
        self.reasons.append('table %s could not be read: %s' % (table, why))

    def kernel(self, ran_in_kernel: bool) -> None:
        self.kernel_filtered = ran_in_kernel if self.kernel_filtered is None else (self.kernel_filtered and ran_in_kernel)

    def as_dict(self) -> dict[str, Any]:
        reasons = list(self.reasons)
        if self.unknown_marks:
            reasons.append('fwmark: the kernel shows socket marks only to a caller with CAP_NET_ADMIN; the marks of %d '
                           'sockets were unknown and taken as 0 (as ss does), so sockets with a mark may be missing'
                           % self.unknown_marks)
        return dict(records=self.records, reasons=reasons, notes=self.notes,
                    unsupported=self.unsupported, kernel_filtered=self.kernel_filtered)


def family_allowed(flt: SSFilter | None, family: str) -> bool:
    return flt is None or flt.families is None or family in flt.families


def _refused(outcome: Outcome, code: int) -> None:
    note = 'the kernel refused the filter program (%s); it was evaluated in userspace' % os.strerror(code)
    if note not in outcome.notes:
        outcome.notes.append(note)


def read_netlink(tables: Sequence[str], explicit: Collection[str], states: int, flt: SSFilter | None) -> Outcome:
    """Read tables over netlink sock_diag. Raises _netlink.transport.SockDiagError when netlink itself is unusable."""
    outcome = Outcome()
    fallbacks: dict[str, str] = {}
    for table in tables:
        if table not in INET_PROTOCOLS:
            continue
        protocol = INET_PROTOCOLS[table]
        plan = [(family, flt.bytecode(family) if flt is not None else b'')
                for family, family_name in ((_records.FAMILY_NUMBERS[name], name) for name in _records.INET_FAMILIES)
                if family_allowed(flt, family_name)]
        if table == 'tcp' and len(plan) == 2 and plan[0][1] == plan[1][1]:
            # Both families under one program: one legacy dump walks the kernel's tables once, not twice. If
            # the kernel will not take it (for any reason), the dumps per family below say why.
            try:
                found, in_kernel = read_inet(protocol, socket.AF_UNSPEC, states, plan[0][1], outcome, strict=True)
            except SockDiagError:
                pass
            else:
                plan = []
                _add_selected(outcome, flt, found, in_kernel)
        for family, program in plan:
            try:
                found, in_kernel = read_inet(protocol, family, states, program, outcome)
            except SockDiagError as exc:
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
    for source, members, family_name in SOURCES:
        wanted = [table for table in members if table in tables]
        if not wanted or not family_allowed(flt, family_name):
            continue
        if source in ('netlink', 'packet') and not states & UNCONN:
            continue        # ss lists these only when UNCONN is among the states
        try:
            if source == 'unix':
                found = families.dump_unix(states)
            elif source == 'vsock':
                found = families.dump_vsock(states)
            elif source == 'packet':
                found = families.dump_packet()
            else:
                found = families.dump_netlink()
        except SockDiagError as exc:
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


def read_inet(protocol: int, family: int, states: int, program: bytes | None, outcome: Outcome,
              strict: bool = False) -> tuple[list[Record], bool]:
    """One inet dump with its filter's program (b'': none), and beside it, on a thread of its own, the dump that
    tells which sockets hold a port lock (the same states and program, so that it walks no more than the first).
    A program the kernel refuses (EINVAL, EPERM, EACCES) is noted and the table read without it, unless strict,
    which raises SockDiagError for that too. Returns (records with `port_locked` filled, whether the program ran
    in the kernel)."""
    lock_program = program or None
    locks = in_background(port_locks.unlocked_sockets, protocol, family, states, lock_program)
    try:
        found = None
        if program:
            try:
                found = inet.dump_inet(protocol, family, states, program)
            except SockDiagError as exc:
                if strict or exc.errno not in (errno.EINVAL, errno.EPERM, errno.EACCES):
                    raise
                _refused(outcome, exc.errno)
                program = None
        if found is None:
            found = inet.dump_inet(protocol, family, states, None)
    except BaseException:
        _settle(locks)
        raise
    if program is None and lock_program is not None:
        # The kernel refused the program, so the port-lock dump that carried it failed too: ask again without it
        # (only if there are records to mark).
        _settle(locks)

        def locks() -> port_locks.IsUnlocked:
            return port_locks.unlocked_sockets(protocol, family, states, None)
    if found:
        mark_port_locks(locks, found, outcome)
    else:
        _settle(locks)
    return found, program is not None


def _settle(wait: Callable[[], object]) -> None:
    """Wait for a background dump whose answer is no longer wanted."""
    try:
        wait()
    except (SockDiagError, ValueError):
        pass


def _add_selected(outcome: Outcome, flt: SSFilter | None, found: list[Record], in_kernel: bool) -> None:
    """Add to outcome what the filter keeps of records read with (in_kernel) or without its program."""
    outcome.kernel(in_kernel)
    if flt is not None:
        if not in_kernel:
            mark_problem(flt, found, outcome)
        found = flt.select(found, kernel_filtered=in_kernel)
    outcome.records.extend(found)


def mark_port_locks(locks: Callable[[], port_locks.IsUnlocked], records: list[Record], outcome: Outcome) -> None:
    """Fill `port_locked` from the answer of a port-lock dump: locks() returns is_unlocked(record)
    (_netlink.port_locks.unlocked_sockets), or raises when the kernel did not answer, which the facts' reasons say."""
    try:
        is_unlocked = locks()
    except (SockDiagError, ValueError) as exc:
        reason = 'port_locked is null: the kernel did not say which ports were bound explicitly (%s)' % exc
        if reason not in outcome.reasons:
            outcome.reasons.append(reason)
        return
    for record in records:
        record['port_locked'] = not is_unlocked(record)


def mark_problem(flt: SSFilter, records: list[Record], outcome: Outcome) -> None:
    """Count sockets whose marks the kernel hid (no CAP_NET_ADMIN) when fwmark runs in userspace."""
    from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.conditions import MarkCond
    if any(isinstance(term, MarkCond) for term in flt.terms()):
        outcome.unknown_marks += sum(1 for record in records if record.get('mark') is None)


def state_bit(record: Record) -> int:
    return 1 << _records.STATE_NUMBERS.get(record['state'], 0)


def read_userspace(records: list[Record], states: int, flt: SSFilter | None) -> list[Record]:
    """The state and filter checks a backend without kernel filtering needs (the /proc and psutil readers)."""
    kept = [record for record in records if states & state_bit(record)]
    if flt is None:
        return kept
    return flt.select(kept)


# /proc/net has files for these sources only.
PROC_SOURCES = {'tcp': 'tcp', 'udp': 'udp', 'raw': 'raw', 'unix_stream': 'unix', 'unix_dgram': 'unix',
                'unix_seqpacket': 'unix', 'packet_raw': 'packet', 'packet_dgram': 'packet', 'netlink': 'netlink'}


def _lost(outcome: Outcome, reason: str | None) -> None:
    if reason and reason not in outcome.reasons:
        outcome.reasons.append(reason)


def _keep(records: list[Record], tables: Iterable[str]) -> list[Record]:
    """The records of the tables asked for, from readers that return several tables at once."""
    kept = _table_names.netids(tables)
    return [record for record in records if record['netid'] in kept]


def _visible(record: Record, states: int, flt: SSFilter | None) -> bool:
    if record['family'] in ('link', 'netlink') and not states & UNCONN:
        return False
    return family_allowed(flt, record['family'])


def read_proc(tables: Sequence[str], explicit: Collection[str], states: int, flt: SSFilter | None, proc_root: str) -> Outcome:
    """Read tables from {proc_root}/net/* (ss's PROC_ROOT fallback), with the same records and filter semantics."""
    # Only the proc path pays for the /proc reader.
    from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.lost import lost_reason
    from ansible_collections.netaudit.sockets.plugins.module_utils._procnet.reader import read_table
    outcome = Outcome()
    sources: list[str] = []
    for table in tables:
        source = PROC_SOURCES.get(table)
        if source is None:
            outcome.missing(table, explicit, '%s/net has no file for it' % proc_root)
        elif source not in sources:
            sources.append(source)
    for source in sources:
        records, problems = read_table(source, proc_root=proc_root)
        outcome.reasons.extend(problems)
        _lost(outcome, lost_reason(source))
        records = [record for record in _keep(records, tables) if _visible(record, states, flt)]
        outcome.records.extend(read_userspace(records, states, flt))
    if flt is not None:     # its state clauses too: no kernel saw them
        outcome.kernel_filtered = False
    return outcome


def read_psutil(tables: Sequence[str], explicit: Collection[str], states: int, flt: SSFilter | None, processes: bool,
                psutil_module: Any = None) -> Outcome:
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
