# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: one rule's result in a verdict (its status, the sockets it matched, and a message
that names them; docs/policy.md, "The verdict")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import Listener
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.matching import needed, undecided_keys
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule


def rule_result(rule: Rule, mode: str, expired: bool, sockets: list[Listener], undecided: list[Listener],
                excepted: Sequence[Listener] | None = None) -> dict[str, Any]:
    """One rule's result. `sockets` match it for certain; `undecided` would match but for an owner key whose value is
    unknown, their owner or their unit, container or package (only when the rule fails closed; a forbidden rule counts
    them as violations). The message names each undecided socket with what was unknown and why."""
    result: dict[str, Any] = {
        'id': rule.id, 'kind': rule.kind, 'index': rule.index, 'name': rule.name, 'text': rule.text,
        'rule': rule.describe(), 'reason': rule.reason,
        'until': rule.until.isoformat() if rule.until else None, 'expired': expired,
        'unknown_owner': rule.mode(mode) if rule.needs_owner() else None,
        'sockets': [s.summary() for s in sockets + (undecided if rule.kind == 'forbidden' else [])],
        'undecided': [s.summary() for s in undecided],
    }
    if rule.kind == 'forbidden':
        result['excepted'] = [s.summary() for s in excepted or ()]
    label, rule_text = rule.label, rule.safe_text
    shown = rule.origin_keys
    found = '; '.join(s.describe(shown) for s in sockets)
    unknown = '; '.join(s.describe(shown) for s in undecided)
    need = needed(key for s in undecided for key in undecided_keys(rule, s))
    if expired:
        status, passed = 'expired', True
        message = '%s (%s) expired on %s and no longer applies%s' % (
            label, rule_text, result['until'], ('; it would match ' + found) if sockets else '')
    elif rule.kind == 'expected':
        status = 'ok' if sockets else 'missing'
        passed = bool(sockets)
        if sockets:
            message = '%s (%s) is listening: %s' % (label, rule_text, found)
        elif undecided:
            message = ('%s (%s): nothing is listening that is known to match; the rule needs %s for: %s'
                       % (label, rule_text, need, unknown))
        else:
            message = '%s (%s): nothing is listening' % (label, rule_text)
    elif rule.kind == 'forbidden':
        status = 'violated' if sockets or undecided else 'ok'
        passed = status == 'ok'
        parts = ['%s (%s)' % (label, rule_text)]
        if sockets:
            parts.append(' is forbidden, but listening: ' + found)
        if undecided:
            parts.append('%s cannot be ruled out: %s' % ('; and' if sockets else '', unknown))
        if not sockets and not undecided:
            parts.append(': nothing forbidden is listening')
        message = ''.join(parts)
        if excepted:
            message += '; excepted until the exception expires: ' + '; '.join(s.describe(shown) for s in excepted)
    else:
        status, passed = 'ok', True
        if sockets:
            message = '%s (%s) allows: %s' % (label, rule_text, found)
        elif undecided:
            message = '%s (%s): nothing listening is known to use it' % (label, rule_text)
        else:
            message = '%s (%s): nothing listening uses it' % (label, rule_text)
        if undecided:
            message += '; the rule needs %s for: %s' % (need, unknown)
    if rule.safe_reason:
        message += ' [reason: %s]' % rule.safe_reason
    result.update(status=status, passed=passed, message=message)
    return result
