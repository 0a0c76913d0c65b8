# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a whole port policy as loaded (its rules by kind and its switches), cached by its
text."""

from __future__ import annotations

import json

from collections.abc import Mapping, Sequence

from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import (
    PolicyError, parse_boolean, parse_choice, type_name,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.keys import KINDS, POLICY_KEYS, UNKNOWN_OWNER_MODES
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule


class Policy(object):
    """A parsed policy: its rules by kind and its switches."""

    def __init__(self, policy: object) -> None:
        if not isinstance(policy, Mapping):
            raise PolicyError('policy: expected a mapping with expected, allowed, forbidden, closed_world; got %s'
                              % type_name(policy))
        unknown = [key for key in policy if key not in POLICY_KEYS]
        if unknown:
            raise PolicyError('policy: unknown key%s %s (a policy takes %s)' % (
                's' if len(unknown) > 1 else '', ', '.join('"%s"' % k for k in unknown), ', '.join(POLICY_KEYS)))
        self.rules: list[Rule] = []
        for kind in KINDS:
            items = policy.get(kind)
            if items is None:
                continue
            if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
                raise PolicyError('policy.%s: expected a list of rules, got %s' % (kind, type_name(items)))
            for index, spec in enumerate(items):
                self.rules.append(Rule(kind, index, spec))
        self.closed_world = _switch(policy, 'closed_world')
        self.accept_incomplete = _switch(policy, 'accept_incomplete')
        self.unknown_owner = 'fail' if policy.get('unknown_owner') is None else parse_choice(
            policy['unknown_owner'], UNKNOWN_OWNER_MODES, 'policy.unknown_owner')
        self.name = policy.get('name')


def _switch(policy: Mapping, key: str) -> bool:
    value = policy.get(key)
    return False if value is None else parse_boolean(value, 'policy.' + key)


_POLICY_CACHE: dict[str, Policy] = {}


def compile_policy(policy: object) -> Policy:
    """A Policy, cached by the policy's JSON text (a fleet audit passes the same policy for every host)."""
    try:
        key = json.dumps(policy, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return Policy(policy)
    found = _POLICY_CACHE.get(key)
    if found is None:
        found = Policy(policy)
        if len(_POLICY_CACHE) >= 64:
            _POLICY_CACHE.clear()
        _POLICY_CACHE[key] = found
    return found
