# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A hostile host in the namespace fleet: the audit playbook must neither be fooled nor broken by it.

h1 is hostile (tests/support/hostile.py): its sshd, and so the module, runs in a PID namespace of its own; listeners
held by processes named with ESC, OSC ... BEL, CR, ``|``, ``<script>``, ``![](//x/a)``, C1 and DEL, and bytes that are
not UTF-8; a listener of a user whose name is not UTF-8; a UDP socket bound to an interface whose name is not UTF-8;
a listening unix socket whose path has a newline followed by a forged /proc/net/unix record; a listener that changes
its pid every few milliseconds on a port forbidden to it; a listener held by a process outside the module's PID
namespace, on a port forbidden to every process. h2 and h3 are ordinary hosts under the same policy.

The oracles: the reports parsed by real parsers (JSON, xmllint with tests/junit-10.xsd, markdown-it-py, the DOM of
headless Chromium, compared with the report of a run without the hostile host), the raw bytes of everything the
controller printed and wrote, and the processes, names and sockets that the test itself made.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

from urllib.parse import quote

import pytest

from support import hostile
from support.chromium import DOM, check_matrix, render_in_chromium
from support.natest import REPO, VENV_BIN, ansible_env

JUNIT_XSD = os.path.join(REPO, 'tests', 'junit-10.xsd')
FORMATS = {'json': 'json', 'markdown': 'md', 'junit': 'junit.xml', 'html': 'html', 'text': 'txt'}
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
# Raw control characters: C0 but newline and tab, DEL, C1 (as characters of decoded UTF-8 text).
RAW_CONTROL = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f]')

GROUPS = {'h1': ['fleet'], 'h2': ['fleet'], 'h3': ['fleet']}
# The facts of this kind of machine are incomplete whatever the test does (a process of the machinery whose fds even
# root cannot read): accept_incomplete keeps that out of the verdicts, so that h1 must fail on its listeners alone.
GROUPVARS = {'fleet': {
    'port_audit_expected': ['tcp/22'],
    'port_audit_forbidden': [
        {'name': 'no pid hopper', 'port': hostile.PORT_HOPPER, 'process': 'hopper*'},
        {'name': 'nothing on %d' % hostile.PORT_UNSEEN, 'port': hostile.PORT_UNSEEN, 'process': '*'},
        {'name': 'hostile range', 'port': '%d-%d' % hostile.HOSTILE_RANGE},
    ],
    'port_audit_accept_incomplete': True,
}}
HOSTVARS = {'h1': {'port_audit_tables': ['tcp', 'udp', 'unix']}}
HOSTILE_PORTS = sorted([port for name, port in hostile.NAMED] + [hostile.PORT_USER, hostile.PORT_DEVICE])
HOSTILE_NAMES = [name for name, port in hostile.NAMED] + [hostile.NAME_OF_USER_LISTENER, hostile.NAME_OF_DEVICE_SOCKET]
# Every host string that the reports show in their socket tables.
HOST_STRINGS = HOSTILE_NAMES + [hostile.HOSTILE_USER, hostile.HOSTILE_DEVICE]
BUDGET = 90

pytestmark = pytest.mark.root


def as_json(raw):
    """A host string as the module must return it: UTF-8, invalid bytes as the four characters \\xNN."""
    return raw.decode('utf-8', 'backslashreplace')


def visible(raw):
    """A host string as text reports and terminals must show it: as_json, then C0, DEL and C1 as \\xNN."""
    return re.sub('[\x00-\x1f\x7f-\x9f]', lambda found: '\\x%02x' % ord(found.group(0)), as_json(raw))


def raw_controls(data, what):
    """A list of problems: bytes that are not UTF-8, and raw control characters, each with its context."""
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        return ['%s is not UTF-8: %s near %r' % (what, exc, data[max(0, exc.start - 60):exc.end + 20])]
    return ['%s has a raw control character %r: %r' % (what, found.group(0), text[max(0, found.start() - 60):found.end() + 20])
            for found in RAW_CONTROL.finditer(text)][:10]


