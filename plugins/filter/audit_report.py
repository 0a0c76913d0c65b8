# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit_report filter: port_audit verdicts of a fleet as a JSON, Markdown, JUnit, HTML or text report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError


def audit_report(verdicts: object, report_format: object, title: object = None, violations: object = False) -> str:
    """The report of `verdicts` (host name -> port_audit verdict) in `report_format`, as text."""
    try:
        return render(verdicts, report_format, title=title, violations=violations)
    except NetauditError as exc:
        raise AnsibleFilterError('audit_report: %s' % exc) from exc


class FilterModule(object):
    """netaudit.sockets report filter."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {'audit_report': audit_report}
