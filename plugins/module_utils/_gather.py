# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: one gather run of socket_facts, from options to facts."""

from __future__ import annotations

import os
import sys
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _owners
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils import _summary
from ansible_collections.netaudit.sockets.plugins.module_utils import _tables
from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import net_directory
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink.transport import SockDiagError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import Record
from ansible_collections.netaudit.sockets.plugins.module_utils._table_names import TableError, resolve

if TYPE_CHECKING:
    from ansible_collections.netaudit.sockets.plugins.module_utils._netns.resolving import Namespace
    from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.ssfilter import SSFilter

BACKENDS = ('auto', 'netlink', 'proc', 'psutil')
PRIVATE_KEYS = ('_ifindex',)
# Like `ss -l`: listening sockets and unconnected (bound) ones.
LISTENING_STATES = (1 << _records.STATE_NUMBERS['LISTEN']) | (1 << _records.STATE_NUMBERS['UNCONN'])
# The namespaces a run reads, as (label, namespace): the module's own is (None, None).
Targets = List[Tuple[Optional[str], Optional['Namespace']]]


class GatherError(NetauditError, ValueError):
    """An option value that cannot be gathered; the message names the option."""


def resolve_tables(names: str | Iterable[object]) -> list[str]:
    """The tables to read, in ss's order (kept for callers that only need the names)."""
    try:
        return resolve(names)[0]
    except TableError as exc:
        raise GatherError(str(exc)) from exc


def choose_backend(backend: str, proc_root: str | None, netns: object) -> str:
    """The backend to start with, from the options and the platform."""
    if backend not in BACKENDS:
        raise GatherError('backend: "%s" is not one of %s' % (backend, ', '.join(BACKENDS)))
    foreign_proc = proc_root not in (None, '/proc', '/proc/')
    if foreign_proc and backend in ('netlink', 'psutil'):
        raise GatherError('proc_root: a /proc tree other than /proc is read by the proc backend; backend %s cannot read it' % backend)
    if foreign_proc and netns:
        raise GatherError('netns cannot be combined with proc_root: a foreign /proc tree holds its own namespaces')
    if backend == 'auto':
        chosen = 'proc' if foreign_proc else 'netlink' if sys.platform.startswith('linux') else 'psutil'
    else:
        chosen = backend
    if chosen == 'psutil' and netns:
        raise GatherError('netns needs the netlink or proc backend; psutil cannot enter network namespaces')
    if chosen == 'proc' or foreign_proc:
        # A missing tree, a file, a FIFO or a symbolic link loop is refused here, by name, before anything reads it.
        try:
            net_directory(proc_root or '/proc')
        except ValueError as exc:
            raise GatherError(str(exc)) from exc
    return chosen


def _read(plan: dict[str, Any]) -> dict[str, Any]:
    """Read every table of the plan in the current network namespace; a dict (it may cross a process boundary)."""
    backend, tables, explicit, states, flt = plan['backend'], plan['tables'], plan['explicit'], plan['states'], plan['filter']
    if flt is not None:
        flt = _parse_filter(flt, tables)     # its device words read here, as ss run in this namespace reads them
    ephemeral_range = None
    if backend != 'psutil':
        # The namespace's (or the /proc tree's) own range: `autobound` is judged with it, as ss run there would.
        ephemeral_range = _records.read_ephemeral_range(plan['proc_root'])
        if flt is not None:
            flt.set_ephemeral_range(ephemeral_range)
    fell_back = None
    if backend == 'netlink':
        try:
            outcome = _tables.read_netlink(tables, explicit, states, flt)
        except SockDiagError as exc:
            if not plan['auto']:
                raise SockDiagError(exc.errno, 'netlink sock_diag is not usable on this host: %s' % exc.strerror) from exc
            fell_back = 'netlink sock_diag is not usable (%s); the /proc reader was used instead' % exc
            backend = 'proc'
    if backend == 'proc':
        outcome = _tables.read_proc(tables, explicit, states, flt, plan['proc_root'])
    elif backend == 'psutil':
        outcome = _tables.read_psutil(tables, explicit, states, flt, plan['processes'])
    if fell_back:
        outcome.reasons.insert(0, fell_back)
    for record in outcome.records:
        for key in PRIVATE_KEYS:
            record.pop(key, None)
    result = outcome.as_dict()
    result['backend'] = backend
    result['summary'] = _summary.read_summary(plan['proc_root']) if plan['summary'] and backend != 'psutil' else None
    result['ephemeral_range'] = ephemeral_range
    return result


