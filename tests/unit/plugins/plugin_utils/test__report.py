# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_report: the fleet reports, from the verdicts in fixtures/report/verdicts.json (made by make_verdicts.py)."""

import copy
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.netaudit.sockets.plugins.filter.audit_report import FilterModule
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.html import matrix
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from support.chromium import DOM

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, 'fixtures', 'report', 'verdicts.json')
JUNIT_XSD = os.path.join(HERE, '..', '..', '..', 'junit-10.xsd')


@pytest.fixture
def verdicts():
    with open(FIXTURE) as handle:
        return json.load(handle)


# --- input ------------------------------------------------------------------------------------------------------

def test_hosts_in_natural_order_with_the_hosts_without_a_verdict(verdicts):
    verdicts.update({'h2': False, 'h9': {'error': 'unreachable: ssh timed out'}})
    hosts = report_common.hosts_of(verdicts)
    assert [host.name for host in hosts] == ['db1', 'h2', 'h9', 'h10', 'web1', 'web2']
    assert [host.state for host in hosts] == ['non_compliant', 'no_verdict', 'no_verdict', 'no_verdict', 'compliant',
                                              'non_compliant']
    assert hosts[2].error == 'no verdict: unreachable: ssh timed out'
    assert hosts[3].error == report_common.NO_VERDICT


@pytest.mark.parametrize('value, message', [
    (['web1'], 'verdicts: expected a mapping of host names to port_audit verdicts, got list'),
    ({'web1': 'compliant'}, 'verdicts[web1]: expected a port_audit verdict (a dict), or null for a host without one; got str'),
    ({'web1': {'compliant': True}}, 'verdicts[web1]: not a port_audit verdict: no "violations", "rules", "sockets", "summary"'),
])
def test_bad_input_names_the_host(value, message):
    with pytest.raises(report_common.ReportError) as caught:
        render(value, 'json')
    assert str(caught.value).startswith(message)


def test_bad_format_and_title(verdicts):
    with pytest.raises(report_common.ReportError, match=r'format: expected one of json, markdown, junit, html, text, summary, got "xml"'):
        render(verdicts, 'xml')
    with pytest.raises(report_common.ReportError, match='title: expected a string, got int'):
        render(verdicts, 'json', title=3)


def test_the_filter_wraps_errors():
    audit_report = FilterModule().filters()['audit_report']
    assert audit_report({}, 'summary') == '\n'
    with pytest.raises(AnsibleFilterError, match=r'^audit_report: format: expected one of'):
        audit_report({}, 'pdf')


# --- one line per host ------------------------------------------------------------------------------------------

def test_summary_lines(verdicts):
    assert render(verdicts, 'summary').splitlines() == [
        'db1: NOT compliant: 1 violation (incomplete facts), 4 listening sockets, 1 expired exception',
        'h10: no verdict: the host failed or was unreachable before its audit',
        'web1: compliant: 5 rules hold, 4 listening sockets',
        'web2: NOT compliant: 5 violations (1 missing, 2 forbidden, 2 unexpected), 5 listening sockets',
    ]


def test_summary_of_an_empty_policy_says_nothing_was_checked(verdicts):
    verdict = copy.deepcopy(verdicts['web1'])
    verdict.update(rules=[], closed_world=False, summary=dict(verdict['summary'], rules=0))
    assert render({'x': verdict}, 'summary') == (
        'x: compliant: 0 rules hold, 4 listening sockets (the policy is empty: nothing was checked)\n')


@pytest.mark.parametrize('entry, owners, description', [
    ({'processes': ['sshd'], 'pids': [712], 'user': 'root', 'uid': 0, 'proto': 'tcp', 'endpoint': '0.0.0.0:22'},
     'sshd[712]', 'tcp 0.0.0.0:22 (sshd pid 712, user root)'),
    ({'processes': ['nginx'], 'pids': [900, 901], 'user': None, 'uid': 33, 'proto': 'tcp', 'endpoint': '[::]:443',
      'netns': 'web'}, 'nginx[900,901]', 'tcp [::]:443 in netns web (nginx pid 900,901, user 33)'),
    ({'processes': [], 'pids': [], 'user': None, 'uid': None, 'proto': 'udp', 'endpoint': '127.0.0.1:53'},
     '-', 'udp 127.0.0.1:53 (owner unknown)'),
])
def test_sockets_as_text(entry, owners, description):
    assert report_common.owners_text(entry) == owners
    assert report_common.describe_socket(entry) == description


