# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: fleet reports of port_audit verdicts (JSON, Markdown, JUnit XML, HTML, text)."""

# Every renderer takes `verdicts`, a mapping of host name to the verdict that the port_audit filter returned for it
# (docs/policy.md, "The verdict"), and returns the report as text. A host without a verdict (it failed or was
# unreachable before the audit) maps to null/false, or to {"error": "why"}; the reports show it as an error.
# render(verdicts, format) is what the audit_report filter calls.
#
# Host data (process, user, interface and namespace names, addresses, and the verdict's messages that quote them) is
# hostile (docs/security.md). The helpers below that compose lines and cells (describe_socket, socket_row,
# verdict_line, failure_details...) return them raw; each renderer escapes every piece once, where it writes it,
# with the _hoststr function of its format: text() for text, the summary and Ansible's messages (display_lines),
# markdown() for Markdown, html() for HTML, xml() for JUnit XML and clean_tree() for JSON. Host names come from the
# controller's inventory but are escaped the same way: they may hold the format's syntax too.

from __future__ import annotations

import json
import re

from collections.abc import Mapping, Sequence

from ansible_collections.netaudit.sockets.plugins.module_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._listening import OWNER_UNKNOWN_REASONS

FORMATS = ('json', 'markdown', 'junit', 'html', 'text', 'summary')
# The formats written to files, each with its file name extension: the choices of port_reports' formats (and of the
# port_audit role's port_audit_report_formats). summary is the one-line display, shown and never written.
EXTENSIONS = {'json': 'json', 'markdown': 'md', 'junit': 'junit.xml', 'html': 'html', 'text': 'txt'}
VERDICT_KEYS = ('compliant', 'violations', 'rules', 'sockets', 'summary')
NO_VERDICT = 'no verdict: the host failed or was unreachable before its audit'
DEFAULT_TITLE = 'Port audit'

EXPOSURE_TEXT = {'loopback': 'loopback', 'local_network': 'local network', 'all_interfaces': 'all interfaces'}
STACK_TEXT = {'ipv4': 'v4', 'ipv6': 'v6', 'dual': 'dual stack'}
RULE_MARK = {'ok': 'ok', 'missing': 'FAIL', 'violated': 'FAIL', 'expired': 'expired'}
SOCKET_HEADER = ('proto', 'bind', 'exposure', 'stack', 'process', 'user', 'status')
# Why a socket's owner is unknown (the records' owner_unknown, docs/records.md), short for the tables' process column;
# the sentences that name a socket use the policy's words (_listening.OWNER_UNKNOWN_REASONS).
OWNER_UNKNOWN_SHORT = {'not_gathered': 'not gathered', 'not_visible': 'not visible', 'exited': 'exited',
                       'kernel': 'kernel', 'unknown': 'unknown'}


class ReportError(NetauditError, ValueError):
    """Input that is not a mapping of hosts to port_audit verdicts; the message names the host."""


class Host(object):
    """One host of the report: its name and its verdict, or why there is none."""

    __slots__ = ('name', 'verdict', 'error')

    def __init__(self, name, verdict, error=None):
        self.name, self.verdict, self.error = name, verdict, error

    @property
    def compliant(self):
        return self.verdict is not None and bool(self.verdict['compliant'])

    @property
    def state(self):
        """'compliant', 'non_compliant' or 'no_verdict'."""
        if self.verdict is None:
            return 'no_verdict'
        return 'compliant' if self.compliant else 'non_compliant'

    @property
    def label(self):
        return {'compliant': 'compliant', 'non_compliant': 'NOT compliant', 'no_verdict': 'no verdict'}[self.state]


def _natural(text):
    return [(0, int(part), '') if part.isdigit() else (1, 0, part) for part in re.split(r'(\d+)', text) if part]


