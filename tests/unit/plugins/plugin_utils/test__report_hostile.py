# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_report with a hostile host: process, user, interface and namespace names chosen to break each format (terminal
escapes, carriage returns, pipes, Markdown links and images, HTML, invalid UTF-8), judged by the real policy code.

The oracles are independent of the code under test: a real Markdown parser (markdown-it-py, CommonMark with GFM
tables), Python's HTML and XML parsers, the JUnit schema (xmllint), strict UTF-8 encoding, and the same report of a
benign twin of the fleet (the hostile strings replaced by plain words) for the structure every format must keep."""

import copy
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest

from markdown_it import MarkdownIt

from ansible_collections.netaudit.sockets.plugins.filter.audit_report import FilterModule
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit


HERE = os.path.dirname(os.path.abspath(__file__))
JUNIT_XSD = os.path.join(HERE, '..', '..', '..', 'junit-10.xsd')
NO_XMLLINT = 'xmllint is missing: apt-get install libxml2-utils (tools/setup --tests installs it)'
NOW = '2026-01-01'
# What a local user of a managed host can name a process (prctl PR_SET_NAME), a user, an interface or a namespace.
HOSTILE = [
    '\x1b[2J\x1b[8m',                    # clear the screen, then hide what follows
    '\x1b]0;title\x07',                  # set the terminal's title
    'ok\rnc',                            # carriage return: overwrite the start of the line
    'a|b|c',                             # Markdown table cells
    '<script>alert(1)</script>',
    '![](//x/a)',                        # a remote image in a Markdown viewer
    '<img src=//x/b onerror=alert(2)>',
    '[click](//x/c)',
    '<http://x/d>',                      # a CommonMark autolink
    '`code` *em* _u_ ~~s~~ # h',
    'line\nbreak',
    '\x9b31m\x85\x7f',                   # C1 CSI, NEL, DEL
    '\u202eevil\u2028',                  # right-to-left override, line separator
    'bad\udcff\udcfeutf8',               # invalid UTF-8 as Python's surrogate escapes
    'bad\\xffutf8',                      # invalid UTF-8 as the host side sends it now: backslash text
    '"quoted" & \'single\'',
]
# Raw control characters a terminal acts on, and what breaks a line or its direction (the line feed is the reports' own).
UNSAFE = re.compile('[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]')


def record(port, name, user, interface=None, netns=None, address='0.0.0.0', family='inet', unit=None, container=None):
    return {'unit': unit, 'container': container, 'package': None, 'origin_unknown': {}, 'netid': 'tcp', 'state': 'LISTEN',
            'family': family, 'local_address': address, 'local_port': port,
            'peer_address': '0.0.0.0' if family == 'inet' else '::', 'peer_port': 0, 'interface': interface,
            'v6only': None if family == 'inet' else True, 'recv_q': 0, 'send_q': 128, 'inode': 5000 + port, 'uid': 1000,
            'user': user, 'processes': [{'name': name, 'pid': 100 + port, 'fd': 3}], 'netns': netns}


def fleet(strings):
    """Two hosts: `evil` whose every string field is one of `strings`, and `good`; judged by the real policy code."""
    evil = []
    for index, text in enumerate(strings):
        port = 2000 + index
        # the origin fields hostile too: a container (runtime, name) on one socket, a unit and its service on the other
        evil.append(record(port, text, text, netns=text, container={
            'runtime': text, 'id': 'f' * 64, 'name': text, 'pod': None, 'namespace': None, 'container': None}))
        evil.append(record(port + 100, text, 'root', interface=text, address='fe80::1', family='inet6',
                           unit={'name': text + '.service', 'manager': 'system', 'uid': None, 'service': text}))
    policy = {'expected': ['tcp/22'], 'forbidden': [{'port': '2000-2099', 'name': 'hostile range'}], 'closed_world': True}
    meta = {'complete': False, 'incomplete_reasons': ['cannot read /proc/1/fd of %s' % strings[0]]}
    return {
        'evil|<b>host</b>': port_audit(evil, policy, now=NOW, socket_meta=meta),
        'good': port_audit([record(22, 'sshd', 'root')], {'expected': ['tcp/22']}, now=NOW),
        'down': None,
    }


def benign(index):
    return 'plain%d' % index


@pytest.fixture(scope='module')
def hostile():
    return fleet(HOSTILE)


@pytest.fixture(scope='module')
def twin():
    return fleet([benign(index) for index in range(len(HOSTILE))])


def rendered(verdicts, report_format):
    text = render(verdicts, report_format, title='Audit')
    text.encode('utf-8')              # strict: a lone surrogate ('surrogates not allowed') fails here
    return text


@pytest.mark.parametrize('report_format', report_common.FORMATS)
def test_every_format_is_written_and_encodable(hostile, report_format):
    text = rendered(hostile, report_format)
    assert 'evil' in text and 'good' in text
    assert not re.search('[\ud800-\udfff]', text)


# --- text, summary and what Ansible shows ----------------------------------------------------------------------

@pytest.mark.parametrize('report_format', ['text', 'summary'])
def test_text_has_no_raw_control_character_and_shows_each_escaped(hostile, report_format):
    text = rendered(hostile, report_format)
    assert not UNSAFE.findall(text), sorted(set(UNSAFE.findall(text)))
    if report_format == 'text':
        for shown in ('\\x1b[2J\\x1b[8m (\\x1b[2J\\x1b[8m ', '\\x1b[2J\\x1b[8m.service for \\x1b[2J\\x1b[8m (', '\\x1b]0;title\\x07',
                      'ok\\x0dnc', 'line\\x0abreak', '\\x9b31m\\x85\\x7f',
                      '\\u202eevil\\u2028', 'bad\\xff\\xfeutf8', 'bad\\xffutf8', '<script>alert(1)</script>'):
            assert shown in text, shown


@pytest.mark.parametrize('report_format', ['text', 'summary'])
def test_text_has_the_lines_of_the_benign_twin(hostile, twin, report_format):
    lines, twin_lines = rendered(hostile, report_format).splitlines(), rendered(twin, report_format).splitlines()
    assert len(lines) == len(twin_lines)
    assert [line[:6] for line in lines] == [line[:6] for line in twin_lines]


def test_lines_ansible_shows_are_safe(hostile):
    hosts = report_common.hosts_of(hostile)
    lines = report_common.display_lines(hosts, 'Audit \x1b[2J') + render(hostile, 'summary', violations=True).splitlines()
    assert not [line for line in lines if UNSAFE.search(line)]
    assert lines[0] == 'Audit \\x1b[2J: 3 hosts: 1 compliant, 1 NOT compliant, 1 without a verdict'
    violations = hostile['evil|<b>host</b>']['violations']
    summary = render(hostile, 'summary', violations=True).splitlines()
    assert len(summary) == 3 + len(violations)
    assert summary[2] == '  expected[0] (tcp/22): nothing is listening'
    assert summary[3].startswith('  forbidden[0] "hostile range" (2000-2099) is forbidden, but listening: tcp 0.0.0.0:2000 '
                                 'in netns \\x1b[2J\\x1b[8m (\\x1b[2J\\x1b[8m pid 2100, user \\x1b[2J\\x1b[8m); '), summary[3]


def test_the_filter_passes_violations_through():
    audit_report = FilterModule().filters()['audit_report']
    verdicts = fleet(['\x1b[8m'])
    assert audit_report(verdicts, 'summary', violations=True).splitlines()[3].startswith('  forbidden[0] ')
    assert len(audit_report(verdicts, 'summary').splitlines()) == 3


def test_bad_input_messages_show_host_names_escaped():
    with pytest.raises(report_common.ReportError) as caught:
        render({'x\x1b[2J': 'compliant'}, 'summary')
    assert 'verdicts[x\\x1b[2J]' in str(caught.value) and '\x1b' not in str(caught.value)
    with pytest.raises(report_common.ReportError) as caught:
        render({}, 'pdf\x1b[8m')
    assert '\x1b' not in str(caught.value)


# --- unknown owners --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('why, short, long', [
    ('not_visible', '? (not visible)', 'owner unknown: not visible to the module'),
    ('exited', '? (exited)', 'owner unknown: the owner exited or changed pid while the module looked'),
    ('kernel', '? (kernel)', 'owner unknown: held by the kernel, no process'),
])
def test_an_unknown_owner_says_why_in_every_format(why, short, long):
    """A listener whose owner is unknown, judged by the real policy code against a rule that needs its owner."""
    hidden = dict(record(23, 'x', 'root'), processes=[], owner_unknown=why)
    verdict = port_audit([hidden], {'forbidden': [{'port': 23, 'process': 'nc'}]}, now=NOW)
    verdicts = {'h': verdict}
    described = 'tcp 0.0.0.0:23 (%s, user root)' % long
    assert report_common.describe_socket(verdict['sockets'][0]) == described
    text = rendered(verdicts, 'text').splitlines()
    [row] = [line for line in text if line.startswith('  tcp ')]
    assert row.split()[:2] == ['tcp', '0.0.0.0:23'] and '  %s  ' % short in row, row
    assert '  unknown  %s: cannot be judged by forbidden[0]' % described in text
    assert text[2].endswith(', 1 listening socket, 1 with an unknown owner ==')
    markdown = rendered(verdicts, 'markdown')
    assert '| %s |' % short.replace('(', '\\(').replace(')', '\\)') in markdown
    assert '### Sockets whose owner is unknown' in markdown
    page = MarkdownIt('commonmark').enable('table').render(markdown)
    assert '<li>%s: cannot be judged by forbidden[0]</li>' % described in page
    assert '<li>%s: cannot be judged by forbidden[0]</li>' % described in rendered(verdicts, 'html')
    root = ET.fromstring(rendered(verdicts, 'junit').encode('utf-8'))
    [failure] = [case.find('failure') for case in root.iter('testcase') if case.find('failure') is not None]
    assert described in failure.text


# --- Markdown, through a real parser ---------------------------------------------------------------------------

def markdown_tokens(text):
    return MarkdownIt('commonmark').enable(['table', 'strikethrough']).parse(text)


def tables(tokens):
    """Each table as its rows, each row as its cells' inline text."""
    found, row = [], None
    for index, token in enumerate(tokens):
        if token.type == 'table_open':
            found.append([])
        elif token.type == 'tr_open':
            row = []
            found[-1].append(row)
        elif token.type in ('th_open', 'td_open'):
            row.append(tokens[index + 1].content)
    return found


