# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the HTML report, a self-contained page with the fleet matrix (hosts x ports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Tuple

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.common import (
    DEFAULT_TITLE, Host, hosts_of, fleet_line, describe_socket, socket_table, rule_table, single_port, verdict_line,
    unknown_owner_lines, anchor, origin_text, owners_text,
)


# A column of the matrix: (proto, port).
Port = Tuple[str, Any]
# Worst first: a cell shows the worst status among the sockets and missing rules of its host and port.
CELL_STATUSES = ('forbidden', 'missing', 'unexpected', 'expected', 'allowed', 'unlisted')
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1b1f23}
h1{margin:0 0 .2em}h2{margin:1.6em 0 .4em;font-size:1.25em}h3{margin:.8em 0 .2em;font-size:1em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left}
#matrix th.port{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:600;white-space:nowrap}
#matrix td.cell{min-width:4.5em;text-align:center;cursor:pointer;font-size:12px}
#matrix td.selected{outline:3px solid #0969da;outline-offset:-3px}
.st-forbidden{background:#c62828;color:#fff}.st-unexpected{background:#ef6c00;color:#fff}
.st-missing{background:repeating-linear-gradient(45deg,#c62828 0 5px,#e57373 5px 10px);color:#fff}
.st-expected{background:#2e7d32;color:#fff}.st-allowed{background:#a5d6a7}.st-unlisted{background:#cfd8dc}
.st-none{background:#fff}.v-compliant{color:#2e7d32;font-weight:600}.v-non_compliant{color:#c62828;font-weight:700}
.v-no_verdict{color:#6e7781;font-weight:600}#matrix .why{display:block;font-size:11px;white-space:nowrap}tr.no-verdict td{background:#eaeef2;color:#57606a}
.legend span{display:inline-block;padding:.1em .6em;margin-right:.4em;border:1px solid #d0d7de;font-size:12px}
#detail{white-space:pre-wrap;font-family:ui-monospace,monospace;background:#f6f8fa;border:1px solid #d0d7de;
padding:.6em;min-height:2.5em}.muted{color:#6e7781}
"""
_SCRIPT = """
(function () {
  var panel = document.getElementById('detail');
  var cells = document.querySelectorAll('#matrix td.cell');
  function key(cell) { return cell.getAttribute('data-host') + ' ' + cell.getAttribute('data-port'); }
  function show(cell, remember) {
    var old = document.querySelector('#matrix td.selected');
    if (old) { old.classList.remove('selected'); }
    cell.classList.add('selected');
    panel.textContent = key(cell) + '\\n' + (cell.getAttribute('title') || 'nothing listening');
    if (remember && window.history && history.replaceState) {
      history.replaceState(null, '', '#cell=' + encodeURIComponent(key(cell)));
    }
  }
  for (var i = 0; i < cells.length; i++) {
    cells[i].addEventListener('click', function (event) { show(event.currentTarget, true); });
    cells[i].addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); show(event.currentTarget, true); }
    });
  }
  // A link to one cell: REPORT.html#cell=HOST%20PROTO%2FPORT shows its details, as a click does.
  var wanted = /^#cell=(.*)$/.exec(location.hash);
  // A fragment that is not valid percent-encoding (a hand-edited link) is ignored: the page works without it.
  var target = null;
  if (wanted) {
    try { target = decodeURIComponent(wanted[1]); } catch (error) { target = null; }
  }
  for (var j = 0; target !== null && j < cells.length; j++) {
    if (key(cells[j]) === target) { show(cells[j], false); }
  }
  var hosts = document.querySelectorAll('#matrix tbody tr').length;
  var ports = document.querySelectorAll('#matrix thead th.port').length;
  document.getElementById('matrix-size').textContent =
    hosts + (hosts === 1 ? ' host' : ' hosts') + ' \\u00d7 ' + ports + (ports === 1 ? ' port' : ' ports');
  document.body.setAttribute('data-ready', 'true');
})();
"""


def _h(text: object) -> str:
    return _hoststr.html(text)


def _h_lines(lines: Sequence[object]) -> str:
    """Lines of text in an HTML attribute or element, each escaped (their line breaks are the report's own)."""
    return '\n'.join(_hoststr.html(line) for line in lines)


def _port_sort_key(key: Port) -> tuple[str, Any]:
    return (key[0], key[1])


def matrix(hosts: Sequence[Host]) -> tuple[list[Port], dict[str, dict[Port, tuple[str, list[str]]]], dict[str, list[str]]]:
    """(ports, cells, others): the matrix's columns [(proto, port)] in order, cells[host][(proto, port)] =
    (status, [detail lines]), and others[host] = [detail lines] of problems that belong to no single port."""
    ports: set[Port] = set()
    cells: dict[str, dict[Port, list[tuple[Any, str]]]] = {}
    others: dict[str, list[str]] = {}
    for host in hosts:
        verdict = host.verdict
        if verdict is None:
            continue
        mine = cells.setdefault(host.name, {})
        key: Port | None
        for entry in verdict['sockets']:
            key = (str(entry.get('proto')), entry.get('port'))
            ports.add(key)
            line = '%s: %s' % (entry.get('status'), describe_socket(entry))
            if entry.get('rules'):
                line += ' [%s]' % ', '.join(entry['rules'])
            mine.setdefault(key, []).append((entry.get('status'), line))
        for result in verdict['missing']:
            key = single_port(result)
            line = 'missing: %s' % result.get('message')
            if key is None:
                others.setdefault(host.name, []).append(line)
            else:
                ports.add(key)
                mine.setdefault(key, []).append(('missing', line))
        if verdict.get('incomplete') and not verdict.get('accept_incomplete'):
            others.setdefault(host.name, []).append(
                'incomplete facts: %s' % '; '.join(verdict.get('incomplete_reasons') or ()))
    judged: dict[str, dict[Port, tuple[str, list[str]]]] = {}
    for name, mine in cells.items():
        judged[name] = {}
        for key, found in mine.items():
            rank = min(CELL_STATUSES.index(status) if status in CELL_STATUSES else len(CELL_STATUSES)
                       for status, _line in found)
            status = CELL_STATUSES[rank] if rank < len(CELL_STATUSES) else 'unlisted'
            judged[name][key] = (status, [line for _status, line in found])
    return sorted(ports, key=_port_sort_key), judged, others


def cell_whys(host: Host) -> dict[Port, list[str]]:
    """{(proto, port): why each socket of the port listens, unit or container first: 'ssh.service (sshd 712)'} for
    one host, only for the sockets whose verdict entry names a unit or a container (raw text: escape it)."""
    whys: dict[Port, list[str]] = {}
    for entry in (host.verdict or {}).get('sockets') or ():
        if origin_text(entry) is not None:
            found = whys.setdefault((str(entry.get('proto')), entry.get('port')), [])
            why = owners_text(entry)
            if why not in found:
                found.append(why)
    return whys


def _html_table(header: Sequence[object], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ['<table><thead><tr>%s</tr></thead><tbody>' % ''.join('<th>%s</th>' % _h(cell) for cell in header)]
    out += ['<tr>%s</tr>' % ''.join('<td>%s</td>' % _h(cell) for cell in row) for row in rows]
    return out + ['</tbody></table>']


def _matrix_html(hosts: Sequence[Host]) -> list[str]:
    ports, cells, others = matrix(hosts)
    with_other = bool(others)
    head = ['<th scope="col">host</th>', '<th scope="col">verdict</th>']
    head += ['<th scope="col" class="port" data-port="%s/%d">%s/%d</th>' % (_h(proto), port, _h(proto), port)
             for proto, port in ports]
    if with_other:
        head.append('<th scope="col" class="other">other</th>')
    out = ['<table id="matrix"><thead><tr>%s</tr></thead><tbody>' % ''.join(head)]
    width = len(ports) + (1 if with_other else 0)
    for host in hosts:
        row = ['<th scope="row"><a href="#%s">%s</a></th>' % (anchor(host.name), _h(host.name))]
        if host.verdict is None:
            row.append('<td class="verdict v-no_verdict" title="%s">no verdict</td>' % _h(host.error))
            if width:
                row.append('<td colspan="%d">%s</td>' % (width, _h(host.error)))
            out.append('<tr class="no-verdict" data-host="%s" data-state="no_verdict">%s</tr>' % (_h(host.name), ''.join(row)))
            continue
        row.append('<td class="verdict v-%s" title="%s">%s</td>' % (
            host.state, _h_lines(host.verdict['violations'] or [verdict_line(host)]), _h(host.label)))
        whys = cell_whys(host)
        for proto, port in ports:
            status, lines = cells.get(host.name, {}).get((proto, port), ('none', []))
            title = ' title="%s"' % _h_lines(lines) if lines else ''
            why = ''.join('<span class="why">%s</span>' % _h(text) for text in whys.get((proto, port), ()))
            row.append('<td class="cell st-%s" data-host="%s" data-port="%s/%d" data-status="%s" tabindex="0"%s>%s%s</td>' % (
                status, _h(host.name), _h(proto), port, status, title, '' if status == 'none' else status, why))
        if with_other:
            lines = others.get(host.name, [])
            row.append('<td class="cell other %s" data-host="%s" data-port="other" tabindex="0"%s>%s</td>' % (
                'st-missing' if lines else 'st-none', _h(host.name), ' title="%s"' % _h_lines(lines) if lines else '',
                ('%d issue%s' % (len(lines), '' if len(lines) == 1 else 's')) if lines else ''))
        out.append('<tr data-host="%s" data-state="%s">%s</tr>' % (_h(host.name), host.state, ''.join(row)))
    return out + ['</tbody></table>']


def _host_html(host: Host) -> list[str]:
    out = ['<section class="host" id="%s" data-host="%s">' % (anchor(host.name), _h(host.name)),
           '<h2>%s: <span class="v-%s">%s</span></h2>' % (_h(host.name), host.state, _h(host.label))]
    verdict = host.verdict
    if verdict is None:
        return out + ['<p>%s</p>' % _h(host.error), '</section>']
    out.append('<p class="muted">%s</p>' % _h(verdict_line(host)))
    if verdict['violations']:
        out += ['<ul class="violations">'] + ['<li>%s</li>' % _h(text) for text in verdict['violations']] + ['</ul>']
    if verdict['rules']:
        out += ['<h3>Rules</h3>'] + _html_table(*rule_table(verdict['rules']))
    out.append('<h3>Listening sockets</h3>')
    out += _html_table(*socket_table(verdict['sockets'])) if verdict['sockets'] else ['<p>None.</p>']
    unknown = unknown_owner_lines(verdict)
    if unknown:
        out += ['<h3>Sockets whose owner is unknown</h3>', '<ul class="unknown-owner">']
        out += ['<li>%s</li>' % _h(line) for line in unknown] + ['</ul>']
    for note in verdict.get('notes') or ():
        out.append('<p class="muted">note: %s</p>' % _h(note))
    return out + ['</section>']


def render_html(verdicts: object, title: str | None = None) -> str:
    hosts = hosts_of(verdicts)
    title = title or DEFAULT_TITLE
    legend = ''.join('<span class="st-%s">%s</span>' % (status, status) for status in CELL_STATUSES)
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">', '<title>%s</title>' % _h(title),
           '<style>%s</style>' % _CSS, '</head>', '<body data-ready="false">', '<h1>%s</h1>' % _h(title),
           '<p class="fleet">%s</p>' % _h(fleet_line(hosts)), '<p id="matrix-size" class="muted"></p>',
           '<p class="legend">%s</p>' % legend]
    out += _matrix_html(hosts)
    out += ['<div id="detail" aria-live="polite">Hover over a cell for its sockets and rules; click it to show them here.</div>']
    for host in hosts:
        out += _host_html(host)
    out += ['<script>%s</script>' % _SCRIPT, '</body>', '</html>']
    return '\n'.join(out) + '\n'