def hosts_of(verdicts):
    """The hosts of `verdicts` in natural order (h2 before h10); raises ReportError for anything that is not one."""
    if not isinstance(verdicts, Mapping):
        raise ReportError('verdicts: expected a mapping of host names to port_audit verdicts, got %s'
                          % type(verdicts).__name__)
    found = []
    for name in sorted(verdicts, key=lambda key: _natural(str(key))):
        value = verdicts[name]
        name = str(name)
        if value is None or value is False or value == '':
            found.append(Host(name, None, NO_VERDICT))
        elif isinstance(value, Mapping) and 'compliant' not in value and 'error' in value:
            found.append(Host(name, None, 'no verdict: %s' % value['error']))
        elif isinstance(value, Mapping):
            missing = [key for key in VERDICT_KEYS if key not in value]
            if missing:
                raise ReportError('verdicts[%s]: not a port_audit verdict: no %s (the netaudit.sockets.port_audit filter '
                                  'returns them all)' % (_hoststr.text(name), ', '.join('"%s"' % _hoststr.text(key) for key in missing)))
            found.append(Host(name, value))
        else:
            raise ReportError('verdicts[%s]: expected a port_audit verdict (a dict), or null for a host without one; got %s'
                              % (_hoststr.text(name), type(value).__name__))
    return found


def fleet_summary(hosts):
    states = [host.state for host in hosts]
    return {
        'hosts': len(hosts), 'compliant': states.count('compliant'), 'non_compliant': states.count('non_compliant'),
        'no_verdict': states.count('no_verdict'),
        'violations': sum(len(host.verdict['violations']) for host in hosts if host.verdict is not None),
    }


def fleet_line(hosts):
    counts = fleet_summary(hosts)
    line = '%d host%s: %d compliant, %d NOT compliant' % (
        counts['hosts'], '' if counts['hosts'] == 1 else 's', counts['compliant'], counts['non_compliant'])
    if counts['no_verdict']:
        line += ', %d without a verdict' % counts['no_verdict']
    return line


# --- sockets and rules as text ---------------------------------------------------------------------------------

def owners_text(entry):
    """sshd[712] for one process with one pid, else the names and then the pids; when unknown, '? (why)' with the
    socket's owner_unknown, or '-' when the socket does not say."""
    names = [str(name) for name in entry.get('processes') or ()]
    pids = [str(pid) for pid in entry.get('pids') or ()]
    if len(names) == 1 and len(pids) == 1:
        return '%s[%s]' % (names[0], pids[0])
    if names:
        return ','.join(names) + ('[%s]' % ','.join(pids) if pids else '')
    why = entry.get('owner_unknown')
    if why:
        return '? (%s)' % OWNER_UNKNOWN_SHORT.get(why, why)
    return '-'


def user_text(entry):
    if entry.get('user') is not None:
        return str(entry['user'])
    return '-' if entry.get('uid') is None else str(entry['uid'])


def describe_socket(entry):
    """tcp 0.0.0.0:23 (inetd pid 812, user root): the way the verdict's messages name a socket."""
    owners = ', '.join(str(name) for name in entry.get('processes') or ())
    if not owners:
        why = entry.get('owner_unknown')
        owners = 'owner unknown: %s' % OWNER_UNKNOWN_REASONS.get(why, why) if why else 'owner unknown'
    if entry.get('pids'):
        owners += ' pid ' + ','.join(str(pid) for pid in entry['pids'])
    if entry.get('user') is not None or entry.get('uid') is not None:
        owners += ', user %s' % user_text(entry)
    netns = ' in netns %s' % entry['netns'] if entry.get('netns') else ''
    return '%s %s%s (%s)' % (entry.get('proto'), entry.get('endpoint'), netns, owners)


def socket_row(entry, with_netns=False):
    row = [str(entry.get('proto')), str(entry.get('endpoint')),
           EXPOSURE_TEXT.get(entry.get('exposure'), str(entry.get('exposure'))),
           STACK_TEXT.get(entry.get('stack'), str(entry.get('stack'))), owners_text(entry), user_text(entry),
           str(entry.get('status', '-'))]
    if with_netns:
        row.append(str(entry.get('netns') or '-'))
    return row


def socket_header(sockets):
    with_netns = any(entry.get('netns') for entry in sockets)
    return list(SOCKET_HEADER) + (['netns'] if with_netns else []), with_netns