def _parse_filter(filter_text: str | SSFilter, table_list: Sequence[str]) -> SSFilter:
    """The parsed filter. The filter language (about 15 ms of imports) is loaded only by runs that have one.

    Given the parsed filter instead of its text (in _read, in each network namespace read), the same filter with
    its device words read in that namespace, as ss run there reads them: a device it does not have is refused,
    naming the namespace, rather than read as "no sockets"."""
    from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
    from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
    try:
        if isinstance(filter_text, ssfilter.SSFilter):
            # Inside call_in's child _netns.calling is loaded and knows the namespace entered; otherwise it is the host's own.
            netns = sys.modules.get(__name__.rpartition('.')[0] + '._netns.calling')
            return filter_text.bind_devices(netns.entered() if netns is not None else None)
        return ssfilter.parse(filter_text, tables=table_list)
    except FilterError as exc:
        raise GatherError(str(exc)) from exc


def _netns_module() -> ModuleType:
    """The namespace calls, imported only by runs that ask for other namespaces (ctypes, pickle: ~10 ms)."""
    from ansible_collections.netaudit.sockets.plugins.module_utils._netns import calling
    return calling


def _namespaces(netns: object, proc_root: str) -> tuple[Targets, list[str]]:
    """[(label or None, Namespace or None)]: the module's own namespace is (None, None). netns is the option as
    given (typed raw): a value of another type than a string or a list of strings is a GatherError naming it."""
    if netns is None or (isinstance(netns, list) and not netns):
        return [(None, None)], []
    from ansible_collections.netaudit.sockets.plugins.module_utils._netns import resolving
    try:
        specs = resolving.option_items(netns)
        found, problems = resolving.resolve(specs, proc_root=proc_root)
    except ValueError as exc:
        message = str(exc)
        raise GatherError(message if message.startswith('netns: ') else 'netns: %s' % message) from exc
    everything = 'all' in specs
    targets: Targets = [(None, None)] if everything else []
    targets.extend((namespace.label, namespace) for namespace in found)
    return targets, problems


def gather(tables: str | Iterable[object] = ('tcp', 'udp'), listening: bool = False, processes: bool = True,
           filter_text: str | None = None, netns: object = None, backend: str = 'auto', proc_root: str = '/proc',
           summary: bool = True, packages: bool = False, origin_root: str = '/') -> dict[str, Any]:
    """Gather socket facts: a dict with `sockets`, `socket_meta` and (with summary) `socket_summary`.

    origin_root is where the origin fields' files (unit files, container runtimes' state, package databases) are
    read: '/' on a host; tests point it at a tree they write.

    Raises GatherError for option values that cannot be gathered (the message names the option, and the namespace
    for a filter's device there), _netlink.transport.SockDiagError when the netlink backend was asked for explicitly and
    cannot be used, _netns.calling.NamespaceCallError for anything else that failed in another namespace; every one a
    NetauditError.
    """
    started = time.monotonic()
    proc_root = proc_root or '/proc'
    try:
        table_list, explicit = resolve(tables)
    except TableError as exc:
        raise GatherError(str(exc)) from exc
    chosen = choose_backend(backend, proc_root, netns)
    flt = _parse_filter(filter_text, table_list) if filter_text else None
    if flt is not None:
        states = flt.state_mask(listening)
    else:
        states = LISTENING_STATES if listening else _records.ALL_STATES

    plan = dict(backend=chosen, auto=backend == 'auto', tables=table_list, explicit=explicit, states=states,
                filter=flt, proc_root=proc_root, processes=processes, summary=summary)
    targets, reasons = _namespaces(netns, proc_root)
    notes: list[str] = []
    unsupported: list[str] = []
    records: list[Record] = []
    kernel_filtered = None
    backends_used = []
    socket_summary = None
    labels = []
    ephemeral_range = None
    for label, namespace in targets:
        if namespace is None:
            result = _read(plan)
        else:
            netns_helpers = _netns_module()
            try:
                result = netns_helpers.call_in(namespace, _read, plan)
            except netns_helpers.NamespaceGone as exc:
                reasons.append('network namespace %s vanished before it could be read (%s)' % (label, exc))
                continue
            except netns_helpers.NamespaceError as exc:
                raise GatherError('netns: %s: %s' % (label, exc)) from exc
            except netns_helpers.NamespaceCallError as exc:
                if isinstance(exc.__cause__, GatherError):
                    raise GatherError(str(exc.__cause__)) from exc     # a filter's device: it names the namespace
                raise
        if label is not None:
            labels.append(label)
            for record in result['records']:
                record['netns'] = label
        elif result['summary'] is not None:
            socket_summary = result['summary']
        prefix = '' if label is None else 'netns %s: ' % label
        reasons.extend(prefix + reason for reason in result['reasons'])
        notes.extend(prefix + note for note in result['notes'] if prefix + note not in notes)
        unsupported.extend(table for table in result['unsupported'] if table not in unsupported)
        if result['kernel_filtered'] is not None:
            kernel_filtered = result['kernel_filtered'] if kernel_filtered is None else kernel_filtered and result['kernel_filtered']
        if result['backend'] not in backends_used:
            backends_used.append(result['backend'])
        records.extend(result['records'])
        if ephemeral_range is None:
            ephemeral_range = result.get('ephemeral_range')

    owners_visible = _owners_of(records, processes, chosen, proc_root, reasons, notes)
    if processes and chosen != 'psutil':
        records = _without_closed(records, plan, targets, notes)
    owners_unknown = _owners_unknown(records, reasons)
    netns_containers = _origins(records, targets, chosen, proc_root, packages, origin_root, notes)

    records.sort(key=_records.sort_key)
    facts: dict[str, Any] = {
        'sockets': records,
        'socket_meta': {
            'backend': ','.join(backends_used) or chosen,
            'complete': not reasons,
            'incomplete_reasons': reasons,
            'notes': notes,
            'unsupported_tables': unsupported,
            'filter': filter_text or None,
            'tables': table_list,
            'states': [name for number, name in sorted(_records.STATE_NAMES.items()) if states & (1 << number)],
            # None: nothing to filter; True: the kernel applied states and expression; False: partly in userspace.
            'kernel_filtered': kernel_filtered if flt is not None else None,
            'netns': labels,
            # The range `autobound` checks ports against (ss_filter uses it on the controller).
            'ephemeral_range': ephemeral_range,
            # Whether every process that may own a socket was in sight (None: owners not gathered), and how many
            # records have no owner, by owner_unknown reason (docs/socket_facts.md).
            'owners_visible': owners_visible,
            'owners_unknown': owners_unknown,
            # The container each namespace read belongs to, with netns (docs/socket_facts.md, "Origins").
            'netns_containers': netns_containers,
            'count': len(records),
            'elapsed_ms': round((time.monotonic() - started) * 1000.0, 1),
        },
    }
    if summary:
        facts['socket_summary'] = socket_summary
    return facts


