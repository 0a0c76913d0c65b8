# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the Markdown report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.common import (
    DEFAULT_TITLE, hosts_of, fleet_line, socket_table, rule_table, unknown_owner_lines, anchor,
)


class Markdown(str):
    """Markdown this module wrote (a link to a host's section, bold), with its host data already escaped."""


def _md(text: object) -> str:
    return text if isinstance(text, Markdown) else _hoststr.markdown(text)


def _md_table(header: Sequence[object], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ['| %s |' % ' | '.join(_md(cell) for cell in header), '|%s' % ('---|' * len(header))]
    return lines + ['| %s |' % ' | '.join(_md(cell) for cell in row) for row in rows]


def render_markdown(verdicts: object, title: str | None = None) -> str:
    hosts = hosts_of(verdicts)
    out = ['# %s' % _md(title or DEFAULT_TITLE), '', _md(fleet_line(hosts)) + '.', '']
    rows: list[list[object]] = []
    verdict: Mapping[str, Any] | None
    for host in hosts:
        if host.verdict is None:
            rows.append([host.name, 'no verdict', '-', '-', '-', '-', '-', '-', '-'])
            continue
        verdict, counts = host.verdict, host.verdict['summary']
        complete = 'no' if verdict.get('incomplete') else 'yes'
        rows.append([Markdown('[%s](#%s)' % (_md(host.name), anchor(host.name))),
                     host.label if host.compliant else Markdown('**%s**' % _md(host.label)),
                     counts.get('listening'), counts.get('rules'), counts.get('missing'), counts.get('forbidden'),
                     counts.get('unexpected'), counts.get('expired_exceptions'), complete])
    out += _md_table(('host', 'verdict', 'listening', 'rules', 'missing', 'forbidden', 'unexpected',
                      'expired exceptions', 'complete facts'), rows)
    for host in hosts:
        out += ['', '<a id="%s"></a>' % anchor(host.name), '', '## %s: %s' % (_md(host.name), host.label), '']
        verdict = host.verdict
        if verdict is None:
            out.append(_md(host.error))
            continue
        if verdict['violations']:
            out += ['Violations:', ''] + ['- %s' % _md(text) for text in verdict['violations']] + ['']
        if verdict['rules']:
            out += ['### Rules', ''] + _md_table(*rule_table(verdict['rules'])) + ['']
        out += ['### Listening sockets', '']
        out += _md_table(*socket_table(verdict['sockets'])) if verdict['sockets'] else ['None.']
        unknown = unknown_owner_lines(verdict)
        if unknown:
            out += ['', '### Sockets whose owner is unknown', ''] + ['- %s' % _md(line) for line in unknown]
        extra = list(verdict.get('notes') or ())
        if verdict.get('incomplete'):
            extra.append('incomplete facts%s: %s' % (' (accepted)' if verdict.get('accept_incomplete') else '',
                                                     '; '.join(verdict.get('incomplete_reasons') or ())))
        if extra:
            out += [''] + ['> %s' % _md(text) for text in extra]
    return '\n'.join(out) + '\n'
