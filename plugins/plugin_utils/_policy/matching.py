# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: whether a rule describes a listening socket. Three answers: it does, it does not, or
every key judged on the socket matches but the rule needs the socket's owner, which is unknown (UNDECIDED)."""

from __future__ import annotations

import fnmatch

from typing import Union

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError, strip_filter_prefix
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import Listener
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.keys import OWNER_FIELDS
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule

# judge()'s third answer: the rule would match but for an owner key, and the socket's owner is unknown.
UNDECIDED = 'undecided'
Judgement = Union[bool, str]


def judge(rule: Rule, listener: Listener) -> Judgement:
    """True when the rule describes this listening socket (dual stack: its IPv4 side counts too), False when it
    does not, UNDECIDED when every other key matches but the rule needs the owner and the owner is unknown."""
    if not _matches_socket(rule, listener):
        return False
    if not rule.owners:
        return True
    if listener.owner_unknown is not None:
        return UNDECIDED
    for key, patterns in rule.owners.items():
        field = OWNER_FIELDS.get(key, key)
        values = listener.names if field == 'name' else listener.owner_values(field)
        if not any(fnmatch.fnmatchcase(value, pattern) for value in values for pattern in patterns):
            return False
    return True


def matches(rule: Rule, listener: Listener) -> bool:
    """Whether the rule describes this listening socket for certain (an unknown owner matches no owner key)."""
    return judge(rule, listener) is True


def _matches_socket(rule: Rule, listener: Listener) -> bool:
    """The keys judged on the socket itself: everything but OWNER_KEYS."""
    if rule.protos is not None and listener.proto not in rule.protos:
        return False
    if rule.ports is not None and not rule.ports[0] <= listener.port <= rule.ports[1]:
        return False
    if rule.netns is not None and not any(fnmatch.fnmatchcase(listener.netns or '', pattern) for pattern in rule.netns):
        return False
    if rule.users is not None and not any(_user_matches(listener, user) for user in rule.users):
        return False
    if rule.family is not None or rule.binds is not None:
        for end in listener.endpoints:
            if rule.family is not None and end.version != rule.family:
                continue
            if rule.binds is None or any(test(end, listener) for _text, _version, test in rule.binds):
                break
        else:
            return False
    if rule.match is not None:
        try:
            return rule.match.flt.match(listener.record)
        except FilterError as exc:
            raise PolicyError('%s.match: "%s": %s' % (rule.path, rule.match_text, strip_filter_prefix(str(exc))))
    return True


def _user_matches(listener: Listener, user: str) -> bool:
    if user.isdigit():
        return listener.uid is not None and str(listener.uid) == user
    return listener.user is not None and fnmatch.fnmatchcase(listener.user, user)
