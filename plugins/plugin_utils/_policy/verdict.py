# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: port_audit, the verdict of one host's listening sockets against a port policy (see
docs/policy.md for its structure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError, socket_records, type_name
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import (
    Listener, listeners, origin_unknown_text, owner_unknown_text,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.expiry import audit_date, expired, live_exceptions
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.keys import KINDS
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.matching import UNDECIDED, judge, needed, undecided_keys
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.policy import compile_policy
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule_result import rule_result


def _unknown_default(meta: object) -> str | None:
    """The owner_unknown reason of records from before that key, from what socket_meta says (see owner_unknown())."""
    if isinstance(meta, Mapping) and 'owners_visible' in meta:
        visible = meta['owners_visible']
        if visible is None:
            return 'not_gathered'
        if visible is False:
            return 'not_visible'
    return None


def port_audit(sockets: object, policy: object, now: object = None, socket_meta: object = None) -> dict[str, Any]:
    """The verdict of one host's socket facts against a port policy (see docs/policy.md for its structure)."""
    records, found_meta = socket_records(sockets)
    meta = socket_meta if socket_meta is not None else found_meta
    if meta is not None and not isinstance(meta, Mapping):
        raise PolicyError('socket_meta: expected the socket_meta dict of socket_facts, got %s' % type_name(meta))
    compiled = compile_policy(policy)
    mode = compiled.unknown_owner
    today = audit_date(now)
    found = listeners(records, unknown_default=_unknown_default(meta))

    expired_ids = expired(compiled.rules, today)
    matched: dict[str, list[Listener]] = dict((rule.id, []) for rule in compiled.rules)
    undecided: dict[str, list[Listener]] = dict((rule.id, []) for rule in compiled.rules)
    ignored: dict[str, list[Listener]] = dict((rule.id, []) for rule in compiled.rules)
    socket_entries: list[dict[str, Any]] = []
    unexpected: list[dict[str, Any]] = []
    unknown_owner: list[dict[str, Any]] = []
    excepted: dict[str, list[Listener]] = {}
    needs: dict[int, list[tuple[str, list[str]]]] = {}     # id(unexpected entry) -> (rule id, the keys it needed)
    for listener in found:
        hits: list[Rule] = []
        open_rules: list[Rule] = []
        for rule in compiled.rules:
            judged = judge(rule, listener)
            if judged is True:
                matched[rule.id].append(listener)
                if rule.id not in expired_ids:
                    hits.append(rule)
            elif judged == UNDECIDED:
                # Fail closed: a forbidden rule cannot rule the socket out, an expected or allowed rule cannot vouch
                # for it. With unknown_owner: ignore, the owner test is simply false (noted in the verdict).
                if rule.mode(mode) == 'ignore':
                    if rule.id not in expired_ids:
                        ignored[rule.id].append(listener)
                else:
                    undecided[rule.id].append(listener)
                    if rule.id not in expired_ids:
                        open_rules.append(rule)
        kinds = dict((kind, [r for r in hits if r.kind == kind]) for kind in KINDS)
        forbidding = kinds['forbidden'] + [r for r in open_rules if r.kind == 'forbidden']
        # A live exception overrides the forbidden rules it overlaps.
        exceptions = live_exceptions(hits)
        if forbidding and not exceptions:
            status = 'forbidden'
        elif kinds['expected']:
            status = 'expected'
        elif kinds['allowed']:
            status = 'allowed'
        else:
            status = 'unexpected' if compiled.closed_world else 'unlisted'
        if forbidding and exceptions:
            for rule in forbidding:
                excepted.setdefault(rule.id, []).append(listener)
        entry = listener.summary()
        entry.update(status=status, rules=[r.id for r in hits], undecided=[r.id for r in open_rules],
                     exception=exceptions[0].id if exceptions and forbidding else None)
        socket_entries.append(entry)
        if status == 'unexpected':
            unexpected.append(entry)
            needs[id(entry)] = [(rule.id, undecided_keys(rule, listener)) for rule in open_rules]
        if listener.owner_unknown is not None:
            unknown_owner.append(entry)

    results = []
    for rule in compiled.rules:
        sockets_found, doubtful = matched[rule.id], undecided[rule.id]
        if rule.id in excepted:
            spared = set(id(s) for s in excepted[rule.id])
            sockets_found = [s for s in sockets_found if id(s) not in spared]
            doubtful = [s for s in doubtful if id(s) not in spared]
        results.append(rule_result(rule, mode, rule.id in expired_ids, sockets_found, doubtful, excepted.get(rule.id)))

    complete = None if meta is None else meta.get('complete')
    incomplete = complete is False
    reasons = list(meta.get('incomplete_reasons') or ()) if meta is not None and incomplete else []
    notes = []
    if meta is None:
        notes.append('no socket_meta was given, so whether the facts are complete is unknown')
    elif complete is None:
        notes.append('socket_meta has no "complete" key, so whether the facts are complete is unknown')
    for rule in compiled.rules:
        if ignored[rule.id]:
            notes.append('%s (%s) needs %s, and has unknown_owner: ignore, so it did not judge: %s' % (
                rule.label, rule.safe_text, needed(key for s in ignored[rule.id] for key in undecided_keys(rule, s)),
                '; '.join(s.describe(rule.origin_keys) for s in ignored[rule.id])))

    missing = [r for r in results if r['status'] == 'missing']
    violated = [r for r in results if r['status'] == 'violated']
    expired_results = [r for r in results if r['status'] == 'expired']
    violations = [r['message'] for r in missing + violated]
    violations += ['unexpected: %s matches no expected or allowed rule (closed world)%s' % (
        _describe_entry(entry), _undecided_text(needs.get(id(entry), []), entry)) for entry in unexpected]
    if incomplete and not compiled.accept_incomplete:
        violations.append('incomplete facts: %s (set accept_incomplete: true in the policy to accept them)'
                          % (_hoststr.text('; '.join(reasons)) or 'socket_meta.complete is false'))
    return {
        'compliant': not violations,
        'date': today.isoformat(),
        'closed_world': compiled.closed_world,
        'accept_incomplete': compiled.accept_incomplete,
        'unknown_owner_mode': mode,
        'incomplete': incomplete,
        'incomplete_reasons': [_hoststr.clean(reason) for reason in reasons],
        'violations': violations,
        'missing': missing,
        'forbidden': violated,
        'unexpected': unexpected,
        'unknown_owner': unknown_owner,
        'expired_exceptions': expired_results,
        'rules': results,
        'sockets': socket_entries,
        'summary': {
            'listening': len(socket_entries), 'rules': len(results), 'missing': len(missing),
            'forbidden': len(violated), 'unexpected': len(unexpected), 'unknown_owner': len(unknown_owner),
            'expired_exceptions': len(expired_results), 'violations': len(violations),
        },
        'notes': notes,
    }


def _undecided_text(needs: list[tuple[str, list[str]]], entry: Mapping[str, Any]) -> str:
    """'; allowed[0], allowed[2] need its owner, which is unknown', one clause per set of keys the rules needed; an
    unknown unit, container or package with why: '; allowed[1] needs its unit, which is unknown (unit: REASON)'."""
    by_keys: dict[tuple[str, ...], list[str]] = {}
    for rule_id, keys in needs:
        by_keys.setdefault(tuple(keys), []).append(rule_id)
    clauses = []
    for needed_keys, ids in by_keys.items():
        why = ['%s: %s' % (key, origin_unknown_text(entry['origin_unknown'][key]))
               for key in needed_keys if key in entry['origin_unknown']]
        clauses.append('; %s need%s %s%s' % (', '.join(ids), 's' if len(ids) == 1 else '', needed(needed_keys, 'its'),
                                             ' (%s)' % '; '.join(why) if why else ''))
    return ''.join(clauses)


def _describe_entry(entry: Mapping[str, Any]) -> str:
    """A socket entry as Listener.describe() names the socket; every piece of host data through _hoststr.text()."""
    text = _hoststr.text
    if entry.get('owner_unknown') is not None:
        owners = 'owner unknown: ' + owner_unknown_text(entry['owner_unknown'])
    else:
        owners = ', '.join(text(name) for name in entry['processes']) or 'owner unknown'
        if entry['pids']:
            owners += ' pid ' + ','.join(text(pid) for pid in entry['pids'])
    if entry['user'] is not None or entry['uid'] is not None:
        owners += ', user %s' % text(entry['user'] if entry['user'] is not None else entry['uid'])
    netns = ' in netns %s' % text(entry['netns']) if entry['netns'] else ''
    return '%s %s%s (%s)' % (text(entry['proto']), text(entry['endpoint']), netns, owners)
