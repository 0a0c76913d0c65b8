# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""port_reports and the port_audit role on this machine, with a hostile host's data and a hostile report folder.

Real ansible-playbook runs: verdicts judged by the port_audit filter from records with terminal escapes, Markdown
and HTML syntax and invalid UTF-8 (as the old module's surrogate escapes, through JSON), and processes on this
machine that name themselves so (prctl). The oracles: a real Markdown parser, headless Chromium, the XML parser,
strict UTF-8, the files' modes and inodes on disk, a real full tmpfs, and the bytes ansible prints."""

import json
import os
import re
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

from urllib.parse import quote

import pytest

from markdown_it import MarkdownIt

from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from support.chromium import DOM, render_in_chromium
from support import tmpfs
from support.natest import REPO, VENV_BIN, ansible_env, local_playbook

FORMATS = ['json', 'markdown', 'junit', 'html', 'text']
NAMES = ['port-audit.json', 'port-audit.md', 'port-audit.junit.xml', 'port-audit.html', 'port-audit.txt']
HOSTILE = ['\x1b[2J\x1b[8m', '\x1b]0;title\x07', 'ok\rnc', 'a|b', '<script>alert(1)</script>', '![](//x/a)',
           '<img src=//x/b>', 'bad\udcffname', 'bad\\xffname', '\x9b31m']
# Raw control characters a terminal acts on (the line feed is the output's own), and lone surrogates.
UNSAFE = re.compile('[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]')
UNSAFE_BYTES = re.compile(b'[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]')


def run(argv, umask=None, timeout=300, env=None):
    """A command with the project's ansible environment, and this umask. ansible-core refuses module results with
    invalid UTF-8 unless MODULE_STRICT_UTF8_RESPONSE is off; with it off (and from the old module, which sent the
    surrogate escapes), they reach the reports as lone surrogates, so the tests turn it off."""
    def preexec():
        if umask is not None:
            os.umask(umask)
    return subprocess.run(argv, env=env or ansible_env(ANSIBLE_MODULE_STRICT_UTF8_RESPONSE='False'), capture_output=True,
                          timeout=timeout, check=False, preexec_fn=preexec)


def playbook(tmp_path, tasks, *extra, umask=None, timeout=300):
    path = local_playbook(tmp_path / 'play.yml', tasks=tasks)
    return run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', 'localhost,', path] + list(extra),
               umask=umask, timeout=timeout)


def output(proc):
    return (proc.stdout + proc.stderr).decode('utf-8', 'backslashreplace')


def record(port, name, user, interface=None, address='0.0.0.0', family='inet'):
    return {'netid': 'tcp', 'state': 'LISTEN', 'family': family, 'local_address': address, 'local_port': port,
            'peer_address': '0.0.0.0', 'peer_port': 0, 'interface': interface, 'v6only': None, 'recv_q': 0,
            'send_q': 128, 'inode': 7000 + port, 'uid': 1000, 'user': user,
            'processes': [{'name': name, 'pid': 100 + port, 'fd': 3}], 'netns': None}


def report_tasks(tmp_path, dest, strings, **options):
    """Judge a hostile host (every string field one of `strings`) and a good one, then write their reports.
    The records travel as JSON with \\udcff escapes, as the old module's surrogate-escaped strings did."""
    evil = [record(3000 + i, text, text) for i, text in enumerate(strings)]
    evil += [record(3100 + i, 'sshd', 'root', interface=text, address='fe80::1', family='inet6')
             for i, text in enumerate(strings)]
    (tmp_path / 'records.json').write_text(json.dumps({'evil': evil, 'good': [record(22, 'sshd', 'root')]}))
    args = dict({'verdicts': '{{ verdicts }}', 'dest': str(dest), 'formats': FORMATS, 'title': 'Nightly'}, **options)
    return [
        {'ansible.builtin.set_fact': {'verdicts': {
            'evil': "{{ records.evil | netaudit.sockets.port_audit({'forbidden': ['tcp/3000-3099'], 'closed_world': true}, "
                    "now='2026-01-01') }}",
            'good': "{{ records.good | netaudit.sockets.port_audit({'expected': ['tcp/22']}, now='2026-01-01') }}"}},
         'vars': {'records': "{{ lookup('ansible.builtin.file', playbook_dir ~ '/records.json') | from_json }}"}},
        {'netaudit.sockets.port_reports': args, 'register': 'written'},
        {'ansible.builtin.copy': {'content': '{{ written | to_json }}', 'dest': str(tmp_path / 'written.json'),
                                  'mode': '0600'}, 'check_mode': False},
    ]