def run(argv, env, timeout=120):
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def audit(fleet, report_dir, *extra):
    argv = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', fleet.inventory, 'netaudit.sockets.audit',
            '-e', 'audit_hosts=all', '-e', 'port_audit_report_dir=%s' % report_dir,
            '-e', json.dumps({'port_audit_report_formats': list(FORMATS)})] + list(extra)
    return run(argv, ansible_env(**fleet.env))


def recap(stdout):
    return dict((m.group(1), {'unreachable': int(m.group(4)), 'failed': int(m.group(5))})
                for m in RECAP.finditer(stdout))


def comparable(verdict):
    """A verdict without what changes between two runs of the same host (pids, inodes, dates, timings)."""
    volatile = {'pid', 'pids', 'inode', 'inodes', 'date', 'elapsed_ms', 'attempts', 'gathered_at'}

    def strip(value):
        if isinstance(value, dict):
            return dict((k, strip(v)) for k, v in value.items() if k not in volatile)
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str):
            return re.sub(r'pid \d+', 'pid N', value)
        return value
    return strip(verdict)


@pytest.fixture
def hostile_fleet(fleet_factory, tmp_path):
    fleet = fleet_factory(3, groups=GROUPS, groupvars=GROUPVARS, hostvars=HOSTVARS, pid_namespace=['h1'])
    workdir = tmp_path / 'hostile'
    workdir.mkdir()
    host = hostile.HostileHost(fleet, 'h1', workdir)
    try:
        host.start()
        yield fleet, host
    finally:
        host.stop()


def test_hostile_host_neither_fools_nor_breaks_the_audit(hostile_fleet, tmp_path):
    started = time.monotonic()
    fleet, host = hostile_fleet
    problems = []

    # The hostile host is what the test built: every listener there, seen by ss in the host's own network namespace,
    # with the uid and the device it should have; every process name, as the kernel has it.
    ss = fleet.run_in('h1', ['ss', '-Htanue'], text=False).stdout
    for port in HOSTILE_PORTS + [hostile.PORT_HOPPER, hostile.PORT_UNSEEN]:
        assert re.search(rb':%d\s' % port, ss), (port, ss)
    assert re.search(rb':%d .* uid:%d ' % (hostile.PORT_USER, hostile.HOSTILE_UID), ss), ss
    assert re.search(rb'%%%s:%d ' % (re.escape(hostile.HOSTILE_DEVICE), hostile.PORT_DEVICE), ss), ss
    comms = set()
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/comm' % entry, 'rb') as handle:
                    comms.add(handle.read()[:-1])
            except OSError:
                pass
    named = set(HOSTILE_NAMES + [hostile.NAME_OF_UNIX_HOLDER])
    assert named <= comms, 'processes missing: %r' % sorted(named - comms)

    # Runs without the hostile host first: the reference verdicts of h2 and h3; and reports of the same shape as the
    # hostile host's (a host with violations) made from trusted data only: what the HTML page may hold.
    clean_dir, reference_dir = tmp_path / 'clean', tmp_path / 'reference'
    code, out, err = audit(fleet, clean_dir, '-l', 'h2,h3')
    assert code == 0, (out + err).decode('utf-8', 'backslashreplace')
    with open(clean_dir / 'port-audit.json', 'rb') as handle:
        clean = json.load(handle)['hosts']
    code, out, err = audit(fleet, reference_dir, '-l', 'h2,h3', '-e', '{"port_audit_expected__reference": ["tcp/9"]}',
                           '-e', 'port_audit_fail=false')
    assert code == 0, (out + err).decode('utf-8', 'backslashreplace')

    # The report folder holds the reports of an earlier run: each must be replaced, none left stale.
    report_dir = tmp_path / 'reports'
    shutil.copytree(clean_dir, report_dir)
    code, out, err = audit(fleet, report_dir)
    shown = (out + err).decode('utf-8', 'backslashreplace')

    # 1. Nothing the controller printed has raw control characters or bytes that are not UTF-8.
    problems += raw_controls(out, 'ansible-playbook stdout') + raw_controls(err, 'ansible-playbook stderr')
    for marker in ('Traceback', 'surrogates not allowed', 'UnicodeEncodeError', 'UnicodeDecodeError'):
        if marker in shown:
            problems.append('the run printed %r: %s' % (marker, shown[shown.index(marker) - 500:][:1500]))

    # 2. Every format was written, and no written byte is a raw control character or invalid UTF-8.
    files = {}
    for report_format, extension in FORMATS.items():
        path = report_dir / ('port-audit.' + extension)
        if not path.is_file():
            problems.append('the %s report %s was not written (files: %s)' % (
                report_format, path.name, sorted(os.listdir(report_dir)) if report_dir.is_dir() else 'no folder'))
            continue
        data = path.read_bytes()
        if data == (clean_dir / path.name).read_bytes() or str(hostile.PORT_UNSEEN).encode() not in data:
            problems.append('the %s report %s is the stale one of the earlier run' % (report_format, path.name))
            continue
        problems += raw_controls(data, path.name)
        files[report_format] = data.decode('utf-8', 'backslashreplace')

    # 3. The verdicts: the play's recap, and the JSON report.
    hosts = recap(out.decode('utf-8', 'backslashreplace'))
    if code != 2 or sorted(hosts) != ['h1', 'h2', 'h3'] or \
            dict((name, counts['failed']) for name, counts in hosts.items()) != {'h1': 1, 'h2': 0, 'h3': 0} or \
            any(counts['unreachable'] for counts in hosts.values()):
        problems.append('expected exit 2 with only h1 failed, got exit %d, recap %r' % (code, hosts))
    verdicts = {}
    if 'json' in files:
        try:
            verdicts = json.loads(files['json'])['hosts']
        except ValueError as exc:
            problems.append('port-audit.json does not load: %s' % exc)
    if verdicts:
        problems += check_verdicts(verdicts, clean, fleet, host)
    if verdicts and 'text' in files:
        problems += check_text(files['text'], verdicts)
    if verdicts and 'junit' in files:
        problems += check_junit(report_dir / 'port-audit.junit.xml', verdicts)
    if verdicts and 'markdown' in files:
        problems += check_markdown(files['markdown'], verdicts)
    if verdicts and 'html' in files:
        problems += check_html(report_dir / 'port-audit.html', reference_dir / 'port-audit.html', verdicts)

    # 4. The /proc/net/unix reader on the hostile host: the path with a newline forges no socket.
    problems += check_unix_reader(fleet, host)

    elapsed = time.monotonic() - started
    assert not problems, '%d problems (%.0f s):\n- %s\n\nThe run printed:\n%s' % (
        len(problems), elapsed, '\n- '.join(problems), shown[-6000:])
    assert elapsed < BUDGET, 'the test took %.0f s (budget %d s)' % (elapsed, BUDGET)


