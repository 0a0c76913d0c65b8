# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: fleet reports of port_audit verdicts (JSON, Markdown, JUnit XML, HTML, text)."""

# Every renderer takes `verdicts`, a mapping of host name to the verdict that the port_audit filter returned for it
# (docs/policy.md, "The verdict"), and returns the report as text. A host without a verdict (it failed or was
# unreachable before the audit) maps to null/false, or to {"error": "why"}; the reports show it as an error.
# render(verdicts, format) is what the audit_report filter calls; each format is one file of this package, and
# _common.py holds what they share.
#
# Host data (process, user, interface and namespace names, addresses, and the verdict's messages that quote them) is
# hostile (docs/security.md). The helpers below that compose lines and cells (describe_socket, socket_row,
# verdict_line, failure_details...) return them raw; each renderer escapes every piece once, where it writes it,
# with the _hoststr function of its format: text() for text, the summary and Ansible's messages (display_lines),
# markdown() for Markdown, html() for HTML, xml() for JUnit XML and clean_tree() for JSON. Host names come from the
# controller's inventory but are escaped the same way: they may hold the format's syntax too.

from __future__ import annotations

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports._common import (
    FORMATS, EXTENSIONS, VERDICT_KEYS, NO_VERDICT, DEFAULT_TITLE, EXPOSURE_TEXT, STACK_TEXT, RULE_MARK, SOCKET_HEADER,
    OWNER_UNKNOWN_SHORT, ReportError, Host, hosts_of, fleet_summary, fleet_line, owners_text, user_text,
    describe_socket, socket_row, socket_header, rule_title, single_port, failure_details, verdict_line,
    unknown_owner_lines, display_lines, anchor,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports._html import CELL_STATUSES, matrix, render_html
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports._json import render_json
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports._junit import junit_cases, render_junit
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports._markdown import render_markdown
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports._text import render_summary, render_text

# What the reports' users (the audit_report filter, the port_verdict and port_reports actions, the tests) read.
__all__ = (
    'FORMATS', 'EXTENSIONS', 'VERDICT_KEYS', 'NO_VERDICT', 'DEFAULT_TITLE', 'EXPOSURE_TEXT', 'STACK_TEXT', 'RULE_MARK',
    'SOCKET_HEADER', 'OWNER_UNKNOWN_SHORT', 'ReportError', 'Host', 'hosts_of', 'fleet_summary', 'fleet_line',
    'owners_text', 'user_text', 'describe_socket', 'socket_row', 'socket_header', 'rule_title', 'single_port',
    'failure_details', 'verdict_line', 'unknown_owner_lines', 'display_lines', 'anchor', 'CELL_STATUSES', 'matrix',
    'render_html', 'render_json', 'junit_cases', 'render_junit', 'render_markdown', 'render_summary', 'render_text',
    'render',
)


def render(verdicts, report_format, title=None, violations=False):
    """The report of `verdicts` in one of FORMATS, as text; `violations` adds each host's to the summary."""
    if report_format not in FORMATS:
        raise ReportError('format: expected one of %s, got "%s"' % (', '.join(FORMATS), _hoststr.text(report_format)))
    if title is not None and not isinstance(title, str):
        raise ReportError('title: expected a string, got %s' % type(title).__name__)
    if report_format == 'summary':
        return render_summary(verdicts, title, violations=bool(violations))
    return {
        'json': render_json, 'markdown': render_markdown, 'junit': render_junit, 'html': render_html,
        'text': render_text, 'summary': render_summary,
    }[report_format](verdicts, title)
