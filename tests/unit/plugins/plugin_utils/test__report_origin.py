# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_reports: each socket's why, its unit or container first and then its process, in every format: the socket rows
(text, Markdown, HTML), the sentences that name a socket (JUnit failures, the HTML matrix cell's details) and the
matrix cell itself; sockets without the keys render as before. Verdicts from the real policy code; the reports read
back with independent parsers (markdown-it-py, html.parser, xml.etree)."""

import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest

from markdown_it import MarkdownIt

from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit


NOW = '2026-01-01'


def record(port, name, pid, unit=None, container=None, user='root', **extra):
    return dict({'netid': 'tcp', 'state': 'LISTEN', 'family': 'inet', 'local_address': '0.0.0.0', 'local_port': port,
                 'peer_address': '0.0.0.0', 'peer_port': 0, 'interface': None, 'v6only': None, 'recv_q': 0,
                 'send_q': 128, 'inode': 7000 + port, 'uid': 0, 'user': user, 'netns': None,
                 'processes': [{'name': name, 'pid': pid, 'fd': 3}], 'unit': unit, 'container': container,
                 'package': None, 'origin_unknown': {}}, **extra)


def unit(name, service=None, manager='system', uid=None):
    return {'name': name, 'manager': manager, 'uid': uid, 'service': service}


def container(runtime, ident, name=None, pod=None, namespace=None, inner=None):
    return {'runtime': runtime, 'id': ident, 'name': name, 'pod': pod, 'namespace': namespace, 'container': inner}


SSH = record(22, 'sshd', 712, unit=unit('ssh.service'))
WEB = record(8080, 'nginx', 4711, container=container('docker', 'a' * 64, 'web'),
             unit=unit('docker-%s.scope' % ('a' * 64)))
ACTIVATED = record(5000, 'systemd', 1, unit=unit('echo.socket', 'echo.service'))
KUBE = record(8443, 'envoy', 900, container=container('containerd', 'b' * 64, 'proxy', 'gw-0', 'edge', 'proxy'))
USER_APP = record(9000, 'python3', 3000, unit=unit('app.service', manager='user', uid=1000), user='alice')
NAMELESS = record(9100, 'node', 3100, container=container('podman', 'c' * 64))
PLAIN = record(631, 'cupsd', 900)                    # no unit, no container: as before
OLD = dict((key, value) for key, value in record(53, 'dnsmasq', 800).items()
           if key not in ('unit', 'container', 'package', 'origin_unknown'))     # facts from before the keys
ALL = [SSH, WEB, ACTIVATED, KUBE, USER_APP, NAMELESS, PLAIN, OLD]
WHY = {
    22: 'ssh.service (sshd 712)',
    8080: 'docker web (nginx 4711)',
    5000: 'echo.socket for echo.service (systemd 1)',
    8443: 'containerd edge/gw-0/proxy (envoy 900)',
    9000: 'app.service of uid 1000 (python3 3000)',
    9100: 'podman cccccccccccc (node 3100)',
    631: 'cupsd[900]',
    53: 'dnsmasq[800]',
}


@pytest.fixture
def verdicts():
    policy = {'expected': ['tcp/22', 'tcp/443'], 'forbidden': [{'port': 8080, 'name': 'no plain http'}],
              'closed_world': True}
    return {'h1': port_audit(ALL, policy, now=NOW)}


def test_owners_text_unit_or_container_first():
    entries = dict((entry['port'], entry) for entry in port_audit(ALL, {}, now=NOW)['sockets'])
    assert dict((port, report_common.owners_text(entry)) for port, entry in entries.items()) == WHY
    assert report_common.describe_socket(entries[22]) == 'tcp 0.0.0.0:22 (ssh.service: sshd pid 712, user root)'
    assert report_common.describe_socket(entries[631]) == 'tcp 0.0.0.0:631 (cupsd pid 900, user root)'


def test_an_unknown_owner_keeps_its_reason_after_the_unit():
    hidden = record(23, 'x', 1, unit=unit('inetd.service'), processes=[], owner_unknown='not_visible')
    [entry] = port_audit([hidden], {}, now=NOW)['sockets']
    assert report_common.owners_text(entry) == 'inetd.service (? (not visible))'


def test_entries_with_odd_values_render_without_error():
    for odd, shown in (({'unit': 'ssh.service'}, 'ssh.service (a 1)'), ({'container': 'docker web'}, 'docker web (a 1)'),
                       ({'unit': ''}, 'a[1]'), ({'unit': {'name': None}}, 'a[1]'), ({'container': ['web']}, 'a[1]'),
                       ({'container': {'runtime': None, 'id': None, 'name': None}}, 'a[1]'),
                       ({'unit': {'name': 7, 'uid': [1]}}, '7 (a 1)'), ({'unit': {'name': {'x': 1}}}, 'a[1]')):
        entry = dict({'proto': 'tcp', 'endpoint': '0.0.0.0:1', 'processes': ['a'], 'pids': [1]}, **odd)
        assert report_common.owners_text(entry) == shown, odd


def test_text_rows(verdicts):
    lines = render(verdicts, 'text').splitlines()
    rows = dict((line.split()[1], line) for line in lines if line.startswith('  tcp '))
    for port, why in WHY.items():
        assert '  %s  ' % why in rows['0.0.0.0:%d' % port] + '  ', (port, rows)
    assert '  FAIL     unexpected (closed world): tcp 0.0.0.0:9100 (podman cccccccccccc: node pid 3100, user root)' in lines


def test_markdown_cells_through_a_parser(verdicts):
    tokens = MarkdownIt('commonmark').enable('table').parse(render(verdicts, 'markdown'))
    rows, row = [], None
    for index, token in enumerate(tokens):
        if token.type == 'tr_open':
            row = []
            rows.append(row)
        elif token.type in ('th_open', 'td_open'):
            row.append(''.join(child.content for child in tokens[index + 1].children or ()))
    header = [r for r in rows if r[:2] == ['proto', 'bind']][0]
    sockets = [r for r in rows if len(r) == len(header) and r[0] == 'tcp']
    found = dict((int(r[1].rsplit(':', 1)[1]), r[header.index('process')]) for r in sockets)
    assert found == WHY


class Cells(HTMLParser):
    """The matrix cells: {(host, port): {'status', 'whys', 'title'}}, from html.parser."""

    def __init__(self, text):
        super(Cells, self).__init__()
        self.cells, self.current, self.in_why = {}, None, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'td' and 'cell' in (attrs.get('class') or '').split():
            self.current = self.cells[(attrs['data-host'], attrs['data-port'])] = {
                'status': attrs.get('data-status'), 'whys': [], 'title': attrs.get('title'), 'text': ''}
        elif tag == 'span' and self.current is not None and attrs.get('class') == 'why':
            self.in_why = True
            self.current['whys'].append('')

    def handle_endtag(self, tag):
        if tag == 'span':
            self.in_why = False
        elif tag == 'td':
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            if self.in_why:
                self.current['whys'][-1] += data
            else:
                self.current['text'] += data


def test_html_matrix_cell_lists_the_why(verdicts):
    cells = Cells(render(verdicts, 'html')).cells
    for port, why in WHY.items():
        cell = cells[('h1', 'tcp/%d' % port)]
        assert cell['text'] == cell['status']
        if port in (631, 53):
            assert cell['whys'] == []                       # nothing to add: as before
        else:
            assert cell['whys'] == [why]
    assert cells[('h1', 'tcp/8080')]['title'] == (
        'forbidden: tcp 0.0.0.0:8080 (docker web: nginx pid 4711, user root) [forbidden[0]]')


def test_junit_failures_name_the_container(verdicts):
    root = ET.fromstring(render(verdicts, 'junit').encode('utf-8'))
    texts = [failure.text for failure in root.iter('failure')]
    assert any('  tcp 0.0.0.0:8080 (docker web: nginx pid 4711, user root)' in text for text in texts), texts
    assert any('  tcp 0.0.0.0:5000 (echo.socket for echo.service: systemd pid 1, user root)' in text
               for text in texts), texts


def test_a_verdict_without_the_keys_renders_as_before():
    old = [dict((key, value) for key, value in r.items() if key not in ('unit', 'container', 'package', 'origin_unknown'))
           for r in ALL]
    before = {'h1': port_audit(old, {'expected': ['tcp/22']}, now=NOW)}
    with_none = {'h1': port_audit([dict(r, unit=None, container=None) for r in ALL], {'expected': ['tcp/22']}, now=NOW)}
    for fmt in ('text', 'markdown', 'junit', 'html'):
        assert render(before, fmt) == render(with_none, fmt), fmt
