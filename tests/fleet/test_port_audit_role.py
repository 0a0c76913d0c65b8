# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role netaudit.sockets.port_audit through the playbook netaudit.sockets.audit, against a 5-host namespace fleet.

A policy per inventory group (rules added by prefix, port_audit_expected__web ...), listeners on known ports on some
hosts: each host's verdict, which hosts port_audit_fail fails (the play recap), and the JSON, JUnit (validated against
tests/junit-10.xsd, Jenkins xUnit's schema) and Markdown reports, which must agree with the verdicts.
"""

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from markdown_it import MarkdownIt

from support.chromium import DOM, check_matrix, render_in_chromium
from support.fleet_listener import start_listener
from support.natest import REPO, ansible_env, run_playbook

JUNIT_XSD = os.path.join(REPO, 'tests', 'junit-10.xsd')

# The facts of this kind of machine can be incomplete whatever the test does (a process of the machinery whose file
# descriptors even root cannot read); the policies accept that, so the verdicts depend on the listeners only.
GROUPS = {
    'h1': ['fleet', 'web'], 'h2': ['fleet', 'web'],
    'h3': ['fleet', 'db'], 'h4': ['fleet', 'db'],
    'h5': ['fleet', 'bastion'],
}
GROUPVARS = {
    'fleet': {'port_audit_expected': ['tcp/22'], 'port_audit_accept_incomplete': True},
    'web': {'port_audit_expected__web': [{'name': 'app', 'proto': 'tcp', 'port': 8080}], 'port_audit_closed_world': True},
    'db': {'port_audit_forbidden__db': [{'name': 'no public postgres', 'port': 5432, 'bind': 'public'}],
           'port_audit_allowed__db': ['tcp/5432@loopback']},
    'bastion': {'port_audit_forbidden__bastion': ['tcp/23'],
                'port_audit_exceptions__bastion': [{'proto': 'tcp', 'port': 23, 'until': '2099-12-31', 'reason': 'CHG-1'}]},
}
# host -> listeners started in it; and the verdict each host must get.
LISTENERS = {
    'h1': [('tcp', '0.0.0.0', 8080)],                       # web, the app is up: compliant
    'h2': [('udp', '0.0.0.0', 5353)],                       # web, no app, and a stray socket (closed world): not
    'h3': [('tcp', '::', 5432)],                            # db, postgres on every interface (dual stack): not
    'h4': [('tcp', '127.0.0.1', 5432)],                     # db, postgres on loopback: compliant
    'h5': [('tcp', '0.0.0.0', 23)],                         # bastion, telnet under a live exception: compliant
}
COMPLIANT = {'h1': True, 'h2': False, 'h3': False, 'h4': True, 'h5': True}
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def recap(stdout):
    return dict((m.group(1), {'ok': int(m.group(2)), 'unreachable': int(m.group(4)), 'failed': int(m.group(5))})
                for m in RECAP.finditer(stdout))


def audit(fleet, report_dir, *extra, env=None):
    args = ['-e', 'audit_hosts=all', '-e', 'port_audit_report_dir=%s' % report_dir,
            '-e', json.dumps({'port_audit_report_formats': ['json', 'markdown', 'junit', 'html', 'text']})]
    return run_playbook('netaudit.sockets.audit', inventory=fleet.inventory, extra=args + list(extra),
                        env=env or ansible_env(**fleet.env))


@pytest.fixture
def group_fleet(fleet_factory):
    fleet = fleet_factory(5, groups=GROUPS, groupvars=GROUPVARS)
    for host, listeners in LISTENERS.items():
        for proto, address, port in listeners:
            start_listener(fleet, host, proto, address, port)
    return fleet


def test_group_policies_verdicts_recap_and_reports(group_fleet, tmp_path):
    fleet = group_fleet
    proc = audit(fleet, tmp_path)
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output
    assert proc.returncode == 2, output          # 2: some hosts failed
    # port_audit_fail (true by default) fails exactly the hosts that are not compliant, after the reports.
    hosts = recap(proc.stdout)
    assert sorted(hosts) == ['h1', 'h2', 'h3', 'h4', 'h5'], proc.stdout
    assert dict((host, counts['failed'] == 0) for host, counts in hosts.items()) == COMPLIANT, proc.stdout
    assert all(counts['unreachable'] == 0 for counts in hosts.values())

    # One line of verdict per host (shown once, by the reports task); the failure message names the rule, the socket
    # and its process.
    assert '"Port audit: 5 hosts: 3 compliant, 2 NOT compliant",' in proc.stdout, proc.stdout
    for host, compliant in COMPLIANT.items():
        assert ('"%s: %s' % (host, 'compliant' if compliant else 'NOT compliant')) in proc.stdout, proc.stdout
    assert 'expected[1] \\"app\\" (tcp/8080): nothing is listening' in proc.stdout
    assert re.search(r'unexpected: udp 0\.0\.0\.0:5353 \(python[0-9.]* pid \d+, user root\)', proc.stdout), proc.stdout
    assert re.search(r'forbidden\[0\] \\"no public postgres\\" \(5432@public\) is forbidden, but listening: '
                     r'tcp \[::\]:5432 \(python[0-9.]* pid \d+, user root\)', proc.stdout), proc.stdout

    # JSON: the full verdicts, agreeing with the play.
    with open(tmp_path / 'port-audit.json') as handle:
        document = json.load(handle)
    verdicts = document['hosts']
    assert dict((host, verdict['compliant']) for host, verdict in verdicts.items()) == COMPLIANT
    assert document['summary'] == {'hosts': 5, 'compliant': 3, 'non_compliant': 2, 'no_verdict': 0,
                                   'violations': sum(len(v['violations']) for v in verdicts.values())}
    assert [r['id'] for r in verdicts['h2']['missing']] == ['expected[1]']
    assert [s['id'] for s in verdicts['h2']['unexpected']] == ['udp/5353@0.0.0.0']
    assert [(r['id'], [s['endpoint'] for s in r['sockets']]) for r in verdicts['h3']['forbidden']] == [
        ('forbidden[0]', ['[::]:5432'])]
    assert verdicts['h3']['forbidden'][0]['sockets'][0]['stack'] == 'dual'
    h5 = dict((s['port'], s) for s in verdicts['h5']['sockets'])
    assert h5[23]['status'] == 'allowed' and h5[23]['exception'] == 'allowed[0]'
    for host, verdict in verdicts.items():
        sshd = [s for s in verdict['sockets'] if s['port'] == 22]
        assert [(s['address'], s['processes'], s['status']) for s in sshd] == [(fleet.host(host).address, ['sshd'], 'expected')]

    check_junit(tmp_path / 'port-audit.junit.xml', verdicts)
    check_markdown(tmp_path / 'port-audit.md', verdicts)
    # HTML: the page as Chromium renders it, every host a row and every listening port of its verdict a cell.
    dom = DOM(render_in_chromium(tmp_path / 'port-audit.html', required=True))
    columns = check_matrix(dom, verdicts)
    assert sorted(h['attrs']['data-host'] for h in dom.find('tr') if 'data-host' in h['attrs']) == sorted(COMPLIANT)
    assert {'tcp/22', 'tcp/8080', 'udp/5353', 'tcp/5432', 'tcp/23'} <= set(columns)


def check_junit(path, verdicts):
    if shutil.which('xmllint'):
        proc = subprocess.run(['xmllint', '--noout', '--schema', JUNIT_XSD, str(path)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr
    else:
        pytest.fail('xmllint is missing (apt-get install libxml2-utils; tools/setup --tests installs it)')
    root = ET.parse(str(path)).getroot()
    assert root.tag == 'testsuites'
    suites = dict((suite.get('name'), suite) for suite in root.findall('testsuite'))
    assert sorted(suites) == sorted(verdicts)
    for host, verdict in verdicts.items():
        suite = suites[host]
        cases = suite.findall('testcase')
        # one test case per rule, then "closed world" (closed-world hosts) and "complete facts"
        names = [case.get('name') for case in cases]
        assert names[:len(verdict['rules'])] == [
            '%s %s' % (r['id'], r['text']) if r['name'] == r['text'] else '%s %s (%s)' % (r['id'], r['name'], r['text'])
            for r in verdict['rules']]
        assert names[len(verdict['rules']):] == (['closed world'] if verdict['closed_world'] else []) + ['complete facts']
        failed = [case for case in cases if case.find('failure') is not None]
        assert int(suite.get('failures')) == len(failed)
        assert int(suite.get('tests')) == len(cases)
        assert (not failed) == verdict['compliant'], host
    total = sum(int(suite.get('failures')) for suite in suites.values())
    assert int(root.get('failures')) == total
    h2 = dict((case.get('name'), case) for case in suites['h2'].findall('testcase'))
    assert h2['expected[1] app (tcp/8080)'].find('failure').get('type') == 'missing'
    assert re.search(r'udp 0\.0\.0\.0:5353 \(python[0-9.]* pid \d+', h2['closed world'].find('failure').text)
    h3 = dict((case.get('name'), case) for case in suites['h3'].findall('testcase'))
    failure = h3['forbidden[0] no public postgres (5432@public)'].find('failure')
    assert failure.get('type') == 'violated'
    assert re.search(r'tcp \[::\]:5432 \(python[0-9.]* pid \d+, user root\)', failure.text)


def check_markdown(path, verdicts):
    text = path.read_text()
    rows = dict((cells[0], cells) for cells in (
        [cell.strip() for cell in line.strip('|').split('|')] for line in text.splitlines() if line.startswith('| [')))
    assert sorted(rows) == sorted('[%s](#host-%s)' % (host, host) for host in verdicts)
    tokens = MarkdownIt('commonmark').enable('table').parse(text)
    items = set(''.join(child.content for child in token.children if child.type in ('text', 'code_inline'))
                for index, token in enumerate(tokens) if token.type == 'inline' and index >= 2
                and tokens[index - 2].type == 'list_item_open')
    for host, verdict in verdicts.items():
        cells = rows['[%s](#host-%s)' % (host, host)]
        assert cells[1] == ('compliant' if verdict['compliant'] else '**NOT compliant**')
        assert int(cells[2]) == verdict['summary']['listening']
        assert '## %s: %s' % (host, 'compliant' if verdict['compliant'] else 'NOT compliant') in text
        # Read as a Markdown viewer shows it (markdown-it-py): each violation is one list item's text, whatever the
        # report escaped to keep it literal.
        for violation in verdict['violations']:
            assert violation in items, (violation, items)


def test_report_only_and_waiting_for_a_service(fleet_factory, tmp_path):
    """port_audit_fail false only reports; port_audit_retries waits for a service that starts late."""
    fleet = fleet_factory(2, groups={'h1': ['web'], 'h2': ['web']}, groupvars={'web': {
        'port_audit_expected': ['tcp/22', 'tcp/8080'], 'port_audit_accept_incomplete': True}})
    start_listener(fleet, 'h1', 'tcp', '0.0.0.0', 8080, delay=4)
    proc = audit(fleet, tmp_path, '-e', 'port_audit_fail=false', '-e', 'port_audit_retries=6',
                 '-e', 'port_audit_delay=1', '-l', 'h1')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'FAILED - RETRYING' in proc.stdout and '"h1: compliant' in proc.stdout, proc.stdout

    proc = audit(fleet, tmp_path, '-e', 'port_audit_fail=false')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert dict((host, counts['failed']) for host, counts in recap(proc.stdout).items()) == {'h1': 0, 'h2': 0}
    assert '"h2: NOT compliant: 1 violation (1 missing)' in proc.stdout, proc.stdout
    with open(tmp_path / 'port-audit.json') as handle:
        summary = json.load(handle)['summary']
    assert (summary['compliant'], summary['non_compliant']) == (1, 1)


def test_facts_from_facts_modules_and_a_policy_file(fleet_factory, tmp_path):
    """The CI recipe: socket facts from gather_facts (FACTS_MODULES), port_audit_gather false, a policy file."""
    fleet = fleet_factory(2)
    start_listener(fleet, 'h2', 'tcp', '0.0.0.0', 23)
    policy = tmp_path / 'policy.yml'
    policy.write_text('port_audit_expected: [tcp/22]\nport_audit_forbidden: [tcp/23]\nport_audit_accept_incomplete: true\n')
    env = ansible_env(ANSIBLE_FACTS_MODULES='netaudit.sockets.socket_facts', **fleet.env)
    proc = audit(fleet, tmp_path / 'reports', '-e', 'audit_gather_facts=true', '-e', 'port_audit_gather=false',
                 '-e', 'audit_policy_file=%s' % policy, '-v', env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    # The role judged the facts that gather_facts brought, and gathered none itself.
    assert proc.stdout.count('"gathered": false') == 2 and '"gathered": true' not in proc.stdout, proc.stdout
    assert dict((host, counts['failed']) for host, counts in recap(proc.stdout).items()) == {'h1': 0, 'h2': 1}
    root = ET.parse(str(tmp_path / 'reports' / 'port-audit.junit.xml')).getroot()
    assert [(s.get('name'), s.get('failures')) for s in root.findall('testsuite')] == [('h1', '0'), ('h2', '1')]
