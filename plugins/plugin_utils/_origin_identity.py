# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: where a socket comes from, as socket_diff compares it across two snapshots (its
unit, container and package, by identities that survive a restart)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import is_int

# Each is compared by an identity that survives a restart (docs/drift.md, "Where a socket comes from"):
# - container: runtime and name (Kubernetes: runtime, namespace/pod/container); the id only when there is no name, so
#   a container recreated under the same name (a new id) is the same container;
# - unit: manager, (user) uid and name; every transient scope but init.scope (session-3.scope, run-r1.scope,
#   docker-ID.scope) counts as one "scope" identity, since its name changes with each run; where both snapshots put
#   the identity in containers, the unit is not compared (the container speaks for it);
# - package: package manager and name (not the version: an upgrade is not a move).
# A field the host could not tell (origin_unknown), or facts from before these keys, are unknown: never a move, only
# "cannot tell" when the other snapshot knows something.

ORIGIN_FIELDS = ('container', 'unit', 'package')
NOT_RECORDED = 'not_recorded'       # facts without origin_unknown: from before the origin fields
PLURAL = {'container': 'containers', 'unit': 'units', 'package': 'packages'}
# An identity: (kind, ...parts); None is "none" (no unit, not in a container, no package).
OriginKey = Optional[Tuple[Any, ...]]


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def origin_identity(field: str, value: Mapping[str, Any]) -> tuple[OriginKey, str] | None:
    """(identity, text) of one known origin value, or None when it names nothing the comparison can use."""
    if field == 'container':
        runtime = _string(value.get('runtime')) or 'unknown runtime'
        pod = _string(value.get('pod'))
        label = ('/'.join(part for part in (_string(value.get('namespace')), pod, _string(value.get('container'))) if part)
                 if pod else _string(value.get('name')))
        if label is not None:
            return ('container', runtime, label), '%s (%s)' % (label, runtime)
        ident = _string(value.get('id'))
        if ident is None:
            return None
        return ('container id', runtime, ident), 'id %s (%s)' % (ident[:12], runtime)
    if field == 'unit':
        name = _string(value.get('name'))
        if name is None:
            return None
        manager = _string(value.get('manager')) or 'system'
        uid = value.get('uid') if manager == 'user' and is_int(value.get('uid')) else None
        compared = '*.scope' if name.endswith('.scope') and name != 'init.scope' else name
        text = name if manager == 'system' else '%s (%s manager%s)' % (name, manager, '' if uid is None else ' of uid %d' % uid)
        return ('unit', manager, uid, compared), text
    package = _string(value.get('name'))
    if package is None:
        return None
    packager = _string(value.get('manager'))
    return ('package', packager, package), package if packager is None else '%s (%s)' % (package, packager)


class Origin(object):
    """One origin field of the sockets of one identity: the values known ({identity: text}, None for "none") and
    why it is unknown for the others."""

    __slots__ = ('known', 'unknown')

    def __init__(self) -> None:
        self.known: dict[OriginKey, str] = {}
        self.unknown: set[str] = set()

    def add(self, field: str, record: Mapping[str, Any]) -> None:
        reasons = record.get('origin_unknown')
        if not isinstance(reasons, Mapping) or field not in record:
            self.unknown.add(NOT_RECORDED)
        elif field in reasons:
            reason = reasons[field]
            self.unknown.add(reason if isinstance(reason, str) else 'unknown')
        elif record[field] is None:
            self.known[None] = 'none'
        else:
            found = origin_identity(field, record[field])
            if found is None:
                self.unknown.add('unnamed')
            else:
                self.known[found[0]] = found[1]

    def texts(self) -> list[str]:
        return sorted(text for key, text in self.known.items() if key is not None)

    def named(self) -> bool:
        """Whether some socket of the identity has a value (a unit, a container), not only "none"."""
        return any(key is not None for key in self.known)


def unknown_text(reason: str) -> str:
    if reason == NOT_RECORDED:
        return 'the facts do not say (gathered before this collection recorded it)'
    if reason == 'not_gathered':
        return 'not gathered'
    if reason == 'unnamed':
        return 'the facts name none'
    return reason


def side_text(origins: Mapping[str, Origin], fields: Sequence[str]) -> str:
    """What a side of a move was: its container, else its unit, and its package when that moved."""
    parts = []
    if 'container' in fields or 'unit' in fields:
        containers, units = origins['container'].texts(), origins['unit'].texts()
        if containers:
            parts += ['container ' + text for text in containers]
        elif units:
            parts += ['unit ' + text for text in units]
        else:
            parts.append('no unit or container')
    if 'package' in fields:
        parts += ['package ' + text for text in origins['package'].texts()] or ['no package']
    return ', '.join(parts)


def compare_origins(was: Mapping[str, Origin], now: Mapping[str, Origin]) -> tuple[list[str], list[str]]:
    """(the fields that moved, why others cannot be told) between the two snapshots of one identity."""
    moved, doubts = [], []
    in_containers = was['container'].named() and now['container'].named()
    for field in ORIGIN_FIELDS:
        if field == 'unit' and in_containers:
            continue
        before, after = was[field], now[field]
        if before.unknown or after.unknown:
            if before.known or after.known:         # both wholly unknown: there is nothing to tell
                for side, origin in (('baseline', before), ('current', after)):
                    for reason in sorted(origin.unknown):
                        doubts.append('%s unknown in the %s snapshot: %s' % (field, side, unknown_text(reason)))
            continue
        if set(before.known) != set(after.known):
            if any(key is not None and key[0] == 'container id' for key in set(before.known) ^ set(after.known)):
                doubts.append('container: a container without a name (only its id, which changes when it is '
                              'recreated) in one snapshot')
            else:
                moved.append(field)
    return moved, doubts