def rule_title(result):
    """expected[0] tcp/22, or expected[1] web (tcp/443) when the rule has a name."""
    if result.get('name') and result['name'] != result.get('text'):
        return '%s %s (%s)' % (result['id'], result['name'], result.get('text'))
    return '%s %s' % (result['id'], result.get('text'))


def single_port(result):
    """(proto, port) when a rule names exactly one protocol and one port, else None."""
    rule = result.get('rule') or {}
    protos, port = rule.get('proto'), rule.get('port')
    if isinstance(port, int) and not isinstance(port, bool) and isinstance(protos, Sequence) and len(protos) == 1:
        return str(protos[0]), port
    return None


def failure_details(result, verdict):
    """The lines under a failed rule (raw: the renderer escapes each): each offending socket, or what listens on the
    port of a missing rule."""
    lines = []
    if result.get('status') == 'violated':
        lines += ['listening, and forbidden:'] + ['  ' + describe_socket(entry) for entry in result.get('sockets') or ()]
    elif result.get('status') == 'missing':
        lines.append('nothing listening matches %s' % result.get('text'))
        key = single_port(result)
        near = [entry for entry in verdict.get('sockets') or () if key and (entry.get('proto'), entry.get('port')) == key]
        if near:
            lines += ['on that port, but not matching the rule:'] + ['  ' + describe_socket(entry) for entry in near]
    if result.get('reason'):
        lines.append('reason: %s' % result['reason'])
    return lines


def verdict_line(host):
    """One line for a host: its verdict and the counts behind it."""
    verdict = host.verdict
    if verdict is None:
        return '%s: %s' % (host.name, host.error)
    counts = verdict['summary']
    listening = '%d listening socket%s' % (counts.get('listening', 0), '' if counts.get('listening') == 1 else 's')
    rules = counts.get('rules', 0)
    if verdict['compliant']:
        text = '%s: compliant: %d %s, %s' % (host.name, rules, 'rule holds' if rules == 1 else 'rules hold', listening)
    else:
        parts = ['%d %s' % (counts.get(key, 0), label) for key, label in
                 (('missing', 'missing'), ('forbidden', 'forbidden'), ('unexpected', 'unexpected')) if counts.get(key)]
        if verdict.get('incomplete') and not verdict.get('accept_incomplete'):
            parts.append('incomplete facts')
        violations = len(verdict['violations'])
        text = '%s: NOT compliant: %d violation%s (%s), %s' % (
            host.name, violations, '' if violations == 1 else 's', ', '.join(parts), listening)
    unknown = counts.get('unknown_owner') or 0
    if unknown:
        text += ', %d with an unknown owner' % unknown
    if counts.get('expired_exceptions'):
        text += ', %d expired exception%s' % (counts['expired_exceptions'], '' if counts['expired_exceptions'] == 1 else 's')
    if not rules and not verdict.get('closed_world'):
        text += ' (the policy is empty: nothing was checked)'
    return text


def unknown_owner_lines(verdict):
    """One line (raw) per listening socket whose owner is unknown: why, and the rules that failed closed on it."""
    lines = []
    for entry in verdict.get('unknown_owner') or ():
        line = describe_socket(entry)
        if entry.get('undecided'):
            line += ': cannot be judged by %s' % ', '.join(str(rule) for rule in entry['undecided'])
        lines.append(line)
    return lines


def display_lines(hosts, title=None):
    """What Ansible shows for a fleet (port_reports' msg): the fleet line, then one line per host, as text()."""
    return ([_hoststr.text('%s: %s' % (title or DEFAULT_TITLE, fleet_line(hosts)))]
            + [_hoststr.text(verdict_line(host)) for host in hosts])


# --- text: what tools/audit prints -----------------------------------------------------------------------------