# --- text -------------------------------------------------------------------------------------------------------

def test_text_has_the_socket_table_and_each_rule(verdicts):
    text = render(verdicts, 'text', title='Nightly')
    lines = text.splitlines()
    assert lines[0] == 'Nightly: 4 hosts: 1 compliant, 2 NOT compliant, 1 without a verdict'
    web1 = lines[lines.index('== web1: compliant: 5 rules hold, 4 listening sockets ==') + 1:]
    assert web1[0] == 'Listening sockets:'
    assert web1[1].split() == ['proto', 'bind', 'exposure', 'stack', 'process', 'user', 'status']
    assert web1[2].split() == ['tcp', '0.0.0.0:22', 'all', 'interfaces', 'v4', 'sshd[712]', 'root', 'expected']
    assert web1[3].split() == ['tcp', '[::]:443', 'all', 'interfaces', 'dual', 'stack', 'nginx[900,901]', 'www-data', 'expected']
    assert web1[5].split() == ['tcp', '127.0.0.53%lo:53', 'loopback', 'v4', 'systemd-resolve[400]', 'systemd-resolve', 'allowed']
    # the netns column appears only for a host with sockets in other namespaces
    assert 'netns' not in web1[1] and lines[lines.index('Listening sockets:', 0) + 1].split()[-1] == 'netns'
    assert '  FAIL     forbidden[0] (tcp/23) is forbidden, but listening: tcp 0.0.0.0:23 (inetd pid 812, user root)' in lines
    assert '  FAIL     unexpected (closed world): tcp [::]:8080 (py<thon>&"x pid 999, user 1000)' in lines
    assert '  expired  allowed[0] (9187 process=postgres_exporter) expired on 2025-01-31 and no longer applies; it would ' \
           'match tcp 127.0.0.1:9187 (postgres_exporter pid 1300, user prometheus) [reason: CHG-77]' in lines
    assert "  FAIL     incomplete facts: not root: the owners of other users' sockets are hidden" in lines
    assert '    tcp    10.0.0.5:5432   local network   v4     -                        postgres    expected  -'.strip() in text


# --- JSON -------------------------------------------------------------------------------------------------------

def test_json_holds_the_full_verdicts(verdicts):
    document = json.loads(render(verdicts, 'json'))
    assert document['report'] == 'netaudit.sockets.port_audit' and document['version'] == 1
    assert document['hosts'] == verdicts
    assert list(document['hosts']) == ['db1', 'h10', 'web1', 'web2']
    assert document['summary'] == {'hosts': 4, 'compliant': 1, 'non_compliant': 2, 'no_verdict': 1, 'violations': 6}
    assert document['errors'] == {'h10': report_common.NO_VERDICT}


# --- Markdown ---------------------------------------------------------------------------------------------------

def test_markdown_summary_table_and_details(verdicts):
    text = render(verdicts, 'markdown')
    lines = text.splitlines()
    assert lines[0] == '# Port audit'
    assert '| [web2](#host-web2) | **NOT compliant** | 5 | 5 | 1 | 2 | 2 | 0 | yes |' in lines
    assert '| [web1](#host-web1) | compliant | 4 | 5 | 0 | 0 | 0 | 0 | yes |' in lines
    assert '| [db1](#host-db1) | **NOT compliant** | 4 | 5 | 0 | 0 | 0 | 1 | no |' in lines
    assert '| h10 | no verdict | - | - | - | - | - | - | - |' in lines
    assert '## web2: NOT compliant' in lines and '<a id="host-web2"></a>' in lines
    # host data and the messages that quote it are Markdown-escaped (_hoststr.markdown): literal text once rendered
    assert ('- forbidden\\[0\\] \\(tcp/23\\) is forbidden, but listening: tcp 0.0.0.0:23 \\(inetd pid 812, user root\\)'
            in lines)
    # cells are escaped: a pipe would split them, a tag would vanish
    assert '| tcp | \\[::\\]:8080 | all interfaces | v6 | py\\<thon\\>\\&"x\\[999\\] | 1000 | unexpected |' in lines
    weird = copy.deepcopy(verdicts['web1'])
    weird['rules'][0]['message'] = 'a | b'
    assert '| expected\\[0\\] tcp/22 | ok | a \\| b |' in render({'w': weird}, 'markdown')


