# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of netaudit.sockets.port_drift (documented in plugins/modules/port_drift.py).

Gathers the host's listening sockets with socket_facts (one module run), then on the controller reads the host's
baseline (plugin_utils/_baseline_store.py over _controller_files.py: a regular file only, bounded in size), checks
it, compares it with the socket_diff filter's code, writes the new baseline when recording, and sums it up in one
line: the port_baseline role's per-host work, in one task.
"""

from __future__ import annotations

import datetime
import json

from collections.abc import Sequence
from typing import Any

from ansible.errors import AnsibleActionFail

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _snapshot_diff
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _baseline_store
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _controller_files
from ansible_collections.netaudit.sockets.plugins.plugin_utils._argument_spec import argument_spec
from ansible_collections.netaudit.sockets.plugins.plugin_utils._documented_action import DocumentedAction
from ansible_collections.netaudit.sockets.plugins.plugin_utils._module_run import gather_facts

LISTED = 50         # sockets named per kind of drift in the line; the result holds them all


# --- the line ---------------------------------------------------------------------------------------------------

def _owners(names: Sequence[object]) -> str:
    return ','.join(_hoststr.text(name) for name in names) if names else 'owner unknown'


def _more(items: Sequence[object], shown: int) -> str:
    return ', and %d more' % (len(items) - shown) if len(items) > shown else ''


def _listing(items: Sequence[dict[str, Any]]) -> str:
    shown = items[:LISTED]
    return ', '.join('%s (%s)' % (_hoststr.text(item['id']), _owners(item['processes'])) for item in shown) \
        + _more(items, len(shown))


def _changes(items: Sequence[dict[str, Any]]) -> str:
    parts = []
    for item in items[:LISTED]:
        what = []
        for name in item['changes']:
            if name == 'origin':
                moved = item['moved']
                what.append('moved from %s to %s' % (_hoststr.text(moved['from']), _hoststr.text(moved['to'])))
                continue
            before, after = item['before'][name], item['after'][name]
            if name == 'processes':
                before, after = [_owners(before)], [_owners(after)]
            else:
                before, after = [_hoststr.text(v) for v in before], [_hoststr.text(v) for v in after]
            what.append('%s %s -> %s' % (name, ','.join(before) or 'none', ','.join(after) or 'none'))
        parts.append('%s (%s)' % (_hoststr.text(item['id']), '; '.join(what)))
    return ', '.join(parts) + _more(items, len(parts))


def drift_text(diff: dict[str, Any]) -> str:
    return '; '.join(part for part in (
        'opened ' + _listing(diff['opened']) if diff['opened'] else '',
        'closed ' + _listing(diff['closed']) if diff['closed'] else '',
        'changed ' + _changes(diff['changed']) if diff['changed'] else '') if part)


def cannot_tell_text(diff: dict[str, Any]) -> str:
    """' [cannot tell whether ... moved: why: ids]' for the identities whose origin one snapshot does not know (not
    drift), the identities grouped by the reason; '' when there are none."""
    grouped: dict[str, list[str]] = {}
    for item in diff.get('cannot_tell') or ():
        grouped.setdefault('; '.join(item['why']), []).append(item['id'])
    parts = []
    for why, idents in grouped.items():
        shown = idents[:LISTED]
        parts.append('%s: %s%s' % (_hoststr.text(why), ', '.join(_hoststr.text(i) for i in shown), _more(idents, len(shown))))
    return (' [cannot tell whether these moved to another unit, container or package (not counted as drift): %s]'
            % ' | '.join(parts)) if parts else ''


def summary(action: str, diff: dict[str, Any], path: str, since: str | None, check_mode: bool, mode: str) -> str:
    """The role's line for one host: what was done, and the drift with its processes (host data made safe)."""
    would = 'would be ' if check_mode else ''
    path = _hoststr.text(path)
    since = _hoststr.text(since) if since else 'an unknown date'
    if action == 'missing':
        why = 'port_baseline_mode is compare' if mode == 'compare' else 'port_baseline_fail_on_drift is true'
        return ('no baseline to compare with: %s is missing, and it is not recorded because %s (record it with '
                'port_baseline_mode=record)' % (path, why))
    if action == 'recorded':
        first = ('no baseline yet: ' if mode == 'auto' else '')
        return '%sbaseline %srecorded in %s (%d listening)%s' % (
            first, would, path, len(diff['opened']), (': ' + _listing(diff['opened'])) if diff['opened'] else '')
    if action == 'updated':
        return 'baseline %supdated in %s: %s%s' % (
            would, path, ('drift since %s accepted: %s' % (since, drift_text(diff))) if diff['drift']
            else 'no drift since %s' % since, cannot_tell_text(diff))
    if diff['drift']:
        return 'drift since %s: %s%s' % (since, drift_text(diff), cannot_tell_text(diff))
    return 'no drift since %s (%d listening unchanged)%s' % (since, diff['unchanged'], cannot_tell_text(diff))


