# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the base of the actions documented by a docs-only module of their name
(port_verdict, port_reports, port_drift). Each takes the options its module documents (its ARGUMENT_SPEC, read from
them by _argument_spec.py), validated before its work; each supports check mode, and none async."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase


class DocumentedAction(ActionBase):
    """An action whose task arguments are checked against ARGUMENT_SPEC before act() does its work."""

    _supports_check_mode = True
    _supports_async = False
    ARGUMENT_SPEC: dict[str, dict[str, Any]] = {}

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super(DocumentedAction, self).run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(self.ARGUMENT_SPEC)[1]
        return self.act(args, task_vars or {}, result)

    def act(self, args: dict[str, Any], task_vars: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """The action's work, with the task's validated arguments; returns the task's result."""
        raise NotImplementedError