def written(tmp_path):
    with open(tmp_path / 'written.json', encoding='utf-8') as handle:
        return json.load(handle)


# --- items 3, 4, 5: a hostile host's data in every report and in what ansible shows ------------------------------

def test_hostile_data_every_report_written_and_safe(tmp_path):
    dest = tmp_path / 'reports'
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, HOSTILE))
    assert proc.returncode == 0, output(proc)
    result = written(tmp_path)
    assert result['changed'] is True and sorted(os.listdir(dest)) == sorted(NAMES)
    # what ansible shows (port_reports' result is shown without -v): no raw control character, the hostile host's line
    assert '"evil: NOT compliant: ' in proc.stdout.decode('utf-8')
    assert not UNSAFE_BYTES.findall(proc.stdout), sorted(set(UNSAFE_BYTES.findall(proc.stdout)))
    assert not [line for line in result['msg'] if UNSAFE.search(line)]
    assert result['msg'][1].startswith('evil: NOT compliant: ')
    texts = dict((name, (dest / name).read_bytes().decode('utf-8')) for name in NAMES)      # strict UTF-8
    assert 'bad\\xffname' in texts['port-audit.txt']
    names = [entry['processes'][0] for entry in json.loads(texts['port-audit.json'])['hosts']['evil']['sockets']]
    assert names.count('bad\\xffname') == 2          # the surrogate escape, and the backslash text as it was
    assert not UNSAFE.findall(texts['port-audit.txt'])
    assert '\\x1b[2J\\x1b[8m' in texts['port-audit.txt']
    ET.fromstring(texts['port-audit.junit.xml'].encode('utf-8'))
    json.loads(texts['port-audit.json'])
    # Markdown: every row of every table has the header's cell count; no image, no foreign link, no raw HTML
    tokens = MarkdownIt('commonmark').enable('table').parse(texts['port-audit.md'])
    rows, cells = [], 0
    for token in tokens:
        if token.type == 'tr_open':
            cells = 0
        elif token.type in ('th_open', 'td_open'):
            cells += 1
        elif token.type == 'tr_close':
            rows.append(cells)
        elif token.type == 'table_close':
            assert len(set(rows)) == 1, rows
            rows = []
    children = [c for t in tokens if t.type == 'inline' for c in t.children or ()]
    assert not [c for c in children if c.type == 'image']
    assert [c.attrs['href'] for c in children if c.type == 'link_open'] == ['#host-evil', '#host-good']
    assert sorted(c.content for c in children if c.type == 'html_inline') == sorted(
        ['<a id="host-evil">', '<a id="host-good">', '</a>', '</a>'])
    assert not [t for t in tokens if t.type == 'html_block']


def test_hostile_html_in_chromium_makes_no_element_and_survives_a_malformed_fragment(tmp_path):
    dest = tmp_path / 'reports'
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, HOSTILE))
    assert proc.returncode == 0, output(proc)
    page = dest / 'port-audit.html'
    for fragment in ('#cell=%E0%A4%A', '#cell=%', '#cell=' + quote('evil tcp/3004', safe='')):
        dom = DOM(render_in_chromium(page, fragment))
        assert dom.find('body')[0]['attrs'].get('data-ready') == 'true', fragment      # the script ran to its end
        assert dom.find(id='matrix-size')[0]['text'].startswith('2 hosts '), fragment
        tags = [element['tag'] for element in dom.elements]
        assert tags.count('script') == 1 and 'img' not in tags, fragment
    # the last fragment is a valid one: it selects its cell, whose details hold the hostile name as text
    selected = [c for c in dom.find('td') if 'selected' in c['attrs'].get('class', '').split()]
    assert [(c['attrs']['data-host'], c['attrs']['data-port']) for c in selected] == [('evil', 'tcp/3004')]
    assert '<script>alert(1)</script>' in dom.find(id='detail')[0]['text']


@pytest.mark.parametrize('fragment', ['#cell=%E0%A4%A', '#cell=%', '#cell=web2%20tcp%2F23%'])
def test_html_script_survives_a_malformed_cell_fragment(tmp_path, fragment):
    """A hand-edited link to a cell: decodeURIComponent throws URIError; the page ignores the fragment and works."""
    with open(os.path.join(REPO, 'tests', 'unit', 'plugins', 'plugin_utils', 'fixtures', 'report', 'verdicts.json')) as handle:
        verdicts = json.load(handle)
    page = tmp_path / 'report.html'
    page.write_text(render(verdicts, 'html'), encoding='utf-8')
    dom = DOM(render_in_chromium(page, fragment))
    assert dom.find('body')[0]['attrs'].get('data-ready') == 'true'
    assert dom.find(id='matrix-size')[0]['text'] == '4 hosts \u00d7 9 ports'
    assert not [c for c in dom.find('td') if 'selected' in c['attrs'].get('class', '').split()]


