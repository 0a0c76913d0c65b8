# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the record fields `cgroup`, `owner_cgroups` and `unit`, and their entries in
`origin_unknown`, for the records of one run (docs/records.md).

- `cgroup`: the socket's cgroup path as `ss --cgroup` prints it, from `cgroup_id` (cgroups.py). Null without an id
  for sockets that have none (other tables, TIME-WAIT and SYN-RECV entries); unknown when an inet socket came
  without one (the proc and psutil backends, kernels before 5.8) or its cgroup is gone.
- `owner_cgroups`: the owners' cgroup v2 paths (from /proc/PID/cgroup, written like `cgroup`) that differ from
  `cgroup`, sorted, once each.
- `unit`: the systemd unit of the first owner (lowest pid), from its cgroup (units.py); for a listening socket held
  by a systemd manager (managers.py says which processes are), the `.socket` unit that declares it and the
  service it starts (socket_units.py), or the manager's own unit for its own sockets.

One Attributor is made per run: it reads the mount table once, each process's cgroup once, walks the cgroup tree
only when some socket's cgroup is not one of its owners', and reads a manager's units only when the manager holds
a listening socket.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Set, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import cgroups
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import managers
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import socket_units
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import units

FIELDS = ('cgroup', 'owner_cgroups', 'unit')
_NO_CGROUP_STATES = ('TIME-WAIT', 'SYN-RECV')
# cgroup, owner_cgroups, unit, and the reasons for the fields not told
_Fields = Tuple[Optional[str], List[str], Optional[dict], Dict[str, str]]
NO_CGROUP_ID = 'the socket came without a cgroup id (the proc and psutil backends, and kernels before 5.8, give none)'


def key_of(record: dict, pids: Tuple[int, ...]) -> object:
    """What a record's cgroup, owner cgroups and unit depend on (records with the same key share them): the cgroup
    id and owners, and when either is missing, why there is no owner and whether a cgroup id was to be expected."""
    cgroup_id = record.get('cgroup_id')
    if cgroup_id is not None and pids:
        return (cgroup_id, pids)
    return (cgroup_id, pids, record.get('owner_unknown'), cgroup_id is None and (
        record.get('family') in _records.INET_FAMILIES and bool(record.get('inode'))
        and record.get('state') not in _NO_CGROUP_STATES))


class _Process:
    """What the run knows of one process: its cgroups (or why not), its cgroup as ss writes it, the unit of its
    cgroup, whether it is a manager."""
    __slots__ = ('cgroups', 'problem', 'manager', 'ss_path', 'unit')

    def __init__(self, found: Optional[cgroups.ProcessCgroups], problem: Optional[str]) -> None:
        self.cgroups, self.problem = found, problem
        self.manager: Optional[managers.Manager] = None
        self.ss_path: Optional[str] = None
        self.unit: Tuple[Optional[dict], Optional[str]] = (None, None)


