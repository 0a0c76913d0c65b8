# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the verdict's own text is safe for terminals (issue 12, item 4).

Real processes name themselves with prctl(PR_SET_NAME) (escape codes, BEL, CR, Markdown and HTML syntax, bytes that
are not UTF-8, bidirectional overrides), listen, and are gathered with the collection's gather(). Strings the module
cannot produce from this kernel (lone surrogates from older facts, hostile user, namespace and interface names) are
set on copies of those real records. The oracles: /proc/PID/comm read here, and the escaped forms written out by hand.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError

NOW = '2025-06-01'
# What must never reach a terminal raw: C0, DEL, C1, lone surrogates, the bidirectional controls and the line and
# paragraph separators.
UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]')
SURROGATE = re.compile('[\ud800-\udfff]')

# (comm bytes, how a message must show them). comm holds at most 15 bytes.
NAMES = [
    (b'\x1b[2J\x1b[8m', '\\x1b[2J\\x1b[8m'),       # clear the screen, then conceal what follows
    (b'\x1b]0;pwn\x07', '\\x1b]0;pwn\\x07'),       # set the terminal title (OSC ... BEL)
    (b'a\rb|c', 'a\\x0db|c'),                      # carriage return, a Markdown table pipe
    (b'<script>x', '<script>x'),                   # HTML: not a terminal's concern, left to the report formats
    (b'![](//x/a)', '![](//x/a)'),                 # a Markdown image: the same
    (b'\xff\xfebad', '\\xff\\xfebad'),             # not UTF-8
    (b'\xc2\x9b31m\x7f', '\\x9b31m\\x7f'),         # C1 CSI (in UTF-8) and DEL
    (b'\xe2\x80\xaeevil', '\\u202eevil'),          # right-to-left override
    (b'tab\tnl\nx', 'tab\\x09nl\\x0ax'),           # a tab and a newline inside the name
    (b'x\\xffy', 'x\\xffy'),                       # the literal backslash form stays as it is
]

CHILD = r'''
import ctypes, socket, sys
name = bytes.fromhex(sys.argv[1])
sock = socket.socket()
sock.bind(('127.0.0.1', 0))
sock.listen(8)
if ctypes.CDLL(None, use_errno=True).prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:
    sys.exit('prctl(PR_SET_NAME) failed')
sys.stdout.write('%d\n' % sock.getsockname()[1])
sys.stdout.flush()
sys.stdin.read()
'''


class Hostile(object):
    """One named listener: its process, port, comm (read back from /proc) and the escaped form a message must show."""

    def __init__(self, name, shown):
        self.name, self.shown = name, shown
        self.process = subprocess.Popen([sys.executable, '-c', CHILD, name.hex()], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE)
        line = self.process.stdout.readline()
        assert line, 'the listener named %r did not start' % name
        self.port, self.pid = int(line), self.process.pid
        with open('/proc/%d/comm' % self.pid, 'rb') as handle:
            comm = handle.read()
        assert comm == name + b'\n', (comm, name)
        self.comm = comm[:-1].decode('utf-8', 'backslashreplace')

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope='module')
def hostile():
    made = []
    try:
        for name, shown in NAMES:
            made.append(Hostile(name, shown))
        filter_text = ' or '.join('sport = :%d' % item.port for item in made)
        facts = _gather.gather(listening=True, processes=True, filter_text=filter_text)
        yield made, facts
    finally:
        for item in made:
            item.stop()


def messages(verdict):
    """Every line of text the verdict composes."""
    found = list(verdict['violations']) + list(verdict['notes'])
    found += [result['message'] for result in verdict['rules']]
    return found


def assert_safe(verdict):
    for line in messages(verdict):
        assert not UNSAFE.search(line), line
    json.dumps(verdict).encode('utf-8')     # no lone surrogate anywhere, so every report can be written
    assert not SURROGATE.search(json.dumps(verdict, ensure_ascii=False))


def by_port(facts):
    return dict((record['local_port'], record) for record in facts['sockets'])


def test_real_process_names_are_escaped_in_every_message(hostile):
    made, facts = hostile
    records = by_port(facts)
    for item in made:
        assert [p['pid'] for p in records[item.port]['processes']] == [item.pid]
    policy = {'forbidden': [{'process': '*'}], 'expected': [{'name': 'gone', 'port': 1}], 'closed_world': True,
              'accept_incomplete': True}
    verdict = port_audit(facts, policy, now=NOW)
    assert_safe(verdict)
    assert verdict['compliant'] is False
    message = verdict['rules'][1]['message']
    for item in made:
        assert '%s pid %d' % (item.shown, item.pid) in message, (item.name, message)
        entry = [s for s in verdict['sockets'] if s['port'] == item.port][0]
        # The structured fields keep the data, cleaned: the name as /proc/PID/comm has it.
        assert entry['processes'] == [item.comm]
        assert entry['pids'] == [item.pid]