# --- JUnit ------------------------------------------------------------------------------------------------------

def junit_cases(root):
    return dict((suite.get('name'), dict((case.get('name'), case) for case in suite.findall('testcase')))
                for suite in root.findall('testsuite'))


def test_junit_one_case_per_host_and_rule(verdicts):
    root = ET.fromstring(render(verdicts, 'junit', title='CI').encode())
    assert (root.tag, root.get('name'), root.get('tests'), root.get('failures'), root.get('errors')) == (
        'testsuites', 'CI', '21', '5', '1')
    suites = dict((suite.get('name'), suite) for suite in root.findall('testsuite'))
    assert [(name, s.get('tests'), s.get('failures'), s.get('errors'), s.get('skipped')) for name, s in suites.items()] == [
        ('db1', '6', '1', '0', '1'), ('h10', '1', '0', '1', '0'), ('web1', '7', '0', '0', '0'), ('web2', '7', '4', '0', '0')]
    cases = junit_cases(root)
    assert list(cases['web1']) == ['expected[0] tcp/22', 'expected[1] https (tcp/443@public)',
                                   'allowed[0] local resolver (53@loopback)', 'forbidden[0] tcp/23',
                                   'forbidden[1] no public databases (5432-5433@public)', 'closed world', 'complete facts']
    assert all(len(case) == 0 for case in cases['web1'].values())
    assert cases['web1']['closed world'].get('classname') == 'port_audit.web1'

    missing = cases['web2']['expected[1] https (tcp/443@public)'].find('failure')
    assert missing.get('type') == 'missing'
    assert missing.get('message') == 'expected[1] "https" (tcp/443@public): nothing is listening'
    assert missing.text == ('nothing listening matches tcp/443@public\non that port, but not matching the rule:\n'
                            '  tcp 127.0.0.1:443 (nginx pid 820, user www-data)')
    forbidden = cases['web2']['forbidden[0] tcp/23'].find('failure')
    assert forbidden.get('type') == 'violated'
    assert forbidden.text == 'listening, and forbidden:\n  tcp 0.0.0.0:23 (inetd pid 812, user root)'
    closed = cases['web2']['closed world'].find('failure')
    assert closed.get('message') == '2 unexpected listening sockets'
    assert closed.text.splitlines()[1:] == ['  tcp 127.0.0.1:443 (nginx pid 820, user www-data)',
                                            '  tcp [::]:8080 (py<thon>&"x pid 999, user 1000)']
    assert cases['db1']['allowed[0] 9187 process=postgres_exporter'].find('skipped').get('type') == 'expired'
    assert cases['db1']['complete facts'].find('failure').get('type') == 'incomplete'
    assert cases['h10']['audit'].find('error').get('message') == report_common.NO_VERDICT
    properties = dict((p.get('name'), p.get('value')) for p in suites['web2'].find('properties'))
    assert properties == {'compliant': 'false', 'closed_world': 'true', 'accept_incomplete': 'false',
                          'incomplete': 'false', 'date': '2025-06-30'}


def test_junit_cleans_characters_xml_cannot_hold(verdicts):
    verdict = copy.deepcopy(verdicts['web2'])
    verdict['rules'][3]['message'] = 'bell \x07 and\nnewline'
    root = ET.fromstring(render({'x': verdict}, 'junit').encode())
    failure = junit_cases(root)['x']['forbidden[0] tcp/23'].find('failure')
    # control characters from host data are shown, escaped visibly (_hoststr.xml), never dropped or passed on raw
    assert failure.get('message') == 'bell \\x07 and\\x0anewline'


NO_XMLLINT = 'xmllint is missing: apt-get install libxml2-utils (tools/setup --tests installs it)'


