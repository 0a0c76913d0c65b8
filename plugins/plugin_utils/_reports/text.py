# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the text report (what tools/audit prints) and the one-line summary."""

from __future__ import annotations

from collections.abc import Sequence

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.common import (
    DEFAULT_TITLE, RULE_MARK, hosts_of, fleet_line, describe_socket, socket_table, verdict_line,
    unknown_owner_lines,
)


def _columns(table: Sequence[Sequence[object]], indent: str = '  ') -> list[str]:
    texts = [[_hoststr.text(cell) for cell in row] for row in table]
    widths = [max(len(row[i]) for row in texts) for i in range(len(texts[0]))]
    return [(indent + '  '.join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip() for row in texts]


def render_summary(verdicts: object, title: str | None = None, violations: bool = False) -> str:
    """One line per host (what the role shows per host), no title; with `violations`, each host's violations
    follow its line, indented (the role's failure message)."""
    out = []
    for host in hosts_of(verdicts):
        out.append(_hoststr.text(verdict_line(host)))
        if violations and host.verdict is not None:
            out += ['  ' + _hoststr.text(text) for text in host.verdict['violations']]
    return '\n'.join(out) + '\n'


def render_text(verdicts: object, title: str | None = None) -> str:
    hosts = hosts_of(verdicts)
    text = _hoststr.text
    out = ['%s: %s' % (text(title or DEFAULT_TITLE), fleet_line(hosts))]
    for host in hosts:
        out += ['', '== %s ==' % text(verdict_line(host))]
        verdict = host.verdict
        if verdict is None:
            continue
        sockets = verdict['sockets']
        if sockets:
            header, rows = socket_table(sockets)
            out.append('Listening sockets:')
            out += _columns([header] + rows)
        else:
            out.append('Listening sockets: none')
        if verdict['rules']:
            out.append('Rules:')
            out += ['  %-7s  %s' % (text(RULE_MARK.get(result.get('status'), result.get('status'))), text(result.get('message')))
                    for result in verdict['rules']]
        for entry in verdict.get('unexpected') or ():
            out.append('  %-7s  unexpected (closed world): %s' % ('FAIL', text(describe_socket(entry))))
        for line in unknown_owner_lines(verdict):
            out.append('  unknown  %s' % text(line))
        if verdict.get('incomplete'):
            out.append('  %-7s  incomplete facts: %s' % (
                'ok' if verdict.get('accept_incomplete') else 'FAIL',
                '; '.join(text(reason) for reason in verdict.get('incomplete_reasons') or ())))
        for note in verdict.get('notes') or ():
            out.append('  note     %s' % text(note))
    return '\n'.join(out) + '\n'