def test_hostile_data_in_check_mode(tmp_path):
    dest = tmp_path / 'reports'
    dest.mkdir()
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, HOSTILE), '--check')
    assert proc.returncode == 0, output(proc)
    result = written(tmp_path)
    assert result['changed'] is True and os.listdir(dest) == []
    assert not UNSAFE_BYTES.findall(proc.stdout) and not [line for line in result['msg'] if UNSAFE.search(line)]


# --- item 8: the previous reports, planted things in the folder --------------------------------------------------

@pytest.mark.parametrize('planted', ['symlink', 'fifo', 'dev_zero_link', 'device', 'folder_link'])
def test_a_planted_previous_report_is_replaced_never_followed_or_opened(tmp_path, planted):
    dest = tmp_path / 'reports'
    dest.mkdir()
    victim = tmp_path / 'victim'
    victim.write_text('not yours\n')
    target = dest / 'port-audit.json'
    if planted == 'symlink':
        target.symlink_to(victim)
    elif planted == 'fifo':
        os.mkfifo(target)
    elif planted == 'dev_zero_link':
        target.symlink_to('/dev/zero')
    elif planted == 'device':
        if os.geteuid() != 0:
            pytest.skip('mknod of a character device needs root')
        os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(1, 5))          # what /dev/zero is
    else:
        target.symlink_to(tmp_path)
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, ['x']), timeout=120)
    assert proc.returncode == 0, output(proc)
    assert written(tmp_path)['changed'] is True
    assert stat.S_ISREG(os.lstat(target).st_mode)
    json.loads(target.read_text())
    assert victim.read_text() == 'not yours\n'
    assert not [name for name in os.listdir(dest) if name.startswith('.')]


# --- item 8: modes -----------------------------------------------------------------------------------------------

def modes(folder):
    return dict((name, stat.S_IMODE(os.stat(folder / name).st_mode)) for name in os.listdir(folder))


def test_modes_follow_the_umask_or_the_options_and_existing_folders_keep_theirs(tmp_path):
    dest = tmp_path / 'new' / 'reports'
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, ['x']), umask=0o027)
    assert proc.returncode == 0, output(proc)
    assert modes(dest) == dict((name, 0o640) for name in NAMES)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o750 and stat.S_IMODE(os.stat(dest.parent).st_mode) == 0o750

    explicit = tmp_path / 'explicit' / 'reports'
    proc = playbook(tmp_path, report_tasks(tmp_path, explicit, ['x'], mode='0600', dir_mode=0o700), umask=0o022)
    assert proc.returncode == 0, output(proc)
    assert modes(explicit) == dict((name, 0o600) for name in NAMES)
    assert stat.S_IMODE(os.stat(explicit).st_mode) == 0o700 and stat.S_IMODE(os.stat(explicit.parent).st_mode) == 0o700
    # the same reports with another mode: only the mode changes, and that is a change
    proc = playbook(tmp_path, report_tasks(tmp_path, explicit, ['x'], mode='0640', dir_mode='0755'), umask=0o022)
    assert proc.returncode == 0, output(proc)
    assert written(tmp_path)['changed'] is True and modes(explicit) == dict((name, 0o640) for name in NAMES)
    assert stat.S_IMODE(os.stat(explicit).st_mode) == 0o700

    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(shared, 0o1777)
    proc = playbook(tmp_path, report_tasks(tmp_path, shared, ['x'], dir_mode='0750'), umask=0o022)
    assert proc.returncode == 0, output(proc)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
    assert modes(shared) == dict((name, 0o644) for name in NAMES)


@pytest.mark.parametrize('value', ['rw-r--r--', '0999', 'true', [1]])
def test_a_bad_mode_is_named(tmp_path, value):
    proc = playbook(tmp_path, report_tasks(tmp_path, tmp_path / 'r', ['x'], mode=value))
    assert proc.returncode == 2, output(proc)
    assert 'port_reports: mode: expected an octal mode such as "0640"' in output(proc)
    assert 'Traceback' not in output(proc) and not (tmp_path / 'r').exists()