class ActionModule(DocumentedAction):

    ARGUMENT_SPEC = argument_spec('port_drift')

    def act(self, args: dict[str, Any], task_vars: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        host = task_vars.get('inventory_hostname', 'localhost')
        try:
            dir_mode, file_mode = (_controller_files.parse_mode(args[key], 'port_baseline_' + key) for key in ('dir_mode', 'file_mode'))
        except _controller_files.ControllerFileError as exc:
            raise AnsibleActionFail(str(exc)) from None
        if args['max_size'] < 1:
            raise AnsibleActionFail('port_baseline_max_size: expected a positive number of bytes, got %d' % args['max_size'])
        check_mode = bool(self._task.check_mode)
        options = {'tables': args['tables'], 'filter': args['filter'], 'netns': args['netns']}
        if args['packages']:
            options['packages'] = True      # only when set: baselines recorded before the option keep their options
        try:
            # Before anything is gathered: a baseline that cannot be used fails the host at once.
            path, previous = _baseline_store.read_document(args['dir'], host, args['max_size'])
            if previous is not None:
                where = 'baseline for %s (%s)' % (_hoststr.text(host), _hoststr.text(path))
                try:
                    _snapshot_diff.check_snapshot(previous['sockets'], 'sockets')
                except PolicyError as exc:
                    raise _baseline_store.BaselineError('%s: %s' % (where, exc)) from exc
        except _baseline_store.BaselineError as exc:
            raise AnsibleActionFail(str(exc)) from None

        module_args = {'listening': True, 'tables': args['tables']}
        if args['filter']:
            module_args['filter'] = args['filter']
        if args['netns']:
            module_args['netns'] = args['netns']
        if args['packages']:
            module_args['packages'] = True
        facts = gather_facts(self, module_args, task_vars, result)
        if facts is None:
            return result
        meta = facts.get('socket_meta') or {}

        mode = args['mode']
        if previous is None:
            record = mode == 'record' or (mode == 'auto' and not args['fail_on_drift'])
            action = 'recorded' if record else 'missing'
        else:
            record = mode == 'record'
            action = 'updated' if record else 'compared'
        try:
            diff = _snapshot_diff.socket_diff(previous if previous is not None else [], facts,
                                              ephemeral=args['ephemeral'], ephemeral_range=args['ephemeral_range'])
        except PolicyError as exc:
            raise AnsibleActionFail('port_baseline: %s' % exc) from None
        diff = _hoststr.clean_tree(diff)

        if record and not check_mode:
            document = {
                'host': host,
                'recorded_at': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
                'options': options,
                'socket_meta': meta,
                'sockets': facts.get('sockets') or [],
            }
            try:
                _baseline_store.write_document(args['dir'], host, document, args['max_size'], dir_mode, file_mode)
            except _baseline_store.BaselineError as exc:
                raise AnsibleActionFail(str(exc)) from None

        since = previous.get('recorded_at') if previous is not None else None
        line = summary(action, diff, path, since, check_mode, mode)
        recorded_with = (previous.get('options') if previous is not None else None) or options
        if action == 'compared' and recorded_with != options:
            line += (' [the baseline was recorded with other options: %s; set port_baseline_mode=record to record it '
                     'with the current ones]' % json.dumps(recorded_with, sort_keys=True))
        if not meta.get('complete', True):
            line += ' [facts incomplete: %s]' % '; '.join(_hoststr.text(reason) for reason in meta.get('incomplete_reasons') or ())
        baseline_result = dict(diff, host=host, action=action, mode=mode, baseline=path,
                               baseline_recorded_at=since, drift=bool(action in ('compared', 'updated') and diff['drift']),
                               complete=meta.get('complete'), summary=line)
        if action in ('recorded', 'missing'):
            baseline_result['opened'] = []
        failing = action == 'missing' or (args['fail_on_drift'] and action == 'compared' and diff['drift'])
        result.update(changed=record, msg=line, failing=bool(failing), baseline_result=baseline_result)
        return result
