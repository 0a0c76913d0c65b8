# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of netaudit.sockets.port_verdict (documented in plugins/modules/port_verdict.py).

Checks the policy, gathers the host's listening sockets with socket_facts (one module run, records packed as
socket_facts' own action packs them) or takes the facts already gathered, and judges them with the port_audit
filter's code, in one task: the port_audit role's per-host work.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _policy
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _reports
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.plugin_utils._argument_spec import argument_spec
from ansible_collections.netaudit.sockets.plugins.plugin_utils._module_run import run_socket_facts

ARGUMENT_SPEC = argument_spec('port_verdict')


def exception_rules(exceptions):
    """The exceptions as allowed rules; each must be a mapping with an end date (until)."""
    bad = [rule for rule in exceptions if not isinstance(rule, Mapping) or 'until' not in rule]
    if bad:
        raise AnsibleActionFail('port_audit_exceptions: each exception is a rule mapping with an end date, until: '
                                'YYYY-MM-DD (a rule without one belongs in port_audit_allowed); these are not: %s'
                                % bad)
    return list(exceptions)


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(ARGUMENT_SPEC)[1]
        policy = dict(args['policy'])
        allowed = policy.get('allowed') or []
        if not isinstance(allowed, list):
            raise AnsibleActionFail('port_audit: policy.allowed: expected a list of rules, got %s'
                                    % type(allowed).__name__)
        policy['allowed'] = allowed + exception_rules(args['exceptions'])
        now = args['date'] or None
        try:
            # Judge no sockets first, so that a bad rule or date fails the host before anything is gathered.
            _policy.port_audit([], policy, now=now)
        except NetauditError as exc:
            raise AnsibleActionFail('port_audit: %s' % exc) from exc

        if args['gather']:
            module_args = {'listening': True, 'tables': args['tables']}
            if args['netns'] is not None:
                module_args['netns'] = args['netns']
            gathered = run_socket_facts(self, module_args, task_vars)
            self._remove_tmp_path(self._connection._shell.tmpdir)
            if gathered.get('failed'):
                result.update(gathered)
                return result
            facts = gathered.get('ansible_facts') or {}
            result['ansible_facts'] = facts
        else:
            facts = task_vars.get('ansible_facts') or {}
            if 'sockets' not in facts:
                raise AnsibleActionFail(
                    'no socket facts for %s: with port_audit_gather false they must already be gathered (gather_facts '
                    'with FACTS_MODULES including netaudit.sockets.socket_facts, or a fact cache)'
                    % task_vars.get('inventory_hostname'))
        try:
            verdict = _policy.port_audit(facts, policy, now=now)
        except NetauditError as exc:
            raise AnsibleActionFail('port_audit: %s' % exc) from exc
        result.update(changed=False, verdict=verdict, gathered=args['gather'],
                      msg=_reports.render({task_vars.get('inventory_hostname', 'host'): verdict}, 'summary').strip())
        return result
