# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): the module never changes the host.

- Run as a process under a Python audit hook (audit_runner.py), the default path (no netns) opens no file for
  writing, changes no file, starts no process and sends no signal; it only reads. ansible-core's own invocation log
  (syslog) and its SELinux probe (libselinux) are allowed: they are AnsibleModule's, in every module. The netns path
  forks by design (setns in a child): there the hook must see the fork, which shows that it sees.
- changed is false on every path, and check mode gives the same facts as a normal run, in a quiet namespace, both
  for the module run directly and through `ansible --check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from robustness.modulerun import problems_with, run_module
from support.natest import COLLECTIONS, run_adhoc
from support.scratch_netns import scratch_namespace

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, 'audit_runner.py')
HELPER = os.path.join(HERE, 'fault_helper.py')
# AnsibleModule's own doings in every module: the SELinux probe and the syslog line "Invoked with ...".
ANSIBLE_CORE_ALLOWED = ('ctypes.dlopen', 'syslog.openlog', 'syslog.syslog')
DEFAULT_PATHS = [{}, {'filter': 'state listening ( sport = :ssh or sport = :https )'}, {'listening': True, 'tables': ['all']},
                 {'backend': 'proc'}, {'processes': False, 'summary': False}, {'filter': 'dev lo or src unix:*'},
                 {'filter': 'sport = :ssh2'}, {'tables': ['bogus']}]


def audited(args, prefix=()):
    result, proc = run_module(args, prefix=prefix, runner=RUNNER)
    lines = [line for line in proc.stderr.splitlines() if line.startswith('AUDIT ')]
    assert lines, 'the audit runner reported nothing:\n%s' % proc.stderr[-3000:]
    return result, proc, json.loads(lines[-1][len('AUDIT '):])


@pytest.mark.parametrize('args', DEFAULT_PATHS, ids=[json.dumps(args) for args in DEFAULT_PATHS])
def test_default_path_only_reads(args):
    result, proc, events = audited(args)
    assert not problems_with(result, proc), problems_with(result, proc)
    ours = [event for event in events if event[1].startswith('collection')]
    theirs = [event for event in events if not event[1].startswith('collection') and event[0] not in ANSIBLE_CORE_ALLOWED]
    assert not ours, 'the collection changed the host: %s' % ours
    assert not theirs, 'ansible-core changed the host on the module\'s behalf: %s' % theirs


def test_the_audit_hook_sees_the_netns_fork():
    """The control: netns= enters the namespace in a forked child, and the hook records that fork as the collection's."""
    with scratch_namespace('na-rb-audit', 'the netns path needs a namespace to enter') as name:
        result, proc, events = audited({'netns': name, 'summary': False})
    assert not problems_with(result, proc), problems_with(result, proc)
    assert any(event[0] == 'os.fork' and event[1].startswith('collection') for event in events), events


def _facts_without_timing(result):
    facts = json.loads(json.dumps(result['ansible_facts']))
    facts['socket_meta'].pop('elapsed_ms', None)
    return facts


@pytest.fixture()
def quiet_namespace():
    """A namespace whose only sockets are held by one helper process: (name, {pid, inodes})."""
    with scratch_namespace('na-rb-check', 'it compares check mode with a normal run in a quiet namespace') as name:
        subprocess.run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], check=True)
        holder = subprocess.Popen(['ip', 'netns', 'exec', name, sys.executable, HELPER, 'hold'], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS))
        try:
            held = json.loads(holder.stdout.readline())
            yield name, held
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)


def test_check_mode_gives_the_same_facts_module_process(quiet_namespace):
    name, held = quiet_namespace
    prefix = ['ip', 'netns', 'exec', name]
    args = {'tables': ['tcp', 'udp', 'unix']}
    # Three tries: the summary's socket count (sockstat "sockets: used") includes the module's own netlink sockets
    # and those of the run before while the kernel frees them, so one run in three may count one more.
    for _attempt in range(3):
        normal, normal_proc = run_module(args, prefix=prefix)
        checked, checked_proc = run_module(dict(args, _ansible_check_mode=True), prefix=prefix)
        for result, proc in ((normal, normal_proc), (checked, checked_proc)):
            assert not problems_with(result, proc), problems_with(result, proc)
        if _facts_without_timing(checked) == _facts_without_timing(normal):
            break
    assert _facts_without_timing(checked) == _facts_without_timing(normal)
    inodes = set(r['inode'] for r in normal['ansible_facts']['sockets'] if r['netid'] in ('tcp', 'udp'))
    assert inodes == set(held['inodes']), 'the namespace holds exactly the helper\'s sockets'


def test_check_mode_gives_the_same_facts_ansible_adhoc(quiet_namespace):
    """Through ansible itself (--check), reading the quiet namespace with netns=: the same facts either way."""
    name, held = quiet_namespace
    runs = {}
    for mode, extra in (('normal', []), ('check', ['--check'])):
        results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'netns=%s summary=false' % name,
                                  extra=['-c', 'local'] + extra)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs[mode] = results['localhost']
        assert runs[mode]['changed'] is False
    assert _facts_without_timing(runs['check']) == _facts_without_timing(runs['normal'])
    records = runs['normal']['ansible_facts']['sockets']
    assert set(r['inode'] for r in records) == set(held['inodes']) and all(r['netns'] == name for r in records)
    assert all(held['pid'] in [p['pid'] for p in r['processes']] for r in records)
