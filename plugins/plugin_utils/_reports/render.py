# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a fleet's report in one of the formats, by name (what the audit_report filter and
the port_verdict and port_reports actions call)."""

# Every renderer takes `verdicts`, a mapping of host name to the verdict that the port_audit filter returned for it
# (docs/policy.md, "The verdict"), and returns the report as text. A host without a verdict (it failed or was
# unreachable before the audit) maps to null/false, or to {"error": "why"}; the reports show it as an error.
#
# Host data (process, user, interface and namespace names, addresses, and the verdict's messages that quote them) is
# hostile (docs/security.md). The helpers of common.py that compose lines and cells (describe_socket, socket_row,
# verdict_line, failure_details...) return them raw; each renderer escapes every piece once, where it writes it,
# with the _hoststr function of its format: text() for text, the summary and Ansible's messages (display_lines),
# markdown() for Markdown, html() for HTML, xml() for JUnit XML and clean_tree() for JSON. Host names come from the
# controller's inventory but are escaped the same way: they may hold the format's syntax too.

from __future__ import annotations

from typing import Callable, Dict, Optional

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.common import FORMATS, ReportError
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.html import render_html
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.json import render_json
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.junit import render_junit
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.markdown import render_markdown
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.text import render_summary, render_text

# The renderers of the formats written to files, by format name (summary takes one more argument).
RENDERERS: Dict[str, Callable[[object, Optional[str]], str]] = {
    'json': render_json, 'markdown': render_markdown, 'junit': render_junit, 'html': render_html, 'text': render_text,
}


def render(verdicts: object, report_format: object, title: object = None, violations: object = False) -> str:
    """The report of `verdicts` in one of FORMATS, as text; `violations` adds each host's to the summary."""
    if report_format not in FORMATS:
        raise ReportError('format: expected one of %s, got "%s"' % (', '.join(FORMATS), _hoststr.text(report_format)))
    if title is not None and not isinstance(title, str):
        raise ReportError('title: expected a string, got %s' % type(title).__name__)
    if report_format == 'summary':
        return render_summary(verdicts, title, violations=bool(violations))
    return RENDERERS[str(report_format)](verdicts, title)