_MAY_LISTEN = ('LISTEN', 'UNCONN')     # a cheap test before _records.is_listening, at 100k records


def _kernel_held(record: Record) -> bool:
    """No process holds it: inode 0 (TIME-WAIT, a connection not yet accepted, nfsd's listeners), or a netlink
    socket with portid 0 (the kernel's own; ss prints `kernel`)."""
    return record['inode'] == 0 or (record['family'] == 'netlink' and record['local_port'] == 0)


def _owners_of(records: list[Record], processes: bool, chosen: str, proc_root: str, reasons: list[str],
               notes: list[str]) -> bool | None:
    """Set every record's processes and owner_unknown; returns socket_meta.owners_visible."""
    if not processes:
        for record in records:
            record['owner_unknown'] = 'kernel' if record['inode'] is not None and _kernel_held(record) else 'not_gathered'
        return None
    if chosen == 'psutil':
        # psutil's records come with their owners and owner_unknown; what hides processes is judged as for /proc.
        problems = _owners.visibility_problems() if sys.platform.startswith('linux') else []
        return not problems and (not hasattr(os, 'geteuid') or os.geteuid() == 0)
    return _attach_owners(records, proc_root, reasons, notes)


def _attach_owners(records: list[Record], proc_root: str, reasons: list[str], notes: list[str]) -> bool:
    """One /proc walk for every namespace's sockets: socket inodes are unique across namespaces. Listening sockets
    left without an owner get a second look (_owners.find_owners). Returns whether every process was in sight."""
    listening = [r['inode'] for r in records if r['state'] in _MAY_LISTEN and r['inode'] and _records.is_listening(r)]
    owners, problems = _owners.find_owners(set(r['inode'] for r in records if r['inode']), proc_root=proc_root,
                                           look_again=listening)
    unseen = 'not_visible' if problems else 'exited'
    unowned = 0
    for record in records:
        found = owners.get(record['inode']) if record['inode'] else None
        if found:
            record['processes'] = found     # owner_unknown stays None, as every reader leaves it
            continue
        record['processes'] = []
        if _kernel_held(record):
            record['owner_unknown'] = 'kernel'
        else:
            record['owner_unknown'] = unseen
            unowned += 1
    if unowned:
        reasons.extend(problems)
    else:
        # Unreadable processes matter only if they could own a socket returned here; every one has an owner.
        notes.extend('every socket returned has a known owner, so this does not affect these facts: ' + problem
                     for problem in problems)
    return not problems