def sockets_of(verdict, port):
    return [s for s in verdict.get('sockets') or () if s.get('port') == port]


def check_verdicts(verdicts, clean, fleet, host):
    problems = []
    if sorted(verdicts) != ['h1', 'h2', 'h3']:
        return ['the JSON report has hosts %s, not h1 h2 h3' % sorted(verdicts)]
    # The ordinary hosts: compliant, only their sshd, and judged as in a run without the hostile host.
    for name in ('h2', 'h3'):
        verdict = verdicts[name]
        if not verdict or not verdict.get('compliant') or verdict.get('violations'):
            problems.append('%s is not compliant: %r' % (name, verdict and verdict.get('violations')))
            continue
        listening = [(s['proto'], s['address'], s['port'], s['processes']) for s in verdict['sockets']]
        if listening != [('tcp', fleet.host(name).address, 22, ['sshd'])]:
            problems.append('%s: sockets %r, expected only its sshd' % (name, listening))
        if comparable(verdict) != comparable(clean[name]):
            problems.append('%s: the verdict differs from the run without h1:\n  with h1:    %s\n  without h1: %s' % (
                name, json.dumps(comparable(verdict), sort_keys=True), json.dumps(comparable(clean[name]), sort_keys=True)))

    # The hostile host: NOT compliant, for the right reasons.
    verdict = verdicts['h1']
    if not verdict:
        return problems + ['h1 has no verdict']
    if verdict.get('compliant') is not False:
        problems.append('h1 is compliant: %r' % verdict.get('violations'))
    forbidden = dict((r.get('id'), sorted(s.get('port') for s in r.get('sockets') or ())) for r in verdict.get('forbidden') or ())
    wanted = {'forbidden[0]': [hostile.PORT_HOPPER], 'forbidden[1]': [hostile.PORT_UNSEEN], 'forbidden[2]': HOSTILE_PORTS}
    for rule, ports in wanted.items():
        if forbidden.get(rule) != ports:
            problems.append('h1: %s should be violated by ports %s, got %r (forbidden: %r)' % (
                rule, ports, forbidden.get(rule), forbidden))
    violations = verdict.get('violations') or []
    unseen = [v for v in violations if ':%d' % hostile.PORT_UNSEEN in v]
    if not unseen or not any(re.search(r'owner|unknown|not visible|not_visible', v, re.I) for v in unseen):
        problems.append('h1: no violation says that the owner of port %d is unknown: %r' % (hostile.PORT_UNSEEN, violations))
    # The module runs in a PID namespace of its own: the facts cannot be complete, and say why.
    if not verdict.get('incomplete') or not verdict.get('incomplete_reasons'):
        problems.append('h1: facts not marked incomplete (the module cannot see every process): incomplete=%r reasons=%r'
                        % (verdict.get('incomplete'), verdict.get('incomplete_reasons')))
    # Host strings in JSON: the names as the host has them, invalid UTF-8 as \xNN, nothing lost.
    names = [p for s in verdict.get('sockets') or () for p in s.get('processes') or ()]
    for raw in HOSTILE_NAMES:
        if as_json(raw) not in names:
            problems.append('h1: process name %r is not in the JSON report as %r (names: %r)' % (raw, as_json(raw), names))
    users = [s.get('user') for s in sockets_of(verdict, hostile.PORT_USER)]
    if users != [as_json(hostile.HOSTILE_USER)]:
        problems.append('h1: the user of port %d is %r, expected %r' % (hostile.PORT_USER, users, as_json(hostile.HOSTILE_USER)))
    device = [s.get('endpoint') for s in sockets_of(verdict, hostile.PORT_DEVICE)]
    if len(device) != 1 or '%' + as_json(hostile.HOSTILE_DEVICE) not in device[0]:
        problems.append('h1: the socket on the device is %r, expected an endpoint with %%%s' % (
            device, as_json(hostile.HOSTILE_DEVICE)))
    return problems