class Attributor:
    """attribute(records) sets `cgroup`, `owner_cgroups` and `unit` on each record, and adds to its
    `origin_unknown` (a dict, made when missing) the reason for each of them the host could not tell."""

    def __init__(self, proc_root: str = '/proc', root: str = '/', ipv6: Optional[bool] = None,
                 cgroup_root: str = '/', files: Optional[cgroups.CgroupFiles] = None) -> None:
        # root: where files are read (unit files, the password file); cgroup_root: where the cgroup2 mount point
        # that proc_root's mount table names is read. Both are '/' on a live host; tests set them apart.
        self.proc_root, self.root, self.cgroup_root = proc_root, root, cgroup_root
        # Each /proc/PID/cgroup is read once in a run, shared with the containers (run.py).
        self.files = files or cgroups.CgroupFiles(proc_root)
        # Whether systemd binds a port-only Listen*= to [::] (IPv6 present) or to 0.0.0.0.
        self.ipv6 = os.path.exists(os.path.join(proc_root, 'net', 'if_inet6')) if ipv6 is None else ipv6
        self._mount_read = False
        self.mount: Optional[cgroups.CgroupMount] = None
        self.mount_problem: Optional[str] = None
        self.index: Optional[cgroups.CgroupIndex] = None
        self._processes: Dict[int, _Process] = {}
        self._known: Dict[object, _Fields] = {}
        self._manager_pids: Set[int] = set()
        self._socket_units: Dict[Tuple[str, Optional[int]], socket_units.SocketUnits] = {}

    # --- sources, each read once ------------------------------------------------------------------------------

    def _mount(self) -> Optional[cgroups.CgroupMount]:
        if not self._mount_read:
            self._mount_read = True
            self.mount, self.mount_problem = cgroups.find_cgroup2_mount(self.proc_root, self.cgroup_root)
        return self.mount

    def _process(self, pid: int, name: Optional[str]) -> _Process:
        known = self._processes.get(pid)
        if known is not None:
            return known
        try:
            found = _Process(cgroups.read_process_cgroups(self.proc_root, pid, self.files), None)
        except cgroups.CgroupFileError as exc:
            gone = 'process %d exited before its cgroup was read' % pid
            found = _Process(None, gone if exc.missing else str(exc))
        self._processes[pid] = found
        found.ss_path = self._ss_path(found)
        found.unit = self._unit_of(found)
        if managers.is_system_manager(pid, name):
            found.manager = managers.system_manager(self.proc_root, self.root)
        elif name == managers.MANAGER_NAME and found.cgroups is not None:
            uid = managers.user_manager_uid(name, managers.real_uid(self.proc_root, pid), self._unit_path(found))
            if uid is not None:
                found.manager = managers.user_manager(self.proc_root, self.root, pid, uid)
        if found.manager is not None:
            self._manager_pids.add(pid)
        return found

    def _unit_path(self, process: _Process) -> Optional[str]:
        """The path systemd names units by: the v2 one where a cgroup2 hierarchy is mounted (unified and hybrid
        hosts), else (legacy hosts) the name=systemd one."""
        found = process.cgroups
        if found is None:
            return None
        if self._mount() is None and found.systemd_v1 is not None:
            return found.systemd_v1
        return found.v2

    def _ss_path(self, process: _Process) -> Optional[str]:
        """The owner's v2 path written as ss writes cgroup paths (relative to the cgroup2 mount)."""
        if process.cgroups is None or process.cgroups.v2 is None:
            return None
        mount = self._mount()
        if mount is None:
            return process.cgroups.v2
        return cgroups.mount_relative(mount, process.cgroups.v2) or process.cgroups.v2

    def _units_of(self, manager: managers.Manager) -> socket_units.SocketUnits:
        key = (manager.kind, manager.uid)
        if key not in self._socket_units:
            self._socket_units[key] = socket_units.SocketUnits(manager, self.root, self.ipv6)
        return self._socket_units[key]

    # --- the fields ---------------------------------------------------------------------------------------------

    def _cgroup(self, record: dict, owners: List[_Process]) -> Tuple[Optional[str], Optional[str]]:
        cgroup_id = record.get('cgroup_id')
        if cgroup_id is None:
            expected = (record.get('family') in _records.INET_FAMILIES and record.get('inode')
                        and record.get('state') not in _NO_CGROUP_STATES)
            return None, NO_CGROUP_ID if expected else None
        mount = self._mount()
        if mount is None:
            return None, 'cgroup id %d has no path: %s' % (cgroup_id, self.mount_problem)
        if self.index is None:
            self.index = cgroups.CgroupIndex(mount)
        return self.index.path_of(cgroup_id, [owner.ss_path for owner in owners if owner.ss_path])

    def _owner_cgroups(self, record: dict, owners: List[_Process], cgroup: Optional[str]) -> Tuple[List[str], Optional[str]]:
        paths, problems = set(), []
        for owner in owners:
            path = owner.ss_path
            if path is None:
                problems.append(owner.problem or 'a process has no cgroup v2 line in its cgroup file')
            elif path != cgroup:
                paths.add(path)
        if not record.get('processes'):
            reason = record.get('owner_unknown')
            return [], reason if reason and reason != 'kernel' else None
        return sorted(paths), '; '.join(problems) or None

    def _unit(self, record: dict, owners: List[_Process]) -> Tuple[Optional[dict], Optional[str]]:
        if not owners:
            reason = record.get('owner_unknown')
            return None, reason if reason and reason != 'kernel' else None
        return owners[0].unit

    def _unit_of(self, owner: _Process) -> Tuple[Optional[dict], Optional[str]]:
        path = self._unit_path(owner)
        if path is None:
            return None, owner.problem or 'the owner has no cgroup v2 line in its cgroup file'
        try:
            return units.unit_of_cgroup(path), None
        except units.CgroupPathError as exc:
            return None, str(exc)

    def _activated(self, record: dict, owner: _Process) -> Tuple[Optional[dict], Optional[str]]:
        manager = owner.manager
        if manager is None:     # not reached: _manager_pids holds the pids of managers only
            return owner.unit
        declared = self._units_of(manager)
        unit, why = declared.match(record)
        if unit is not None:
            return socket_units.unit_record(unit, manager), None
        if declared.own_socket(record):
            return owner.unit
        return None, why

    def _fields(self, record: dict, owners: List[_Process]) -> _Fields:
        cgroup, why_cgroup = self._cgroup(record, owners)
        owner_paths, why_owners = self._owner_cgroups(record, owners, cgroup)
        unit, why_unit = self._unit(record, owners)
        reasons = dict((field, _bounded.host_name(why) or '') for field, why in (
            ('cgroup', why_cgroup), ('owner_cgroups', why_owners), ('unit', why_unit)) if why)
        return cgroup, owner_paths, unit, reasons

    def attribute(self, records: List[dict]) -> None:
        with _records.no_cycle_collection():     # a list and a dict per record, no cycles (see _records)
            self._attribute(records)

    def _attribute(self, records: List[dict]) -> None:
        for record in records:
            processes = record.get('processes')
            pids = tuple([owner['pid'] for owner in processes]) if processes else ()
            cgroup, owner_paths, unit, reasons = self.fields_of(record, pids)
            record['cgroup'] = cgroup
            record['owner_cgroups'] = owner_paths[:]
            record['unit'] = unit.copy() if unit is not None else None
            unknown = record.get('origin_unknown')
            if not isinstance(unknown, dict):
                record['origin_unknown'] = reasons.copy()
            else:
                if unknown:
                    for field in FIELDS:
                        unknown.pop(field, None)
                if reasons:
                    unknown.update(reasons)

    def fields_of(self, record: dict, pids: Tuple[int, ...]) -> _Fields:
        """(cgroup, owner_cgroups, unit, reasons) of a record whose owners are pids. Most records share their answer
        with others (a process's sockets, made in its cgroup): it is worked out once per key (cgroup id, owners,
        and what matters when there is neither) and shared; the caller must not change what it gets."""
        key = key_of(record, pids)
        found = self._known.get(key)
        if found is None:
            owners = [self._process(owner['pid'], owner.get('name')) for owner in record.get('processes') or ()]
            found = self._known[key] = self._fields(record, owners)
        if self._manager_pids and not self._manager_pids.isdisjoint(pids) and socket_units.may_be_activated(record):
            unit, reasons = self._activated_fields(record, pids, found[3])
            return found[0], found[1], unit, reasons
        return found

    def _activated_fields(self, record: dict, pids: Tuple[int, ...], reasons: Dict[str, str]
                          ) -> Tuple[Optional[dict], Dict[str, str]]:
        """The unit of a listening socket held by a manager (the first one by pid), and the reasons with its own."""
        holder = next(self._processes[pid] for pid in pids if pid in self._manager_pids)
        unit, why = self._activated(record, holder)
        reasons = dict(reasons)
        reasons.pop('unit', None)
        if why:
            reasons['unit'] = _bounded.host_name(why) or ''
        return unit, reasons

    @property
    def manager_pids(self) -> Set[int]:
        """The pids of the systemd managers seen so far (the set grows as processes are seen)."""
        return self._manager_pids

    def notes(self) -> List[str]:
        """What socket_meta.notes could say about this run: a cgroup walk cut short, unit files not read."""
        found = []
        if self.index is not None:
            found += [note for note in [self.index.cut_short] + self.index.problems if note]
        for declared in self._socket_units.values():
            found += ['%s: %s' % (declared.who(), problem) for problem in declared.problems]
        return [_bounded.host_name(note) or '' for note in found]