def _without_closed(records: list[Record], plan: dict[str, Any], targets: Targets, notes: list[str]) -> list[Record]:
    """The records less the listening sockets that no process was seen to hold and that the kernel no longer lists
    either: they closed during the walk (their owner exited), so they are not open now. One more dump of the
    listening states, only when there are such sockets; a listener still listed stays, with its owner_unknown, and
    makes the facts incomplete (_owners_unknown)."""
    exited: dict[str | None, set[int]] = {}
    for record in records:
        if record['owner_unknown'] in _UNKNOWN_WORDS and _records.is_listening(record):
            exited.setdefault(record['netns'], set()).add(record['inode'])
    if not exited:
        return records
    closed: set[tuple[str | None, int]] = set()
    for label, namespace in targets:
        wanted = exited.get(label)
        if not wanted:
            continue
        tables = [table for table in plan['tables'] if table in _tables.INET_PROTOCOLS]
        again = dict(plan, tables=tables, states=LISTENING_STATES, filter=None, summary=False)
        try:
            if namespace is None:
                result = _read(again)
            else:
                result = _netns_module().call_in(namespace, _read, again)
        except (NetauditError, ValueError, OSError):
            continue     # not known to be closed: the sockets stay, and the facts say their owner is unknown
        listed = set(record['inode'] for record in result['records'])
        closed.update((label, inode) for inode in wanted if inode not in listed)
    if not closed:
        return records
    notes.append('%d listening socket%s closed during the owner walk (no process held %s, and the kernel no longer '
                 'lists %s): left out' % (len(closed), '' if len(closed) == 1 else 's',
                                          'it' if len(closed) == 1 else 'them', 'it' if len(closed) == 1 else 'them'))
    return [record for record in records
            if record['owner_unknown'] not in _UNKNOWN_WORDS or (record['netns'], record['inode']) not in closed]


# How incomplete_reasons says why listening sockets have no owner (owner_unknown values, docs/records.md).
_UNKNOWN_WORDS = {
    'not_visible': 'not visible to the module',
    'exited': 'no process held it on either look (the owner exited or changed pid during the walk)',
}


def _owners_unknown(records: list[Record], reasons: list[str]) -> dict[str, int]:
    """socket_meta.owners_unknown ({owner_unknown: count}). Listening sockets with no owner make the facts incomplete,
    unless the kernel holds them or the caller left owners out (processes: false, owners_visible null)."""
    counts: dict[str, int] = {}
    listening: dict[str, int] = {}
    for record in records:
        reason = record['owner_unknown']
        if reason is None:
            continue
        counts[reason] = counts.get(reason, 0) + 1
        if reason in _UNKNOWN_WORDS and _records.is_listening(record):
            listening[reason] = listening.get(reason, 0) + 1
    if listening:
        total = sum(listening.values())
        reasons.append('%s no owner (owner_unknown): %s' % (
            '1 listening socket shows' if total == 1 else '%d listening sockets show' % total,
            '; '.join('%d %s' % (count, _UNKNOWN_WORDS[reason]) for reason, count in sorted(listening.items()))))
    return counts


# Why the origin fields are unknown where this run cannot read them.
_ORIGIN_NOT_READ = {
    'psutil': 'not read by the psutil backend (cgroups, units and containers are read on Linux only)',
    'proc_root': 'not read from a proc_root tree (cgroups, unit files and runtime state belong to the live host)',
}


def _origins(records: list[Record], targets: Targets, chosen: str, proc_root: str, packages: bool, root: str,
             notes: list[str]) -> dict[str, Any] | None:
    """Where each socket comes from: cgroup, unit, container, package, security context (_origin/run.py)."""
    from ansible_collections.netaudit.sockets.plugins.module_utils._origin import run
    if chosen == 'psutil' or proc_root.rstrip('/') != '/proc':
        run.not_read(records, _ORIGIN_NOT_READ['psutil' if chosen == 'psutil' else 'proc_root'])
        return None
    found, netns_containers = run.attribute(records, targets, proc_root, packages=packages, root=root)
    notes.extend(note for note in found if note not in notes)
    return netns_containers
