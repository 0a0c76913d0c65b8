# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs on this machine for the policy keys unit, container and package (issue 14): port_verdict gathers
packages when a rule has `package`, and the packet-socket check of docs/policy.md's example runs as written.

Oracles: `dpkg -S` for the package of /usr/bin/python3's target, and the processes this test starts."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from support.natest import REPO, local_playbook, run_playbook

HOLDER = r'''
import socket, sys
kind = sys.argv[1]
if kind == 'tcp':
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(8)
    sys.stdout.write('%d\n' % sock.getsockname()[1])
else:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    sys.stdout.write('0\n')
sys.stdout.flush()
sys.stdin.read()
'''


class Holder(object):
    """A process of `python` that holds one socket (tcp: listening on 127.0.0.1; packet: a raw packet socket)."""

    def __init__(self, python, kind):
        self.process = subprocess.Popen([python, '-c', HOLDER, kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.process.stdout.readline()
        assert line, 'the %s holder did not start' % kind
        self.port, self.pid = int(line), self.process.pid
        with open('/proc/%d/comm' % self.pid) as handle:
            self.comm = handle.read().strip()

    def stop(self):
        self.process.stdin.close()
        self.process.wait(10)


def saved(tmp_path, name):
    return json.loads((tmp_path / ('%s.saved.json' % name)).read_text())


def save(name):
    return {'ansible.builtin.copy': {'content': '{{ %s | to_json }}' % name, 'mode': '0600',
                                     'dest': '{{ playbook_dir }}/%s.saved.json' % name}, 'check_mode': False}


@pytest.mark.skipif(not shutil.which('dpkg'), reason='needs dpkg (the oracle of the package)')
def test_port_verdict_gathers_packages_for_a_package_rule(tmp_path):
    python = os.path.realpath('/usr/bin/python3')
    oracle = subprocess.run(['dpkg', '-S', python], capture_output=True, text=True, check=False)
    if oracle.returncode != 0:
        pytest.skip('%s is not a dpkg package file here' % python)
    package = oracle.stdout.split(': ', 1)[0].split(', ')[0].split(':')[0]     # "python3.11-minimal: /usr/bin/..."
    holder = Holder(python, 'tcp')
    try:
        port = holder.port
        with_package = {'allowed': [{'port': port, 'package': package}], 'forbidden': [{'port': port, 'package': 'no-such-*'}],
                        'closed_world': False, 'accept_incomplete': True}
        without = {'allowed': [{'port': port, 'process': '*'}], 'accept_incomplete': True}
        proc = run_playbook(local_playbook(tmp_path / 'play.yml', tasks=[
            {'netaudit.sockets.port_verdict': {'policy': with_package, 'tables': ['tcp']}, 'register': 'packaged'},
            {'netaudit.sockets.port_verdict': {'policy': without, 'tables': ['tcp']}, 'register': 'plain'},
            save('packaged'), save('plain'),
        ]))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        holder.stop()
    packaged, plain = saved(tmp_path, 'packaged'), saved(tmp_path, 'plain')
    entry, = [s for s in packaged['verdict']['sockets'] if s['port'] == port]
    assert package in [name.strip().split(':')[0] for name in entry['package']['name'].split(',')]
    assert 'package' not in entry['origin_unknown']
    assert packaged['verdict']['compliant'], packaged['verdict']['violations']
    assert packaged['verdict']['rules'][0]['status'] == 'ok' and entry['status'] == 'allowed'
    assert packaged['verdict']['rules'][0]['message'].endswith('; package %s)' % entry['package']['name'])
    # Without a package rule, packages are not gathered (socket_facts' default): the field is unknown.
    entry, = [s for s in plain['verdict']['sockets'] if s['port'] == port]
    assert entry['package'] is None and entry['origin_unknown']['package'] == 'not_gathered'


def docs_packet_check():
    """The tasks of docs/policy.md's packet-socket check, as written there."""
    with open(os.path.join(REPO, 'docs', 'policy.md'), encoding='utf-8') as handle:
        text = handle.read()
    blocks = re.findall(r'```yaml\n(.*?)```', text, re.S)
    found = [block for block in blocks if 'Packet sockets only from named programs' in block]
    assert len(found) == 1
    return yaml.safe_load(found[0])


@pytest.mark.skipif(os.geteuid() != 0, reason='packet sockets need CAP_NET_RAW')
def test_the_documented_packet_socket_check_runs_as_written(tmp_path):
    tasks = docs_packet_check()
    assert [task['name'] for task in tasks] == ['Gather listening and packet sockets', 'Packet sockets only from named programs']
    holder = Holder(sys.executable, 'packet')
    try:
        # Fails: this test's holder is not one of the named programs.
        failing = run_playbook(local_playbook(tmp_path / 'fail.yml', tasks=tasks))
        output = failing.stdout + failing.stderr
        assert failing.returncode == 2, output
        assert 'a packet socket is held by a program that is not one of dhclient, systemd-networkd, lldpd' in output
        assert 'Traceback' not in output
        # Every packet socket of this machine from the programs that hold them (read by the collection's gather,
        # run here): named, the check passes.
        facts = subprocess.run(
            [sys.executable, '-c', 'import json; from ansible_collections.netaudit.sockets.plugins.module_utils import '
             '_gather; print(json.dumps(_gather.gather(tables=("packet",))))'],
            capture_output=True, text=True, check=True, cwd=REPO).stdout
        records = json.loads(facts)['sockets']
        assert holder.pid in [p['pid'] for r in records for p in r['processes']]
        if any(not r['processes'] for r in records):
            pytest.skip('a packet socket of this machine has no owner the module can see')
        names = sorted(set(p['name'] for r in records for p in r['processes']))
        assert holder.comm in names
        passing = run_playbook(local_playbook(tmp_path / 'pass.yml', tasks=tasks),
                               extra=['-e', json.dumps({'sniffers': names})])
        assert passing.returncode == 0, passing.stdout + passing.stderr
    finally:
        holder.stop()