def test_role_passes_the_modes_through(tmp_path, tcp_listener):
    reports = tmp_path / 'base' / 'reports'
    path = local_playbook(tmp_path / 'audit.yml', roles=[
        {'role': 'netaudit.sockets.port_audit', 'vars': {
            'port_audit_accept_incomplete': True, 'port_audit_fail': False, 'port_audit_tables': ['tcp'],
            'port_audit_report_dir': str(reports), 'port_audit_report_formats': ['json', 'text'],
            'port_audit_report_mode': '0600', 'port_audit_report_dir_mode': '0700'}}])
    proc = run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', 'localhost,', path], umask=0o022)
    assert proc.returncode == 0, output(proc)
    assert modes(reports) == {'port-audit.json': 0o600, 'port-audit.txt': 0o600}
    assert stat.S_IMODE(os.stat(reports).st_mode) == 0o700 and stat.S_IMODE(os.stat(reports.parent).st_mode) == 0o700


# --- item 8: the set of reports is replaced as a unit ------------------------------------------------------------

@pytest.fixture()
def small_tmpfs(tmp_path):
    with tmpfs.small_tmpfs(tmp_path / 'small', '2m') as mount:
        yield mount


def fill(folder, leave):
    """Fill the file system of `folder` but for about `leave` bytes."""
    with open(folder / 'filler', 'wb') as handle:
        try:
            while True:
                handle.write(b'\0' * 65536)
                handle.flush()
        except OSError:
            pass
    size = os.path.getsize(folder / 'filler')
    os.truncate(folder / 'filler', max(0, size - leave))


def test_a_full_disk_leaves_the_previous_complete_set(tmp_path, small_tmpfs):
    dest = small_tmpfs / 'reports'
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, ['x']))
    assert proc.returncode == 0, output(proc)
    before = dict((name, (dest / name).read_bytes()) for name in NAMES)
    fill(small_tmpfs, 96 * 1024)
    # A bigger fleet: the JSON report (about 80 KiB) and the next ones fit in the space left, not all of them.
    many = ['proc%03d' % index for index in range(20)]
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, many))
    text = output(proc)
    assert proc.returncode == 2, text
    assert 'port_reports: cannot write the reports in %s: ' % dest in text and 'No space left on device' in text
    assert dict((name, (dest / name).read_bytes()) for name in os.listdir(dest)) == before
    os.unlink(small_tmpfs / 'filler')
    proc = playbook(tmp_path, report_tasks(tmp_path, dest, many))
    assert proc.returncode == 0, output(proc)
    assert all(b'proc019' in (dest / name).read_bytes() for name in NAMES)


# --- item 4: tools/audit and the role's failure message with a process named to blank the terminal ---------------

HOLDER = r'''
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(sys.argv[1].encode('latin-1')), 0, 0, 0)
sock = socket.socket()
sock.bind(('127.0.0.1', int(sys.argv[2])))
sock.listen(5)
print('ready', flush=True)
sys.stdin.read()
'''


@pytest.fixture()
def hostile_listener():
    """A process of this machine named '\x1b[2J\x1b[8m' (clear the screen, hide the text) on a loopback port."""
    probe = __import__('socket').socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, '\x1b[2J\x1b[8m', str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'ready'
        with open('/proc/%d/comm' % holder.pid, 'rb') as handle:
            assert handle.read() == b'\x1b[2J\x1b[8m\n'
        yield port
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_tools_audit_prints_a_hostile_process_name_escaped(hostile_listener):
    proc = run([os.path.join(REPO, 'tools', 'audit')], timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, output(proc)
    assert not UNSAFE_BYTES.findall(proc.stdout + proc.stderr), sorted(set(UNSAFE_BYTES.findall(proc.stdout)))
    mine = [line for line in proc.stdout.decode('utf-8').splitlines() if '127.0.0.1:%d ' % hostile_listener in line]
    assert mine and '\\x1b[2J\\x1b[8m' in mine[0], mine


def test_role_failure_message_shows_a_hostile_process_name_escaped(tmp_path, hostile_listener):
    path = local_playbook(tmp_path / 'audit.yml', roles=[
        {'role': 'netaudit.sockets.port_audit', 'vars': {
            'port_audit_accept_incomplete': True, 'port_audit_tables': ['tcp'], 'port_audit_report_formats': [],
            'port_audit_report_dir': str(tmp_path / 'reports'),
            'port_audit_forbidden': ['tcp/%d' % hostile_listener]}}])
    proc = run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', 'localhost,', path])
    text = output(proc)
    assert proc.returncode == 2, text
    assert not UNSAFE_BYTES.findall(proc.stdout)
    # the forbidden listener's own line is there, with its name visibly escaped (JSON shows the backslash doubled)
    assert re.search(r'forbidden, but listening: tcp 127\.0\.0\.1:%d \(\\\\x1b\[2J\\\\x1b\[8m pid \d+' % hostile_listener,
                     text), text
