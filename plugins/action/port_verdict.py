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

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleActionFail

from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.policy import compile_policy
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.plugin_utils._argument_spec import argument_spec
from ansible_collections.netaudit.sockets.plugins.plugin_utils._documented_action import DocumentedAction
from ansible_collections.netaudit.sockets.plugins.plugin_utils._module_run import gather_facts


def exception_rules(exceptions: Sequence[Any]) -> list[Any]:
    """The exceptions as allowed rules; each must be a mapping with an end date (until)."""
    bad = [rule for rule in exceptions if not isinstance(rule, Mapping) or 'until' not in rule]
    if bad:
        raise AnsibleActionFail('port_audit_exceptions: each exception is a rule mapping with an end date, until: '
                                'YYYY-MM-DD (a rule without one belongs in port_audit_allowed); these are not: %s'
                                % bad)
    return list(exceptions)


class ActionModule(DocumentedAction):

    ARGUMENT_SPEC = argument_spec('port_verdict')

    def act(self, args: dict[str, Any], task_vars: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        policy = dict(args['policy'])
        allowed = policy.get('allowed') or []
        if not isinstance(allowed, list):
            raise AnsibleActionFail('port_audit: policy.allowed: expected a list of rules, got %s'
                                    % type(allowed).__name__)
        policy['allowed'] = allowed + exception_rules(args['exceptions'])
        now = args['date'] or None
        try:
            # Judge no sockets first, so that a bad rule or date fails the host before anything is gathered.
            port_audit([], policy, now=now)
        except NetauditError as exc:
            raise AnsibleActionFail('port_audit: %s' % exc) from exc

        if args['gather']:
            module_args = {'listening': True, 'tables': args['tables']}
            if any('package' in rule.owners for rule in compile_policy(policy).rules):
                # A rule with `package` is judged on each record's package: gather it, else every such rule fails
                # closed ("not gathered").
                module_args['packages'] = True
            if args['netns'] is not None:
                module_args['netns'] = args['netns']
            facts = gather_facts(self, module_args, task_vars, result)
            if facts is None:
                return result
        else:
            facts = task_vars.get('ansible_facts') or {}
            if 'sockets' not in facts:
                raise AnsibleActionFail(
                    'no socket facts for %s: with port_audit_gather false they must already be gathered (gather_facts '
                    'with FACTS_MODULES including netaudit.sockets.socket_facts, or a fact cache)'
                    % task_vars.get('inventory_hostname'))
        try:
            verdict = port_audit(facts, policy, now=now)
        except NetauditError as exc:
            raise AnsibleActionFail('port_audit: %s' % exc) from exc
        result.update(changed=False, verdict=verdict, gathered=args['gather'],
                      msg=render({task_vars.get('inventory_hostname', 'host'): verdict}, 'summary').strip())
        return result