def inline_children(tokens):
    return [child for token in tokens if token.type == 'inline' for child in token.children or ()]


def test_markdown_tables_keep_their_cells_and_host_data_no_syntax(hostile, twin):
    text = rendered(hostile, 'markdown')
    tokens = markdown_tokens(text)
    twin_tokens = markdown_tokens(rendered(twin, 'markdown'))
    found = tables(tokens)
    assert [len(table) for table in found] == [len(table) for table in tables(twin_tokens)]
    for table in found:
        assert all(len(row) == len(table[0]) for row in table), table
    # the same blocks as the benign twin's report: no heading, list, quote or code block came from host data
    assert [t.type for t in tokens] == [t.type for t in twin_tokens]
    children = inline_children(tokens)
    assert not [c for c in children if c.type == 'image']
    links = [c.attrs.get('href') for c in children if c.type == 'link_open']
    assert links == ['#host-evil--b-host--b-', '#host-good'], links
    assert not [c for c in children if c.type in ('code_inline', 'em_open', 's_open', 'html_block')]
    # the only raw HTML is the report's own anchors, one per host
    raw = [c.content for c in children if c.type == 'html_inline'] + [t.content for t in tokens if t.type == 'html_block']
    assert sorted(raw) == sorted(['<a id="host-down">', '<a id="host-evil--b-host--b-">', '<a id="host-good">']
                                 + ['</a>'] * 3), raw
    assert [c.type for c in children].count('strong_open') == 1          # **NOT compliant** of the evil host
    page = MarkdownIt('commonmark').enable(['table', 'strikethrough']).render(text)
    assert '<img' not in page and '<script' not in page and '<code>' not in page
    # the hostile strings are there, as text
    assert 'alert(1)' in page and '![](//x/a)' in page and '\\x1b[2J\\x1b[8m' in page


