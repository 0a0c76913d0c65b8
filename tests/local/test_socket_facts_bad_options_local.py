# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts (and port_verdict, which passes netns on) with option values of the wrong type
or a filter naming a device this host does not have: a failed task whose message names the option and the value,
never a Python traceback, and never an empty result that reads as "nothing there"."""

import json
import shutil
import subprocess

import pytest

from support.natest import local_playbook, run_adhoc, run_playbook

SHAPE = 'netns: expected a namespace name, a path, "all" or a list of them; '


def failed_cleanly(results, proc):
    """The one host's result, checked to be a failure without a traceback."""
    assert list(results) == ['localhost'], proc.stdout + proc.stderr
    result = results['localhost']
    # The tree callback keeps the module's answer; ansible's exit status and its line say the task failed.
    assert proc.returncode == 2 and 'localhost | FAILED! =>' in proc.stdout, proc.stdout + proc.stderr
    for text in (proc.stdout, proc.stderr, json.dumps(result)):
        assert 'Traceback' not in text and 'TypeError' not in text, text
    assert 'exception' not in result and 'module_stderr' not in result, result
    return result


@pytest.mark.parametrize('value, problem', [
    (5, 'got an integer (5)'),
    (True, 'got a boolean (true)'),
    ([1], 'item 1 of the list is an integer (1)'),
    ({}, 'got a mapping ({})'),
    ('', "got an empty string ('')"),
    (['all', None], 'item 2 of the list is null'),
])
def test_socket_facts_refuses_a_netns_value_of_the_wrong_type(value, problem):
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', json.dumps({'netns': value}), extra=['-c', 'local'])
    assert failed_cleanly(results, proc)['msg'] == SHAPE + problem


@pytest.mark.parametrize('value, problem', [
    (5, 'got an integer (5)'),
    (True, 'got a boolean (true)'),
    ([1], 'item 1 of the list is an integer (1)'),
])
def test_port_verdict_passes_netns_through_the_same_check(value, problem):
    args = {'policy': {'forbidden': ['tcp/1'], 'accept_incomplete': True}, 'netns': value}
    results, proc = run_adhoc('localhost', 'netaudit.sockets.port_verdict', json.dumps(args), extra=['-c', 'local'])
    assert failed_cleanly(results, proc)['msg'] == SHAPE + problem


def test_the_port_audit_role_passes_port_audit_netns_through_the_same_check(tmp_path):
    proc = run_playbook(local_playbook(tmp_path / 'play.yml', tasks=[
        {'ansible.builtin.include_role': {'name': 'netaudit.sockets.port_audit'},
         'vars': {'port_audit_forbidden': ['tcp/1'], 'port_audit_report_dir': str(tmp_path / 'reports'),
                  'port_audit_netns': 5}}]))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stdout + proc.stderr
    assert '"msg": "%s"' % (SHAPE + 'got an integer (5)').replace('"', '\\"') in proc.stdout, proc.stdout


@pytest.mark.skipif(not shutil.which('ss'), reason='needs the ss command')
def test_a_device_this_host_does_not_have_fails_the_task_as_ss_refuses_it():
    refused = subprocess.run(['ss', '-H', '-a', '-t', '-u', 'dev = nosuchdev0'], capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and 'Cannot parse device.' in refused.stderr
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', json.dumps({'filter': 'dev = nosuchdev0'}),
                              extra=['-c', 'local'])
    result = failed_cleanly(results, proc)
    assert result['msg'].startswith('filter: no device "nosuchdev0" on this host at word 3: "nosuchdev0" (ss refuses it too'), result
    assert 'ansible_facts' not in result


@pytest.mark.parametrize('args, message', [
    ({'tables': [1]}, 'tables: unknown socket table "1"'),
    ({'filter': 5}, 'filter: expected a condition'),
    ({'proc_root': 5}, 'proc_root'),
    ({'backend': 5}, 'value of backend must be one of'),
])
def test_other_options_of_the_wrong_type_fail_cleanly_too(args, message):
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', json.dumps(args), extra=['-c', 'local'])
    assert message in failed_cleanly(results, proc)['msg']
