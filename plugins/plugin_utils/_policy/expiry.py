# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: exceptions and their expiry. A rule with an end date (`until`) stops applying after
that date; until then an expected or allowed rule with one is an exception, which overrides the forbidden rules that
match the same socket (docs/policy.md)."""

from __future__ import annotations

import datetime

from collections.abc import Iterable

from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule, parse_date


def audit_date(now: object) -> datetime.date:
    """The date the rules' `until` is compared with: `now` (a date, or a date and time), else the controller's."""
    if now is None:
        return datetime.date.today()
    return parse_date(now, 'now', allow_time=True)


def expired(rules: Iterable[Rule], today: datetime.date) -> set[str]:
    """The ids of the rules whose end date has passed: they no longer apply."""
    return set(rule.id for rule in rules if rule.until is not None and today > rule.until)


def live_exceptions(hits: Iterable[Rule]) -> list[Rule]:
    """The exceptions among `hits` (the rules that match a socket and have not expired): the expected and allowed
    rules with an end date."""
    return [rule for rule in hits if rule.until is not None and rule.kind != 'forbidden']