# --- HTML: the element structure of the benign twin ------------------------------------------------------------

class Tags(HTMLParser):
    def __init__(self, text):
        super(Tags, self).__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, sorted(name for name, _value in attrs)))


def test_html_has_the_elements_of_the_benign_twin(hostile, twin):
    text = rendered(hostile, 'html')
    tags = Tags(text).tags
    assert tags == Tags(rendered(twin, 'html')).tags
    assert [tag for tag, _attrs in tags].count('script') == 1 and 'img' not in [tag for tag, _attrs in tags]
    assert not UNSAFE.findall(text)


# --- JUnit -----------------------------------------------------------------------------------------------------

def test_junit_parses_with_the_cases_of_the_benign_twin(hostile, twin):
    root = ET.fromstring(rendered(hostile, 'junit').encode('utf-8'))
    twin_root = ET.fromstring(rendered(twin, 'junit').encode('utf-8'))
    assert [(e.tag, e.get('type')) for e in root.iter()] == [(e.tag, e.get('type')) for e in twin_root.iter()]
    strings = [value for element in root.iter() for value in list(element.attrib.values()) + [element.text or '']]
    assert not [value for value in strings if UNSAFE.search(value)]
    assert any('\\x1b[2J\\x1b[8m' in value for value in strings)


@pytest.mark.skipif(not shutil.which('xmllint'), reason=NO_XMLLINT)
def test_junit_of_a_hostile_host_validates(hostile, tmp_path):
    path = tmp_path / 'hostile.junit.xml'
    path.write_text(rendered(hostile, 'junit'), encoding='utf-8')
    proc = subprocess.run(['xmllint', '--noout', '--schema', JUNIT_XSD, str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


# --- JSON ------------------------------------------------------------------------------------------------------

def test_json_keeps_the_data_with_invalid_utf8_as_backslash_text(hostile):
    document = json.loads(rendered(hostile, 'json'))
    names = [entry['processes'][0] for entry in document['hosts']['evil|<b>host</b>']['sockets']]
    expected = [text.replace('\udcff', '\\xff').replace('\udcfe', '\\xfe') for text in HOSTILE for _twice in (1, 2)]
    assert sorted(names) == sorted(expected)
    same = copy.deepcopy(hostile)
    del same['evil|<b>host</b>']
    assert json.loads(rendered(same, 'json'))['hosts'] == same