def check_text(text, verdicts):
    problems = []
    for raw in HOST_STRINGS:
        if visible(raw) not in text:
            problems.append('port-audit.txt does not show %r as %r' % (raw, visible(raw)))
    for name, verdict in verdicts.items():
        state = 'compliant' if verdict and verdict.get('compliant') else 'NOT compliant'
        if not re.search(r'^\S*\s*%s\b.*%s' % (re.escape(name), state), text, re.M):
            problems.append('port-audit.txt has no line saying %s: %s' % (name, state))
    return problems


def check_junit(path, verdicts):
    problems = []
    proc = subprocess.run(['xmllint', '--noout', '--schema', JUNIT_XSD, str(path)], capture_output=True, check=False)
    if proc.returncode != 0:
        problems.append('port-audit.junit.xml is not valid against junit-10.xsd: %s' % proc.stderr.decode(errors='replace')[-2000:])
    try:
        root = ET.parse(str(path)).getroot()
    except ET.ParseError as exc:
        return problems + ['port-audit.junit.xml does not parse: %s' % exc]
    suites = dict((suite.get('name'), suite) for suite in root.findall('testsuite'))
    if sorted(suites) != sorted(verdicts):
        return problems + ['JUnit suites %s, hosts %s' % (sorted(suites), sorted(verdicts))]
    for name, verdict in verdicts.items():
        failures = int(suites[name].get('failures') or 0)
        if (failures == 0) != bool(verdict and verdict.get('compliant')):
            problems.append('JUnit: suite %s has %d failures, but compliant is %r' % (name, failures, verdict.get('compliant')))
    text = ''.join(suites['h1'].itertext())
    for raw in HOSTILE_NAMES:
        if visible(raw) not in text:
            problems.append('JUnit: h1 does not show %r as %r' % (raw, visible(raw)))
    return problems


