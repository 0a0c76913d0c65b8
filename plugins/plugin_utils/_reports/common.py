# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: what every report format shares: the formats, the hosts of a fleet's verdicts
in order, the fleet line, and sockets, rules and hosts as lines of raw text (each renderer escapes them)."""

from __future__ import annotations

import re

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import OWNER_UNKNOWN_REASONS


FORMATS = ('json', 'markdown', 'junit', 'html', 'text', 'summary')
# The formats written to files, each with its file name extension: the choices of port_reports' formats (and of the
# port_audit role's port_audit_report_formats). summary is the one-line display, shown and never written.
EXTENSIONS = {'json': 'json', 'markdown': 'md', 'junit': 'junit.xml', 'html': 'html', 'text': 'txt'}
VERDICT_KEYS = ('compliant', 'violations', 'rules', 'sockets', 'summary')
NO_VERDICT = 'no verdict: the host failed or was unreachable before its audit'
DEFAULT_TITLE = 'Port audit'

EXPOSURE_TEXT: dict[object, str] = {'loopback': 'loopback', 'local_network': 'local network', 'all_interfaces': 'all interfaces'}
STACK_TEXT: dict[object, str] = {'ipv4': 'v4', 'ipv6': 'v6', 'dual': 'dual stack'}
RULE_MARK = {'ok': 'ok', 'missing': 'FAIL', 'violated': 'FAIL', 'expired': 'expired'}
SOCKET_HEADER = ('proto', 'bind', 'exposure', 'stack', 'process', 'user', 'status')
RULE_HEADER = ('rule', 'status', 'message')
# Why a socket's owner is unknown (the records' owner_unknown, docs/records.md), short for the tables' process column;
# the sentences that name a socket use the policy's words (_listening.OWNER_UNKNOWN_REASONS).
OWNER_UNKNOWN_SHORT = {'not_gathered': 'not gathered', 'not_visible': 'not visible', 'exited': 'exited',
                       'kernel': 'kernel', 'unknown': 'unknown'}


class ReportError(NetauditError, ValueError):
    """Input that is not a mapping of hosts to port_audit verdicts; the message names the host."""


class Host(object):
    """One host of the report: its name and its verdict, or why there is none."""

    __slots__ = ('name', 'verdict', 'error')

    def __init__(self, name: str, verdict: Mapping[str, Any] | None, error: str | None = None) -> None:
        self.name, self.verdict, self.error = name, verdict, error

    @property
    def compliant(self) -> bool:
        return self.verdict is not None and bool(self.verdict['compliant'])

    @property
    def state(self) -> str:
        """'compliant', 'non_compliant' or 'no_verdict'."""
        if self.verdict is None:
            return 'no_verdict'
        return 'compliant' if self.compliant else 'non_compliant'

    @property
    def label(self) -> str:
        return {'compliant': 'compliant', 'non_compliant': 'NOT compliant', 'no_verdict': 'no verdict'}[self.state]


def _natural(text: str) -> list[tuple[int, int, str]]:
    return [(0, int(part), '') if part.isdigit() else (1, 0, part) for part in re.split(r'(\d+)', text) if part]


def hosts_of(verdicts: object) -> list[Host]:
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


def fleet_summary(hosts: Sequence[Host]) -> dict[str, int]:
    states = [host.state for host in hosts]
    return {
        'hosts': len(hosts), 'compliant': states.count('compliant'), 'non_compliant': states.count('non_compliant'),
        'no_verdict': states.count('no_verdict'),
        'violations': sum(len(host.verdict['violations']) for host in hosts if host.verdict is not None),
    }


def fleet_line(hosts: Sequence[Host]) -> str:
    counts = fleet_summary(hosts)
    line = '%d host%s: %d compliant, %d NOT compliant' % (
        counts['hosts'], '' if counts['hosts'] == 1 else 's', counts['compliant'], counts['non_compliant'])
    if counts['no_verdict']:
        line += ', %d without a verdict' % counts['no_verdict']
    return line


# --- sockets and rules as text ---------------------------------------------------------------------------------

def _field(value: Mapping[str, Any], key: str) -> str | None:
    """One string of an origin dict (host data, raw: the renderer escapes it), None when absent or empty."""
    found = value.get(key)
    if found is None or found == '' or isinstance(found, (Mapping, list, tuple)):
        return None
    return str(found)


def container_text(container: object) -> str | None:
    """docker web, containerd default/web-0/nginx (Kubernetes: namespace/pod/container), podman 0123456789ab
    (the id's first 12 characters when there is no name); None when the entry names no container. A string is
    shown as it is (an entry that carries the container's label only)."""
    if isinstance(container, str):
        return container or None
    if not isinstance(container, Mapping):
        return None
    runtime = _field(container, 'runtime') or 'container'
    if _field(container, 'pod'):
        label = '/'.join(part for part in (_field(container, key) for key in ('namespace', 'pod', 'container')) if part)
    else:
        label = _field(container, 'name') or (_field(container, 'id') or '')[:12]
    return '%s %s' % (runtime, label) if label else None


def unit_text(unit: object) -> str | None:
    """ssh.service; ssh.socket for ssh.service (socket activation); app.service of uid 1000 (a user's manager);
    None when the entry names no unit. A string is shown as it is (an entry that carries the unit's name only)."""
    if isinstance(unit, str):
        return unit or None
    if not isinstance(unit, Mapping):
        return None
    name = _field(unit, 'name')
    if name is None:
        return None
    service = _field(unit, 'service')
    if service and service != name:
        name += ' for ' + service
    if _field(unit, 'manager') == 'user':
        name += ' of uid %s' % (_field(unit, 'uid') or '?')
    return name


def origin_text(entry: Mapping[str, Any]) -> str | None:
    """Why the socket is open, as the verdict entry says: its container, else its systemd unit; None when the entry
    says neither (facts from before these fields, or a socket outside both)."""
    return container_text(entry.get('container')) or unit_text(entry.get('unit'))


def owners_text(entry: Mapping[str, Any]) -> str:
    """sshd[712] for one process with one pid, else the names and then the pids; when unknown, '? (why)' with the
    socket's owner_unknown, or '-' when the socket does not say. With a unit or container, that comes first and the
    processes follow in parentheses: ssh.service (sshd 712), docker web (nginx 4711,4712)."""
    origin = origin_text(entry)
    if origin is not None:
        names = [str(name) for name in entry.get('processes') or ()]
        pids = [str(pid) for pid in entry.get('pids') or ()]
        inner = ' '.join(part for part in (','.join(names), ','.join(pids)) if part) if names else _owners_only(entry)
        return '%s (%s)' % (origin, inner)
    return _owners_only(entry)


def _owners_only(entry: Mapping[str, Any]) -> str:
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


def user_text(entry: Mapping[str, Any]) -> str:
    if entry.get('user') is not None:
        return str(entry['user'])
    return '-' if entry.get('uid') is None else str(entry['uid'])


def describe_socket(entry: Mapping[str, Any]) -> str:
    """tcp 0.0.0.0:23 (inetd pid 812, user root): the way the verdict's messages name a socket; with a unit or a
    container first: tcp 0.0.0.0:22 (ssh.service: sshd pid 712, user root)."""
    owners = ', '.join(str(name) for name in entry.get('processes') or ())
    if not owners:
        why = entry.get('owner_unknown')
        owners = 'owner unknown: %s' % OWNER_UNKNOWN_REASONS.get(why, why) if why else 'owner unknown'
    if entry.get('pids'):
        owners += ' pid ' + ','.join(str(pid) for pid in entry['pids'])
    if entry.get('user') is not None or entry.get('uid') is not None:
        owners += ', user %s' % user_text(entry)
    origin = origin_text(entry)
    if origin is not None:
        owners = '%s: %s' % (origin, owners)
    netns = ' in netns %s' % entry['netns'] if entry.get('netns') else ''
    return '%s %s%s (%s)' % (entry.get('proto'), entry.get('endpoint'), netns, owners)


def socket_row(entry: Mapping[str, Any], with_netns: bool = False) -> list[str]:
    row = [str(entry.get('proto')), str(entry.get('endpoint')),
           EXPOSURE_TEXT.get(entry.get('exposure'), str(entry.get('exposure'))),
           STACK_TEXT.get(entry.get('stack'), str(entry.get('stack'))), owners_text(entry), user_text(entry),
           str(entry.get('status', '-'))]
    if with_netns:
        row.append(str(entry.get('netns') or '-'))
    return row


def socket_header(sockets: Sequence[Mapping[str, Any]]) -> tuple[list[str], bool]:
    with_netns = any(entry.get('netns') for entry in sockets)
    return list(SOCKET_HEADER) + (['netns'] if with_netns else []), with_netns


def socket_table(sockets: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a host's listening sockets table: a netns column when any socket is in another namespace."""
    header, with_netns = socket_header(sockets)
    return header, [socket_row(entry, with_netns) for entry in sockets]


def rule_table(results: Sequence[Mapping[str, Any]]) -> tuple[Sequence[str], list[tuple[str, Any, Any]]]:
    """(header, rows) of a host's rules table: each rule's title, status and message."""
    return RULE_HEADER, [(rule_title(result), result.get('status'), result.get('message')) for result in results]


def rule_title(result: Mapping[str, Any]) -> str:
    """expected[0] tcp/22, or expected[1] web (tcp/443) when the rule has a name."""
    if result.get('name') and result['name'] != result.get('text'):
        return '%s %s (%s)' % (result['id'], result['name'], result.get('text'))
    return '%s %s' % (result['id'], result.get('text'))


def single_port(result: Mapping[str, Any]) -> tuple[str, int] | None:
    """(proto, port) when a rule names exactly one protocol and one port, else None."""
    rule = result.get('rule') or {}
    protos, port = rule.get('proto'), rule.get('port')
    if isinstance(port, int) and not isinstance(port, bool) and isinstance(protos, Sequence) and len(protos) == 1:
        return str(protos[0]), port
    return None


def failure_details(result: Mapping[str, Any], verdict: Mapping[str, Any]) -> list[str]:
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


def verdict_line(host: Host) -> str:
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


def unknown_owner_lines(verdict: Mapping[str, Any]) -> list[str]:
    """One line (raw) per listening socket whose owner is unknown: why, and the rules that failed closed on it."""
    lines = []
    for entry in verdict.get('unknown_owner') or ():
        line = describe_socket(entry)
        if entry.get('undecided'):
            line += ': cannot be judged by %s' % ', '.join(str(rule) for rule in entry['undecided'])
        lines.append(line)
    return lines


def display_lines(hosts: Sequence[Host], title: str | None = None) -> list[str]:
    """What Ansible shows for a fleet (port_reports' msg): the fleet line, then one line per host, as text()."""
    return ([_hoststr.text('%s: %s' % (title or DEFAULT_TITLE, fleet_line(hosts)))]
            + [_hoststr.text(verdict_line(host)) for host in hosts])


def anchor(name: str) -> str:
    return 'host-' + re.sub(r'[^A-Za-z0-9_-]', '-', name).lower()