@pytest.mark.skipif(not shutil.which('xmllint'), reason=NO_XMLLINT)
def test_junit_validates_against_the_jenkins_schema(verdicts, tmp_path):
    path = tmp_path / 'report.junit.xml'
    for sample in (verdicts, {}, {'only': None}):
        path.write_text(render(sample, 'junit'))
        proc = subprocess.run(['xmllint', '--noout', '--schema', JUNIT_XSD, str(path)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr


# --- HTML -------------------------------------------------------------------------------------------------------

def parse(text):
    """Every element of the page, in order, with its attributes and text."""
    return DOM(text).elements


def test_matrix_cells_take_the_worst_status(verdicts):
    hosts = report_common.hosts_of(verdicts)
    ports, cells, others = matrix(hosts)
    assert ports == [('tcp', 22), ('tcp', 23), ('tcp', 53), ('tcp', 443), ('tcp', 5432), ('tcp', 8080), ('tcp', 8443),
                     ('tcp', 9187), ('udp', 53)]
    assert cells['web2'][('tcp', 443)][0] == 'missing'       # nginx on loopback (unexpected) and https missing
    assert cells['web2'][('tcp', 23)] == ('forbidden', ['forbidden: tcp 0.0.0.0:23 (inetd pid 812, user root) [forbidden[0]]'])
    assert cells['web1'][('tcp', 443)][0] == 'expected'
    assert cells['db1'][('tcp', 9187)][0] == 'unlisted'
    assert ('tcp', 23) not in cells['web1']
    assert others == {'db1': ["incomplete facts: not root: the owners of other users' sockets are hidden"]}


def test_html_is_self_contained_with_every_host_and_port(verdicts):
    text = render(verdicts, 'html', title='Fleet <ports>')
    tags = parse(text)
    assert not [t for t in tags if t['tag'] in ('link', 'img', 'iframe') or 'src' in t['attrs']]
    assert 'http://' not in text and 'https://' not in text
    assert [t['text'] for t in tags if t['tag'] == 'title'] == ['Fleet <ports>']
    columns = [t['attrs']['data-port'] for t in tags if t['tag'] == 'th' and 'data-port' in t['attrs']]
    assert columns == ['tcp/22', 'tcp/23', 'tcp/53', 'tcp/443', 'tcp/5432', 'tcp/8080', 'tcp/8443', 'tcp/9187', 'udp/53']
    rows = [(t['attrs']['data-host'], t['attrs']['data-state']) for t in tags if t['tag'] == 'tr' and 'data-host' in t['attrs']]
    assert rows == [('db1', 'non_compliant'), ('h10', 'no_verdict'), ('web1', 'compliant'), ('web2', 'non_compliant')]
    cells = dict(((t['attrs']['data-host'], t['attrs']['data-port']), t) for t in tags
                 if t['tag'] == 'td' and 'data-port' in t['attrs'])
    for host in ('db1', 'web1', 'web2'):
        assert all((host, port) in cells for port in columns)
    assert not [key for key in cells if key[0] == 'h10']
    cell = cells[('web2', 'tcp/8080')]
    assert cell['attrs']['class'] == 'cell st-unexpected' and cell['text'] == 'unexpected'
    assert cell['attrs']['title'] == 'unexpected: tcp [::]:8080 (py<thon>&"x pid 999, user 1000)'
    assert cells[('web2', 'tcp/443')]['attrs']['title'].splitlines() == [
        'unexpected: tcp 127.0.0.1:443 (nginx pid 820, user www-data)',
        'missing: expected[1] "https" (tcp/443@public): nothing is listening']
    assert cells[('web1', 'tcp/23')]['attrs']['class'] == 'cell st-none' and 'title' not in cells[('web1', 'tcp/23')]['attrs']
    assert cells[('db1', 'other')]['text'] == '1 issue'
    # the escaped process name never opens a tag
    assert '<thon>' not in text and 'py&lt;thon&gt;&amp;&quot;x' in text
    sections = [t['attrs']['id'] for t in tags if t['tag'] == 'section']
    assert sections == ['host-db1', 'host-h10', 'host-web1', 'host-web2']


def test_html_of_an_empty_fleet():
    tags = parse(render({}, 'html'))
    assert [t for t in tags if t['tag'] == 'table' and t['attrs'].get('id') == 'matrix']
    assert not [t for t in tags if t['tag'] == 'tr' and 'data-host' in t['attrs']]