def test_every_kind_of_message(hostile):
    made, facts = hostile
    ports = sorted(item.port for item in made)
    policy = {
        'expected': [{'port': ports[0]}, {'port': ports[1], 'process': 'sshd'}],
        'allowed': [{'port': ports[2]}, {'port': ports[3], 'until': '2025-01-01'}, {'port': ports[4], 'until': '2026-01-01'}],
        'forbidden': [{'port': '%d-%d' % (ports[4], ports[5])}, {'port': ports[6], 'process': 'nc', 'unknown_owner': 'ignore'}],
        'closed_world': True,
    }
    records = copy.deepcopy(facts['sockets'])
    for record in records:
        if record['local_port'] in (ports[1], ports[6], ports[7]):
            record['processes'], record['owner_unknown'] = [], 'gone\x1b[2J'
    verdict = port_audit(records, policy, now=NOW, socket_meta=facts['socket_meta'])
    assert_safe(verdict)
    statuses = dict((r['id'], r['status']) for r in verdict['rules'])
    assert statuses == {'expected[0]': 'ok', 'expected[1]': 'missing', 'allowed[0]': 'ok', 'allowed[1]': 'expired',
                        'allowed[2]': 'ok', 'forbidden[0]': 'violated', 'forbidden[1]': 'ok'}
    assert any('owner unknown: gone\\x1b[2J' in line for line in verdict['violations'])
    assert any(line.startswith('unexpected: ') for line in verdict['violations'])
    assert any('unknown_owner: ignore' in line for line in verdict['notes'])
    assert 'excepted until the exception expires' in verdict['rules'][5]['message']
    # The structured field keeps an unknown reason as the record gave it (JSON escapes its controls).
    assert [s['owner_unknown'] for s in verdict['unknown_owner']] == ['gone\x1b[2J'] * 3


def test_surrogates_and_hostile_host_fields(hostile):
    made, facts = hostile
    records = copy.deepcopy(facts['sockets'])
    for record in records:
        record['processes'] = [{'name': 'n\udcffc\udc80\ud800', 'pid': 7, 'fd': 3}]
        record['user'] = '\udcffbad\udcfeuser'
        record['netns'] = 'ns\x1b[2J\udcff'
        record['interface'] = 'eth\x1b0\u202e'
        record['netid'] = 'tcp'
    verdict = port_audit(records, {'forbidden': [{'process': 'n*'}], 'closed_world': True}, now=NOW,
                         socket_meta={'complete': False, 'incomplete_reasons': ['hidden \udcff\x1b[2J']})
    assert_safe(verdict)
    line = verdict['violations'][0]
    assert 'n\\xffc\\x80\\ud800 pid 7, user \\xffbad\\xfeuser' in line
    assert 'in netns ns\\x1b[2J\\xff' in line and '%eth\\x1b0\\u202e:' in line
    assert 'hidden \\xff\\x1b[2J' in verdict['violations'][-1]
    entry = verdict['sockets'][0]
    # Cleaned, not escaped: invalid UTF-8 as \xNN, the rest as the host gave it.
    assert entry['processes'] == ['n\\xffc\\x80\\ud800']
    assert (entry['user'], entry['netns'], entry['interface']) == ('\\xffbad\\xfeuser', 'ns\x1b[2J\\xff', 'eth\x1b0\u202e')
    # Policies match what the reports show.
    assert port_audit(records, {'forbidden': [{'process': 'n\\xffc*', 'user': '\\xffbad*'}]},
                      now=NOW)['compliant'] is False
    assert not SURROGATE.search(''.join(_listening.listening_ports(records, with_address=True)))


def test_policy_text_is_escaped_where_it_is_echoed(hostile):
    made, facts = hostile
    policy = {'forbidden': [{'name': 'no\x1b[2J', 'port': made[0].port, 'reason': 'see\x07\u202e'}]}
    verdict = port_audit(facts, policy, now=NOW)
    assert_safe(verdict)
    assert verdict['violations'][0].startswith('forbidden[0] "no\\x1b[2J" (%d) is forbidden' % made[0].port)
    assert verdict['violations'][0].endswith('[reason: see\\x07\\u202e]')


def test_bad_address_message_is_safe(hostile):
    made, facts = hostile
    record = dict(facts['sockets'][0], local_address='x\x1b[2J\udcff')
    with pytest.raises(PolicyError) as caught:
        port_audit([record], {}, now=NOW)
    assert str(caught.value) == 'sockets[0]: local_address "x\\x1b[2J\\xff" is not an IP address'