def split_row(line):
    """The cells of a GFM table row, split on pipes that no backslash escapes (as GFM and markdown-it split)."""
    cells, cell, escaped = [], '', False
    for char in line.strip():
        if escaped:
            cell += char
            escaped = False
        elif char == '\\':
            cell += char
            escaped = True
        elif char == '|':
            cells.append(cell)
            cell = ''
        else:
            cell += char
    cells.append(cell)
    if line.strip().startswith('|'):
        cells = cells[1:]
    if line.strip().endswith('|') and not line.strip().endswith('\\|'):
        cells = cells[:-1]
    return cells


def check_markdown(text, verdicts):
    from markdown_it import MarkdownIt  # pylint: disable=import-outside-toplevel
    problems = []
    parser = MarkdownIt('commonmark').enable('table')  # raw HTML on: any that got through becomes an html token
    tokens = parser.parse(text)
    lines = re.split(r'\r\n|\r|\n', text)  # line ends as CommonMark reads them, as token.map counts them

    def walk(items):
        for token in items:
            yield token
            yield from walk(token.children or ())

    tables = 0
    for index, token in enumerate(tokens):
        if token.type != 'table_open':
            continue
        tables += 1
        first, last = token.map
        source = [line for line in lines[first:last] if line.strip()]
        header = len(split_row(source[0]))
        for line in source[1:]:
            if len(split_row(line)) != header:
                problems.append('Markdown: a row of the table at line %d has %d cells, the header %d: %r' % (
                    first + 1, len(split_row(line)), header, line))
        rows = [t for t in tokens[index:] if t.type in ('tr_open', 'table_close')]
        rows = rows[:[t.type for t in rows].index('table_close')]
        if len(rows) != len(source) - 1:  # header and body rows; the delimiter line is no row
            problems.append('Markdown: the table at line %d has %d lines (a header, a delimiter and %d rows) but parses as %d '
                            'rows: host data broke a row' % (first + 1, len(source), len(source) - 2, len(rows) - 1))
    if not tables:
        problems.append('Markdown: no table found')
    rendered_text = []
    for token in walk(tokens):
        if token.type == 'html_inline' and re.fullmatch(r'<a id="host-[a-z0-9-]+">|</a>', token.content):
            continue  # the report's own anchors, named after inventory names
        if token.type in ('html_inline', 'html_block', 'image'):
            problems.append('Markdown: host data became %s: %r' % (token.type, token.content))
        if token.type == 'link_open' and not (token.attrGet('href') or '').startswith('#'):
            problems.append('Markdown: a link to %r' % token.attrGet('href'))
        if token.type in ('text', 'code_inline'):
            rendered_text.append(token.content)
    rendered = '\n'.join(rendered_text)
    for raw in HOST_STRINGS:
        if visible(raw) not in rendered:
            problems.append('Markdown: %r does not read as %r once rendered' % (raw, visible(raw)))
    for name in verdicts:
        if not any(t.type == 'link_open' and t.attrGet('href') == '#host-%s' % name for t in walk(tokens)):
            problems.append('Markdown: no link to the section of host %s' % name)
    return problems