def _columns(table, indent='  '):
    table = [[_hoststr.text(cell) for cell in row] for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [(indent + '  '.join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip() for row in table]


def render_summary(verdicts, title=None, violations=False):
    """One line per host (what the role shows per host), no title; with `violations`, each host's violations
    follow its line, indented (the role's failure message)."""
    out = []
    for host in hosts_of(verdicts):
        out.append(_hoststr.text(verdict_line(host)))
        if violations and host.verdict is not None:
            out += ['  ' + _hoststr.text(text) for text in host.verdict['violations']]
    return '\n'.join(out) + '\n'


def render_text(verdicts, title=None):
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
            header, with_netns = socket_header(sockets)
            out.append('Listening sockets:')
            out += _columns([header] + [socket_row(entry, with_netns) for entry in sockets])
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


# --- JSON ------------------------------------------------------------------------------------------------------

def render_json(verdicts, title=None):
    hosts = hosts_of(verdicts)
    document = {
        'report': 'netaudit.sockets.port_audit',
        'version': 1,
        'title': title or DEFAULT_TITLE,
        'summary': fleet_summary(hosts),
        'hosts': dict((host.name, host.verdict) for host in hosts),
        'errors': dict((host.name, host.error) for host in hosts if host.verdict is None),
    }
    return json.dumps(_hoststr.clean_tree(document), indent=2, default=str) + '\n'


# --- Markdown --------------------------------------------------------------------------------------------------

class Markdown(str):
    """Markdown this module wrote (a link to a host's section, bold), with its host data already escaped."""


def _md(text):
    return text if isinstance(text, Markdown) else _hoststr.markdown(text)


def _md_table(header, rows):
    lines = ['| %s |' % ' | '.join(_md(cell) for cell in header), '|%s' % ('---|' * len(header))]
    return lines + ['| %s |' % ' | '.join(_md(cell) for cell in row) for row in rows]


def render_markdown(verdicts, title=None):
    hosts = hosts_of(verdicts)
    out = ['# %s' % _md(title or DEFAULT_TITLE), '', _md(fleet_line(hosts)) + '.', '']
    rows = []
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
            out += ['### Rules', '']
            out += _md_table(('rule', 'status', 'message'), [
                (rule_title(result), result.get('status'), result.get('message')) for result in verdict['rules']])
            out.append('')
        out += ['### Listening sockets', '']
        if verdict['sockets']:
            header, with_netns = socket_header(verdict['sockets'])
            out += _md_table(header, [socket_row(entry, with_netns) for entry in verdict['sockets']])
        else:
            out.append('None.')
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


def anchor(name):
    return 'host-' + re.sub(r'[^A-Za-z0-9_-]', '-', name).lower()


# --- JUnit XML -------------------------------------------------------------------------------------------------

def _x(text):
    return _hoststr.xml(text)


def _xa(text):
    return '"%s"' % _hoststr.xml(text)


def _x_lines(lines):
    """Lines of text in an XML element, each escaped (their line breaks are the report's own)."""
    return '\n'.join(_hoststr.xml(line) for line in lines)


def junit_cases(host):
    """[(name, outcome, kind, message, lines)] for one host: outcome is None (passed), failure, error or skipped."""
    verdict = host.verdict
    if verdict is None:
        return [('audit', 'error', 'no_verdict', host.error, [host.error])]
    cases = []
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


def render_junit(verdicts, title=None):
    hosts = hosts_of(verdicts)
    suites, totals = [], {'tests': 0, 'failure': 0, 'error': 0, 'skipped': 0}
    for host in hosts:
        cases = junit_cases(host)
        counts = dict((outcome, sum(1 for case in cases if case[1] == outcome)) for outcome in ('failure', 'error', 'skipped'))
        totals['tests'] += len(cases)
        for outcome, count in counts.items():
            totals[outcome] += count
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


# --- HTML: a self-contained page with the fleet matrix (hosts x ports) -------------------------------------------

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
.v-no_verdict{color:#6e7781;font-weight:600}tr.no-verdict td{background:#eaeef2;color:#57606a}
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


def _h(text):
    return _hoststr.html(text)


def _h_lines(lines):
    """Lines of text in an HTML attribute or element, each escaped (their line breaks are the report's own)."""
    return '\n'.join(_hoststr.html(line) for line in lines)


def _port_sort_key(key):
    return (key[0], key[1])


def matrix(hosts):
    """(ports, cells, others): the matrix's columns [(proto, port)] in order, cells[host][(proto, port)] =
    (status, [detail lines]), and others[host] = [detail lines] of problems that belong to no single port."""
    ports, cells, others = set(), {}, {}
    for host in hosts:
        verdict = host.verdict
        if verdict is None:
            continue
        mine = cells.setdefault(host.name, {})
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
    judged = {}
    for name, mine in cells.items():
        judged[name] = {}
        for key, found in mine.items():
            rank = min(CELL_STATUSES.index(status) if status in CELL_STATUSES else len(CELL_STATUSES)
                       for status, _line in found)
            status = CELL_STATUSES[rank] if rank < len(CELL_STATUSES) else 'unlisted'
            judged[name][key] = (status, [line for _status, line in found])
    return sorted(ports, key=_port_sort_key), judged, others


def _html_table(header, rows):
    out = ['<table><thead><tr>%s</tr></thead><tbody>' % ''.join('<th>%s</th>' % _h(cell) for cell in header)]
    out += ['<tr>%s</tr>' % ''.join('<td>%s</td>' % _h(cell) for cell in row) for row in rows]
    return out + ['</tbody></table>']


def _matrix_html(hosts):
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
        for proto, port in ports:
            status, lines = cells.get(host.name, {}).get((proto, port), ('none', []))
            title = ' title="%s"' % _h_lines(lines) if lines else ''
            row.append('<td class="cell st-%s" data-host="%s" data-port="%s/%d" data-status="%s" tabindex="0"%s>%s</td>' % (
                status, _h(host.name), _h(proto), port, status, title, '' if status == 'none' else status))
        if with_other:
            lines = others.get(host.name, [])
            row.append('<td class="cell other %s" data-host="%s" data-port="other" tabindex="0"%s>%s</td>' % (
                'st-missing' if lines else 'st-none', _h(host.name), ' title="%s"' % _h_lines(lines) if lines else '',
                ('%d issue%s' % (len(lines), '' if len(lines) == 1 else 's')) if lines else ''))
        out.append('<tr data-host="%s" data-state="%s">%s</tr>' % (_h(host.name), host.state, ''.join(row)))
    return out + ['</tbody></table>']


def _host_html(host):
    out = ['<section class="host" id="%s" data-host="%s">' % (anchor(host.name), _h(host.name)),
           '<h2>%s: <span class="v-%s">%s</span></h2>' % (_h(host.name), host.state, _h(host.label))]
    verdict = host.verdict
    if verdict is None:
        return out + ['<p>%s</p>' % _h(host.error), '</section>']
    out.append('<p class="muted">%s</p>' % _h(verdict_line(host)))
    if verdict['violations']:
        out += ['<ul class="violations">'] + ['<li>%s</li>' % _h(text) for text in verdict['violations']] + ['</ul>']
    if verdict['rules']:
        out.append('<h3>Rules</h3>')
        out += _html_table(('rule', 'status', 'message'),
                           [(rule_title(result), result.get('status'), result.get('message')) for result in verdict['rules']])
    out.append('<h3>Listening sockets</h3>')
    if verdict['sockets']:
        header, with_netns = socket_header(verdict['sockets'])
        out += _html_table(header, [socket_row(entry, with_netns) for entry in verdict['sockets']])
    else:
        out.append('<p>None.</p>')
    unknown = unknown_owner_lines(verdict)
    if unknown:
        out += ['<h3>Sockets whose owner is unknown</h3>', '<ul class="unknown-owner">']
        out += ['<li>%s</li>' % _h(line) for line in unknown] + ['</ul>']
    for note in verdict.get('notes') or ():
        out.append('<p class="muted">note: %s</p>' % _h(note))
    return out + ['</section>']


def render_html(verdicts, title=None):
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


# --- dispatch --------------------------------------------------------------------------------------------------

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
