# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the JUnit XML report (one test suite per host, one case per rule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.common import (
    DEFAULT_TITLE, Host, hosts_of, describe_socket, rule_title, failure_details, verdict_line,
)


def _x(text: object) -> str:
    return _hoststr.xml(text)


def _xa(text: object) -> str:
    return '"%s"' % _hoststr.xml(text)


def _x_lines(lines: Sequence[object]) -> str:
    """Lines of text in an XML element, each escaped (their line breaks are the report's own)."""
    return '\n'.join(_hoststr.xml(line) for line in lines)


# One test case: (name, outcome, kind, message, lines); outcome is None (passed), failure, error or skipped.
Case = Tuple[str, Optional[str], Any, Any, Sequence[object]]


def junit_cases(host: Host) -> list[Case]:
    """[(name, outcome, kind, message, lines)] for one host: outcome is None (passed), failure, error or skipped."""
    verdict = host.verdict
    if verdict is None:
        return [('audit', 'error', 'no_verdict', host.error, [host.error])]
    cases: list[Case] = []
    for result in verdict['rules']:
        status = result.get('status')
        if status in ('missing', 'violated'):
            cases.append((rule_title(result), 'failure', status, result.get('message'), failure_details(result, verdict)))
        elif status == 'expired':
            cases.append((rule_title(result), 'skipped', status, result.get('message'), []))
        else:
            cases.append((rule_title(result), None, status, result.get('message'), []))
    if verdict.get('closed_world'):
        unexpected = verdict.get('unexpected') or ()
        if unexpected:
            lines = ['listening, and matching no expected or allowed rule:'] + [
                '  ' + describe_socket(entry) for entry in unexpected]
            cases.append(('closed world', 'failure', 'unexpected', '%d unexpected listening socket%s' % (
                len(unexpected), '' if len(unexpected) == 1 else 's'), lines))
        else:
            cases.append(('closed world', None, 'ok', 'nothing unexpected is listening', []))
    if verdict.get('incomplete') and not verdict.get('accept_incomplete'):
        reasons = '; '.join(verdict.get('incomplete_reasons') or ()) or 'socket_meta.complete is false'
        cases.append(('complete facts', 'failure', 'incomplete', 'incomplete facts: %s' % reasons,
                      ['set accept_incomplete (port_audit_accept_incomplete) to accept them']))
    else:
        cases.append(('complete facts', None, 'ok', 'complete' if not verdict.get('incomplete') else 'incomplete, accepted', []))
    return cases


def render_junit(verdicts: object, title: str | None = None) -> str:
    hosts = hosts_of(verdicts)
    suites, totals = [], {'tests': 0, 'failure': 0, 'error': 0, 'skipped': 0}
    for host in hosts:
        cases = junit_cases(host)
        counts = dict((outcome, sum(1 for case in cases if case[1] == outcome)) for outcome in ('failure', 'error', 'skipped'))
        totals['tests'] += len(cases)
        for counted, count in counts.items():
            totals[counted] += count
        classname = 'port_audit.' + host.name.replace('.', '_')
        lines = ['  <testsuite name=%s tests="%d" failures="%d" errors="%d" skipped="%d" time="0" hostname=%s>' % (
            _xa(host.name), len(cases), counts['failure'], counts['error'], counts['skipped'], _xa(host.name))]
        if host.verdict is not None:
            lines.append('    <properties>')
            for key in ('compliant', 'closed_world', 'accept_incomplete', 'incomplete', 'date'):
                value = host.verdict.get(key)
                lines.append('      <property name="%s" value=%s/>' % (
                    key, _xa(str(value).lower() if isinstance(value, bool) else value)))
            lines.append('    </properties>')
        for name, outcome, kind, message, text_lines in cases:
            opening = '    <testcase name=%s classname=%s time="0"' % (_xa(name), _xa(classname))
            if outcome is None:
                lines.append(opening + '/>')
                continue
            lines += [opening + '>', '      <%s type=%s message=%s>%s</%s>' % (
                outcome, _xa(kind), _xa(message), _x_lines(text_lines), outcome), '    </testcase>']
        lines.append('    <system-out>%s</system-out>' % _x(verdict_line(host)))
        lines.append('  </testsuite>')
        suites += lines
    head = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<testsuites name=%s tests="%d" failures="%d" errors="%d" time="0">' % (
                _xa(title or DEFAULT_TITLE), totals['tests'], totals['failure'], totals['error'])]
    return '\n'.join(head + suites + ['</testsuites>']) + '\n'
