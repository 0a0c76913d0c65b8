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

from ansible_collections.netaudit.sockets.plugins.module_utils._origin.attribute import Attributor
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


def _first_owner(record: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    return min(record['processes'], key=lambda owner: owner['pid']) if record['processes'] else None


def attribute(records: List[Dict[str, Any]], targets: List[Tuple[Optional[str], Any]], proc_root: str = '/proc',
              packages: bool = False, root: str = '/') -> Tuple[List[str], Optional[Dict[str, Any]]]:
    """Fill the origin fields of one run's records. Returns (notes, netns_containers): notes for socket_meta, and
    for a run that read other namespaces, {label: the container whose init process holds it, null for none, or
    {"unknown": reason}}; None when only the module's own namespace was read."""
    for record in records:
        record['origin_unknown'] = {}
    attributor = Attributor(proc_root, root)
    attributor.attribute(records)
    finder, contexts = Containers(proc_root, root), SecurityContexts(proc_root, root)
    packager = Packages(proc_root, root) if packages else None
    if packager is not None:
        packager.prepare(sorted(set(owner['pid'] for record in records for owner in record['processes'])))
    for record in records:
        unknown = record['origin_unknown']
        owner = _first_owner(record)
        for field, told in (('container', finder.container), ('package', packager.package if packager else None),
                            ('security_context', contexts.context)):
            value: Any = None
            reason: Optional[str] = None
            if told is None:
                reason = NOT_GATHERED
            elif owner is not None:
                value, reason = told(owner['pid'])
            elif record['owner_unknown'] != 'kernel':
                reason = record['owner_unknown']
            record[field] = value
            if reason:
                unknown[field] = reason
    labels: Optional[Dict[str, Any]] = None
    for label, namespace in targets:
        if namespace is not None and label is not None and namespace.identity:
            container, reason = finder.namespace(namespace.identity[1])
            labels = {} if labels is None else labels
            labels[label] = container if reason is None else {'unknown': reason}
    return attributor.notes(), labels
