# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of netaudit.sockets.socket_facts: runs the module, and brings its socket records back fast.

A module's result travels through AnsibleModule.exit_json, which visits every value of it twice in Python (no_log
redaction and the type checks of ansible-core's data tagging) and encodes it with a Python-level JSON encoder; the
controller's worker then decodes it with a tagging decoder. For 100k records (2 million values) that costs seconds.
So this action asks the module (option compact_transfer) to return the records as one JSON text, which each of
those steps handles as a single value, and decodes it here with the standard library's C decoder. What the task
returns, and what playbooks and callbacks see, is the same list of records the module returns on its own.

Async tasks and facts gathering (gather_facts with FACTS_MODULES) call the module directly: it then returns the
records the ordinary way.
"""

from __future__ import annotations

import json

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

PACKED_KEY = 'packed_sockets'
OPTION = 'compact_transfer'


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        module_args = dict(self._task.args)
        if OPTION in module_args:
            raise AnsibleActionFail('%s: an internal option of netaudit.sockets.socket_facts; remove it from the task'
                                    % OPTION)
        compact = not wrap_async
        if compact:
            module_args[OPTION] = True
        module_result = self._execute_module(module_name='netaudit.sockets.socket_facts', module_args=module_args,
                                             task_vars=task_vars, wrap_async=wrap_async)
        packed = module_result.pop(PACKED_KEY, None)
        if packed is not None:
            facts = module_result.get('ansible_facts')
            if not isinstance(facts, dict) or not isinstance(packed, str):
                raise AnsibleActionFail('netaudit.sockets.socket_facts returned packed records without ansible_facts')
            try:
                facts['sockets'] = json.loads(packed)
            except ValueError as exc:
                raise AnsibleActionFail('netaudit.sockets.socket_facts returned packed records that are not JSON: %s'
                                        % exc) from exc
        invocation = module_result.get('invocation')
        if compact and isinstance(invocation, dict) and isinstance(invocation.get('module_args'), dict):
            invocation['module_args'].pop(OPTION, None)
        result.update(module_result)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
