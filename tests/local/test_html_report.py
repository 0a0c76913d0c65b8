# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML fleet report in a real headless Chromium (its rendered DOM), and the audit_report filter and port_audit
role from real ansible runs on this machine: the filter's EXAMPLES, ansible-doc, and the role against localhost."""

import json
import os
import subprocess
import tempfile

from urllib.parse import quote

import pytest
import yaml

from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from support.chromium import CHROMIUM_FLAGS, DOM, check_matrix, chromium, render_in_chromium
from support.natest import REPO, ansible_doc, local_playbook, plugin_doc, run_playbook

FIXTURE = os.path.join(REPO, 'tests', 'unit', 'plugins', 'plugin_utils', 'fixtures', 'report', 'verdicts.json')


def test_html_matrix_in_chromium(tmp_path):
    with open(FIXTURE) as handle:
        verdicts = json.load(handle)
    page = tmp_path / 'fleet report.html'
    page.write_text(render(verdicts, 'html', title='Fleet'))
    dom = DOM(render_in_chromium(page))
    assert dom.find('body')[0]['attrs'].get('data-ready') == 'true'          # the page's script ran to the end
    assert dom.find(id='matrix-size')[0]['text'] == '4 hosts \u00d7 9 ports'
    columns = check_matrix(dom, verdicts)
    assert columns == ['tcp/22', 'tcp/23', 'tcp/53', 'tcp/443', 'tcp/5432', 'tcp/8080', 'tcp/8443', 'tcp/9187', 'udp/53']
    missing = dom.find('td', data_host='web2', data_port='tcp/443')[0]
    assert missing['attrs']['data-status'] == 'missing' and missing['text'] == 'missing'

    # A link to a cell shows its details the way a click does.
    dom = DOM(render_in_chromium(page, '#cell=' + quote('web2 tcp/23', safe='')))
    selected = [c for c in dom.find('td') if 'selected' in c['attrs'].get('class', '').split()]
    assert [(c['attrs']['data-host'], c['attrs']['data-port']) for c in selected] == [('web2', 'tcp/23')]
    assert dom.find(id='detail')[0]['text'] == (
        'web2 tcp/23\nforbidden: tcp 0.0.0.0:23 (inetd pid 812, user root) [forbidden[0]]')


def test_html_screenshot(tmp_path):
    """Chromium paints the page: a PNG that a person can look at."""
    with open(FIXTURE) as handle:
        verdicts = json.load(handle)
    page = tmp_path / 'report.html'
    page.write_text(render(verdicts, 'html'))
    shot = tmp_path / 'report.png'
    with tempfile.TemporaryDirectory(prefix='na-chromium-') as profile:
        argv = [chromium()] + CHROMIUM_FLAGS + ['--user-data-dir=' + profile, '--window-size=1200,900',
                                                '--screenshot=%s' % shot, 'file://%s' % quote(str(page))]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and shot.stat().st_size > 10000


def test_role_against_localhost_writes_every_report(tmp_path, listener_port):
    """The playbook netaudit.sockets.audit on this machine: the reports, and this test's listener in the matrix."""
    policy = tmp_path / 'policy.yml'
    policy.write_text(yaml.safe_dump({'port_audit_expected': ['tcp/%d@loopback' % listener_port],
                                      'port_audit_forbidden': ['tcp/%d@public' % listener_port],
                                      'port_audit_accept_incomplete': True}))
    reports = tmp_path / 'reports'
    proc = run_playbook('netaudit.sockets.audit', inventory='localhost,', extra=[
        '-c', 'local', '-e', 'audit_policy_file=%s' % policy, '-e', 'port_audit_report_dir=%s' % reports,
        '-e', json.dumps({'port_audit_report_formats': ['json', 'markdown', 'junit', 'html', 'text']})])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"localhost: compliant: 2 rules hold' in proc.stdout
    assert sorted(os.listdir(reports)) == ['port-audit.html', 'port-audit.json', 'port-audit.junit.xml', 'port-audit.md',
                                           'port-audit.txt']
    with open(reports / 'port-audit.json') as handle:
        verdicts = json.load(handle)['hosts']
    assert list(verdicts) == ['localhost'] and verdicts['localhost']['compliant']
    dom = DOM(render_in_chromium(reports / 'port-audit.html'))
    columns = check_matrix(dom, verdicts)
    assert 'tcp/%d' % listener_port in columns
    cell = dom.find('td', data_host='localhost', data_port='tcp/%d' % listener_port)[0]
    assert cell['attrs']['data-status'] == 'expected'
    assert '127.0.0.1:%d ' % listener_port in (reports / 'port-audit.txt').read_text()
    # That a second run rewrites no report is checked where nothing else can listen: test_port_audit_local.py, in
    # a namespace of its own (here the other test worker's sockets come and go in the facts).


