# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: whether a rule describes a listening socket. Three answers: it does, it does not, or
every key judged on the socket matches but the rule needs the socket's owner, unit, container or package, and that is
unknown (UNDECIDED)."""

from __future__ import annotations

import fnmatch

from collections.abc import Iterable
from typing import Union

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError, strip_filter_prefix
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import ORIGIN_FIELDS, Listener
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.keys import OWNER_FIELDS, OWNER_KEYS
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule

# judge()'s third answer: the rule would match but for an owner key whose value is unknown (the socket's owner for
# `process`; the record's `unit`, `container` or `package` for those keys).
UNDECIDED = 'undecided'
Judgement = Union[bool, str]


def judge(rule: Rule, listener: Listener) -> Judgement:
    """True when the rule describes this listening socket (dual stack: its IPv4 side counts too), False when it
    does not, UNDECIDED when every other key matches but an owner key cannot be judged, its value being unknown.

    Each owner key (OWNER_KEYS) is one of three: it matches (a known value matches a pattern), it does not (its value
    is known, or none, and matches no pattern), or it is unknown. A key that does not match decides the rule (False)
    whatever the others are; else an unknown key makes it UNDECIDED."""
    if not _matches_socket(rule, listener):
        return False
    undecided = False
    for key, patterns in rule.owners.items():
        found = _owner_key(key, patterns, listener)
        if found is False:
            return False
        undecided = undecided or found == UNDECIDED
    return UNDECIDED if undecided else True


def _owner_key(key: str, patterns: tuple[str, ...], listener: Listener) -> Judgement:
    """One owner key judged on the socket. `process`: UNDECIDED when the owner is unknown. `unit`, `container`,
    `package`: a known value that matches decides (True) even when part of the field is unknown (a container whose
    name the host could not tell still has its id); else UNDECIDED when the field is unknown, False when it is not."""
    if key in ORIGIN_FIELDS:
        if any(fnmatch.fnmatchcase(value, pattern) for value in listener.origin_values(key) for pattern in patterns):
            return True
        return UNDECIDED if listener.origin_unknown(key) is not None else False
    if listener.owner_unknown is not None:
        return UNDECIDED
    field = OWNER_FIELDS.get(key, key)
    values = listener.names if field == 'name' else listener.owner_values(field)
    return any(fnmatch.fnmatchcase(value, pattern) for value in values for pattern in patterns)


def undecided_keys(rule: Rule, listener: Listener) -> list[str]:
    """The rule's owner keys this socket could not be judged on (for a socket judge() found UNDECIDED): those whose
    value is unknown, in OWNER_KEYS order."""
    return [key for key, patterns in rule.owners.items() if _owner_key(key, patterns, listener) == UNDECIDED]


def needed(keys: Iterable[str], article: str = 'the') -> str:
    """What rules needed and found unknown, for messages: "the owner, which is unknown" (`process`), "the unit, which
    is unknown", "the owner and the container, which are unknown", "the unit, the container and the package, which are unknown"."""
    found = set(keys)
    words = ['owner' if key == 'process' else key for key in OWNER_KEYS if key in found] or ['owner']
    named = ['%s %s' % (article, word) for word in words]
    listed = named[0] if len(named) == 1 else '%s and %s' % (', '.join(named[:-1]), named[-1])
    return '%s, which %s unknown' % (listed, 'are' if len(words) > 1 else 'is')


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