def check_html(path, clean_path, verdicts):
    problems = []
    dom = DOM(render_in_chromium(path, required=True))
    reference = DOM(render_in_chromium(clean_path, required=True))
    tags = set(e['tag'] for e in dom.elements)
    clean_tags = set(e['tag'] for e in reference.elements)
    if tags - clean_tags:
        problems.append('HTML: elements that a clean report does not have: %s' % sorted(tags - clean_tags))
    attributes = set(a for e in dom.elements for a in e['attrs'])
    clean_attributes = set(a for e in reference.elements for a in e['attrs'])
    if attributes - clean_attributes:
        problems.append('HTML: attributes that a clean report does not have: %s' % sorted(attributes - clean_attributes))
    for tag in ('script', 'img', 'iframe', 'object', 'embed', 'svg', 'style', 'link', 'base', 'form', 'b'):
        count, clean_count = len(dom.find(tag)), len(reference.find(tag))
        if count != clean_count:
            problems.append('HTML: %d <%s> elements, a clean report has %d' % (count, tag, clean_count))
    hrefs = set(e['attrs'].get('href') for e in dom.elements if e['attrs'].get('href') and not e['attrs']['href'].startswith('#'))
    clean_hrefs = set(e['attrs'].get('href') for e in reference.elements
                      if e['attrs'].get('href') and not e['attrs']['href'].startswith('#'))
    if hrefs - clean_hrefs:
        problems.append('HTML: links that a clean report does not have: %s' % sorted(hrefs - clean_hrefs))
    text = ''.join(e['text'] for e in dom.elements if e['tag'] == 'body')
    for raw in HOST_STRINGS:
        if visible(raw) not in text:
            problems.append('HTML: %r does not read as %r in the page' % (raw, visible(raw)))
    try:
        check_matrix(dom, verdicts)
    except AssertionError as exc:
        problems.append('HTML: the matrix does not match the verdicts: %s' % exc)
    # The page's script ran to its end over the hostile data (it marks the body), also with a link to a hostile
    # host's cell, whose details it shows as text, and with a fragment that is not valid percent-encoding.
    if dom.find('body')[0]['attrs'].get('data-ready') != 'true':
        problems.append('HTML: the page script did not finish (no data-ready on the body)')
    port = [p for n, p in hostile.NAMED if n == b'<script>x'][0]
    linked = DOM(render_in_chromium(path, '#cell=' + quote('h1 tcp/%d' % port, safe=''), required=True))
    detail = [e['text'] for e in linked.find(id='detail')]
    if not detail or 'h1 tcp/%d' % port not in detail[0] or '<script>x' not in detail[0]:
        problems.append('HTML: #cell=h1 tcp/%d does not show its details as text: %r' % (port, detail))
    broken = DOM(render_in_chromium(path, '#cell=%E0%A4%A', required=True))
    if broken.find('body')[0]['attrs'].get('data-ready') != 'true':
        problems.append('HTML: the page script died on a malformed #cell= fragment')
    return problems


def check_unix_reader(fleet, host):
    """socket_facts with the /proc reader, unix table, on the hostile host: no socket invented from the path."""
    problems = []
    tree = tempfile.mkdtemp(prefix='na-hostile-tree-')
    try:
        argv = [os.path.join(VENV_BIN, 'ansible'), 'h1', '-i', fleet.inventory, '-m', 'netaudit.sockets.socket_facts',
                '-a', json.dumps({'tables': ['unix'], 'backend': 'proc', 'listening': True}), '--tree', tree]
        code, out, err = run(argv, ansible_env(**fleet.env))
        problems += raw_controls(out, 'socket_facts stdout') + raw_controls(err, 'socket_facts stderr')
        if code != 0:
            return problems + ['socket_facts backend=proc on h1 failed (%d): %s' % (code, (out + err).decode(errors='replace')[-3000:])]
        with open(os.path.join(tree, 'h1'), 'rb') as handle:
            data = handle.read()
        problems += raw_controls(data, 'the tree file of h1')
        facts = json.loads(data.decode('utf-8', 'surrogateescape'))['ansible_facts']
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    forged = [r for r in facts['sockets'] if r.get('inode') == hostile.FORGED_INODE or r.get('local_address') == '/forged']
    if forged:
        problems.append('/proc/net/unix: a socket invented from a path: %r' % forged)
    real = as_json(host.unix_path)
    found = [r for r in facts['sockets'] if r.get('netid') == 'u_str' and (r.get('local_address') or '').startswith('/tmp/nah-')]
    meta = facts['socket_meta']
    if found:
        if [r['local_address'] for r in found] != [real]:
            problems.append('/proc/net/unix: the path with a newline came back as %r, not %r' % ([r['local_address'] for r in found], real))
    elif meta.get('complete') or not any('unix' in reason for reason in meta.get('incomplete_reasons') or ()):
        problems.append('/proc/net/unix: the socket at the path with a newline is missing, yet complete=%r, reasons=%r' % (
            meta.get('complete'), meta.get('incomplete_reasons')))
    return problems