def test_role_names_a_bad_rule_and_an_exception_without_end(tmp_path):
    for variables, message in (
            ({'port_audit_expected': ['tcp/80-70']}, 'port_audit: policy.expected[0]: "tcp/80-70": the range is reversed'),
            ({'port_audit_exceptions': ['tcp/23']}, 'port_audit_exceptions: each exception is a rule mapping with an end date')):
        policy = tmp_path / 'policy.yml'
        policy.write_text(yaml.safe_dump(variables))
        proc = run_playbook('netaudit.sockets.audit', inventory='localhost,', extra=[
            '-c', 'local', '-e', 'audit_policy_file=%s' % policy, '-e', 'port_audit_report_dir=%s' % tmp_path])
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stdout + proc.stderr
        assert 'Traceback' not in proc.stdout + proc.stderr


def test_audit_report_examples_run(tmp_path):
    proc = run_playbook(local_playbook(tmp_path / 'examples.yml', tasks=plugin_doc('filter/audit_report.yml', 'EXAMPLES')))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'failed=0' in proc.stdout and '"msg": "localhost: ' in proc.stdout


@pytest.mark.parametrize('kind, name, words', [
    ('filter', 'netaudit.sockets.audit_report', ['OPTIONS', 'EXAMPLES', 'RETURN VALUES', 'format', 'title']),
    ('role', 'netaudit.sockets.port_audit', ['port_audit_expected', 'port_audit_report_formats', 'port_audit_expected__']),
    ('module', 'netaudit.sockets.port_verdict', ['OPTIONS', 'EXAMPLES', 'RETURN VALUES', 'policy', 'exceptions', 'gather']),
    ('module', 'netaudit.sockets.port_reports', ['OPTIONS', 'EXAMPLES', 'RETURN VALUES', 'verdicts', 'formats', 'dest']),
])
def test_ansible_doc_renders(kind, name, words):
    page = ansible_doc(kind, name)
    for word in words:
        assert word in page, word


def test_tools_audit_prints_the_sockets_the_verdict_and_the_reports(listener_port):
    """README command 1 on this machine, with the example policy."""
    proc = subprocess.run([os.path.join(REPO, 'tools', 'audit')], capture_output=True, text=True, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    lines = proc.stdout.splitlines()
    header = lines.index('Listening sockets:') + 1
    assert lines[header].split() == ['proto', 'bind', 'exposure', 'stack', 'process', 'user', 'status']
    mine = [line.split() for line in lines if '127.0.0.1:%d ' % listener_port in line + ' ']
    assert mine and mine[0][:3] == ['tcp', '127.0.0.1:%d' % listener_port, 'loopback'] and mine[0][-1] == 'allowed', lines
    assert any(line.startswith('  ok       forbidden[1] "telnet" (tcp/23)') for line in lines), output
    reports = dict(line.split(None, 1) for line in lines[lines.index('Reports:') + 1:] if line.startswith('  '))
    assert sorted(reports) == ['HTML', 'JSON', 'JUnit', 'Log', 'Markdown']
    assert all(os.path.isfile(path) for path in reports.values())
    assert 'Verdict: 1 host(s): ' in proc.stderr
