# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: where each socket of one run comes from, the one entry point `_gather` calls.

Sets the record fields `cgroup`, `owner_cgroups`, `unit` (attribute.py), `container`, `package` and
`security_context` (of the socket's first owner, the lowest pid), and `origin_unknown`: for each of them the host
could not tell, why (docs/records.md). A field that is null with no entry is "none" (not in a container, no unit);
null with an entry is unknown, and the policy fails closed on it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils._records import no_cycle_collection
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.attribute import Attributor, key_of
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.cgroups import CgroupFiles
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.containers import Containers
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.packages import Packages
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.security import SecurityContexts

# The record keys this file fills, in FIELDS order (_records.FIELDS ends with them).
FIELDS = ('cgroup', 'owner_cgroups', 'unit', 'container', 'package', 'security_context', 'origin_unknown')
NOT_GATHERED = 'not_gathered'
NOT_READ = 'not_read'


def not_read(records: List[Dict[str, Any]], why: str) -> None:
    """Records of a backend that cannot tell where a socket comes from (psutil, on hosts other than Linux): every
    field unknown, with `why` as the reason."""
    for record in records:
        for field in FIELDS[:-1]:
            record[field] = [] if field == 'owner_cgroups' else None
        record['origin_unknown'] = dict((field, why) for field in FIELDS[:-1] if field != 'owner_cgroups')


def attribute(records: List[Dict[str, Any]], targets: List[Tuple[Optional[str], Any]], proc_root: str = '/proc',
              packages: bool = False, root: str = '/') -> Tuple[List[str], Optional[Dict[str, Any]]]:
    """Fill the origin fields of one run's records. Returns (notes, netns_containers): notes for socket_meta, and
    for a run that read other namespaces, {label: the container whose init process holds it, null for none, or
    {"unknown": reason}}; None when only the module's own namespace was read."""
    files = CgroupFiles(proc_root)
    attributor = Attributor(proc_root, root, files=files)
    finder, contexts = Containers(proc_root, root, files=files), SecurityContexts(proc_root, root)
    packager = Packages(proc_root, root) if packages else None
    if packager is not None:
        packager.prepare(sorted(set(owner['pid'] for record in records for owner in record['processes'])))
    # Each answer is worked out once per key and shared between the records that have it: per cgroup id and
    # owners (attribute.py), the first owner's container, package and label (processes are in pid order), or per
    # reason for records without owner. A record then takes its seven values in one update; nothing changes the
    # shared values after this. Records a systemd manager holds are worked out one by one (their .socket unit
    # depends on the socket's address).
    of_owner: Dict[object, Tuple[Any, Any, Any, Dict[str, str]]] = {}
    shared: Dict[object, Optional[Dict[str, Any]]] = {}
    managers = attributor.manager_pids
    with no_cycle_collection():
        for record in records:
            processes = record['processes']
            if processes:
                pids = (processes[0]['pid'],) if len(processes) == 1 else tuple([owner['pid'] for owner in processes])
            else:
                pids = ()
            cgroup_id = record['cgroup_id']
            key = (cgroup_id, pids) if pids and cgroup_id is not None else key_of(record, pids)   # key_of's first case, inline
            values = shared.get(key)
            if values is None:
                values = _values(record, pids, attributor, of_owner, finder, packager, contexts)
                if managers.isdisjoint(pids):
                    shared[key] = values
            record.update(values)
    labels: Optional[Dict[str, Any]] = None
    for label, namespace in targets:
        if namespace is not None and label is not None and namespace.identity:
            container, reason = finder.namespace(namespace.identity[1])
            labels = {} if labels is None else labels
            labels[label] = container if reason is None else {'unknown': reason}
    return attributor.notes(), labels


def _values(record: Dict[str, Any], pids: Tuple[int, ...], attributor: Attributor,
            of_owner: Dict[object, Tuple[Any, Any, Any, Dict[str, str]]], finder: Containers,
            packager: Optional[Packages], contexts: SecurityContexts) -> Dict[str, Any]:
    """The seven origin values of one record, as one dict to update it with."""
    cgroup, owner_cgroups, unit, reasons = attributor.fields_of(record, pids)
    key: object = pids[0] if pids else record['owner_unknown']
    found = of_owner.get(key)
    if found is None:
        found = of_owner[key] = _of_owner(pids[0] if pids else None, record['owner_unknown'], finder, packager, contexts)
    container, package, context, more = found
    return {'cgroup': cgroup, 'owner_cgroups': owner_cgroups, 'unit': unit, 'container': container,
            'package': package, 'security_context': context,
            'origin_unknown': dict(reasons, **more) if reasons or more else {}}


def _of_owner(pid: Optional[int], owner_unknown: Optional[str], finder: Containers, packager: Optional[Packages],
              contexts: SecurityContexts) -> Tuple[Any, Any, Any, Dict[str, str]]:
    """(container, package, security_context, reasons) of the process pid, or of a record without owner."""
    values: List[Any] = []
    reasons: Dict[str, str] = {}
    for field, told in (('container', finder.container), ('package', packager.package if packager else None),
                        ('security_context', contexts.context)):
        value: Any = None
        reason: Optional[str] = None
        if told is None:
            reason = NOT_GATHERED
        elif pid is not None:
            value, reason = told(pid)
        elif owner_unknown != 'kernel':
            reason = owner_unknown
        values.append(value)
        if reason:
            reasons[field] = reason
    return values[0], values[1], values[2], reasons
