# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs netaudit.sockets.socket_facts from an action plugin, and brings its socket records back fast.

A module's result travels through AnsibleModule.exit_json, which visits every value of it twice in Python (no_log
redaction and the type checks of ansible-core's data tagging) and encodes it with a Python-level JSON encoder; the
controller's worker then decodes it with a tagging decoder. For 100k records (2 million values) that costs seconds.
So the actions ask the module (option compact_transfer) to return the records as one JSON text (the field names
once, then a row of values per record: 40% smaller, and the module frees each record as it packs it), which each of
those steps handles as a single value, and decode it here with the standard library's C decoder. What the task
returns, and what playbooks and callbacks see, is the same list of records the module returns on its own.
"""

from __future__ import annotations

import json

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

MODULE = 'netaudit.sockets.socket_facts'
PACKED_KEY = 'packed_sockets'
OPTION = 'compact_transfer'


def unpack(packed: str) -> list[dict[str, Any]]:
    """The records of a packed text: {"fields": [...], "rows": [[...], ...]} (module_utils/_records.pack)."""
    try:
        document = json.loads(packed)
    except ValueError as exc:
        raise AnsibleActionFail('%s returned packed records that are not JSON: %s' % (MODULE, exc)) from exc
    fields = document.get('fields') if isinstance(document, dict) else None
    rows = document.get('rows') if isinstance(document, dict) else None
    if not isinstance(fields, list) or not all(isinstance(field, str) for field in fields) or not isinstance(rows, list):
        raise AnsibleActionFail('%s returned packed records without "fields" and "rows"' % MODULE)
    width = len(fields)
    if not all(isinstance(row, list) and len(row) == width for row in rows):
        raise AnsibleActionFail('%s returned packed records with rows that do not have %d values' % (MODULE, width))
    return [dict(zip(fields, row)) for row in rows]


def run_socket_facts(action: ActionBase, module_args: dict[str, Any], task_vars: dict[str, Any] | None,
                     wrap_async: bool = False) -> dict[str, Any]:
    """The result of socket_facts run with `module_args` by `action` (an ActionBase), records decoded.

    With wrap_async (an async task on a connection without native async) the module returns its records the
    ordinary way; otherwise it packs them. Raises AnsibleActionFail when a task sets the internal option."""
    module_args = dict(module_args)
    if OPTION in module_args:
        raise AnsibleActionFail('%s: an internal option of %s; remove it from the task' % (OPTION, MODULE))
    compact = not wrap_async
    if compact:
        module_args[OPTION] = True
    module_result = action._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars,
                                           wrap_async=wrap_async)
    packed = module_result.pop(PACKED_KEY, None)
    if packed is not None:
        facts = module_result.get('ansible_facts')
        if not isinstance(facts, dict) or not isinstance(packed, str):
            raise AnsibleActionFail('%s returned packed records without ansible_facts' % MODULE)
        facts['sockets'] = unpack(packed)
    invocation = module_result.get('invocation')
    if compact and isinstance(invocation, dict) and isinstance(invocation.get('module_args'), dict):
        invocation['module_args'].pop(OPTION, None)
    return module_result


def gather_facts(action: ActionBase, module_args: dict[str, Any], task_vars: dict[str, Any],
                 result: dict[str, Any]) -> dict[str, Any] | None:
    """The facts socket_facts gathers with `module_args` for an action that judges them on the controller
    (port_verdict, port_drift), also returned to the task as its ansible_facts; None when the module failed, whose
    result is then the task's (`result` holds it)."""
    gathered = run_socket_facts(action, module_args, task_vars)
    action._remove_tmp_path(action._connection._shell.tmpdir)
    if gathered.get('failed'):
        result.update(gathered)
        return None
    facts = gathered.get('ansible_facts') or {}
    result['ansible_facts'] = facts
    return facts
