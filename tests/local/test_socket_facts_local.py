# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts on this machine: short name, managed-host Pythons, unprivileged, examples."""

import os
import subprocess

import pytest

from support.natest import (ansible_doc, ansible_env, find_listener, local_playbook, plugin_doc, pyenv_python, run_adhoc,
                            run_playbook)
from support.scratch_netns import scratch_namespace


def test_short_name_resolves_through_project_library(listener):
    port, inode, fd = listener
    results, proc = run_adhoc('localhost', 'socket_facts', 'listening=true', extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    found = find_listener(facts['sockets'], port, inode)
    assert len(found) == 1
    assert any(p['pid'] == os.getpid() and p['fd'] == fd for p in found[0]['processes'])


def test_short_name_fails_without_library_path(tmp_path):
    config = tmp_path / 'ansible.cfg'
    config.write_text('[defaults]\n')
    env = ansible_env(ANSIBLE_CONFIG=str(config))
    results, proc = run_adhoc('localhost', 'socket_facts', extra=['-c', 'local'], env=env)
    assert proc.returncode != 0
    assert 'socket_facts' in proc.stdout + proc.stderr


@pytest.mark.parametrize('version', ['3.8', '3.13'])
def test_managed_host_pythons(version, listener):
    python = pyenv_python(version)
    if python is None:
        pytest.skip('no pyenv Python %s on this machine' % version)
    port, inode, _fd = listener
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :%d"' % port,
                              extra=['-c', 'local', '-e', 'ansible_python_interpreter=%s' % python])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    assert [r['inode'] for r in facts['sockets']] == [inode]
    assert facts['socket_meta']['complete'] is True


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to start a run as another user')
def test_unprivileged_run_is_marked_incomplete(tmp_path, listener):
    port, inode, _fd = listener
    wrapper = tmp_path / 'python-as-nobody'
    wrapper.write_text('#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$@"\n')
    wrapper.chmod(0o755)
    env = ansible_env(ANSIBLE_PIPELINING='True', ANSIBLE_REMOTE_TMP='/tmp')
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'listening=true',
                              extra=['-c', 'local', '-e', 'ansible_python_interpreter=%s' % wrapper], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    found = find_listener(facts['sockets'], port, inode)
    assert len(found) == 1, 'the root-owned listener is still listed'
    assert found[0]['processes'] == [], 'its owner cannot be seen'
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert any('root' in reason or 'permission' in reason for reason in meta['incomplete_reasons'])


def test_bad_filter_is_a_clear_failure():
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :ssh2"', extra=['-c', 'local'])
    assert proc.returncode != 0
    result = results['localhost']
    assert 'ansible_facts' not in result
    assert 'ssh2' in result['msg']
    assert 'Traceback' not in result['msg']


def test_unknown_table_is_a_clear_failure():
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'tables=tcp,bogus', extra=['-c', 'local'])
    assert proc.returncode != 0
    assert 'bogus' in results['localhost']['msg']


def test_module_examples_run(tmp_path):
    """Every task in the module's EXAMPLES runs, in order, against localhost."""
    proc = run_playbook(local_playbook(tmp_path / 'examples.yml', tasks=plugin_doc('modules/socket_facts.py', 'EXAMPLES')))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'failed=0' in proc.stdout


def test_ansible_doc_renders():
    page = ansible_doc('module', 'netaudit.sockets.socket_facts')
    for text in ('socket_facts', 'OPTIONS', 'filter', 'tables', 'listening', 'processes', 'EXAMPLES', 'RETURN VALUES', 'socket_meta'):
        assert text in page


def test_psutil_backend_without_psutil_names_the_missing_library():
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'backend=psutil', extra=['-c', 'local'])
    assert proc.returncode != 0
    message = results['localhost']['msg']
    assert 'psutil' in message and 'Traceback' not in message


def test_proc_backend_and_summary(listener):
    port, inode, _fd = listener
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'backend=proc filter="sport = :%d"' % port,
                              extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    assert [r['inode'] for r in facts['sockets']] == [inode]
    assert facts['socket_meta']['backend'] == 'proc'
    assert facts['socket_meta']['complete'] is False, 'the /proc reader cannot give every field'
    assert facts['socket_summary']['tcp']['total'] >= 1


@pytest.mark.root
def test_netns_option_labels_records(tmp_path):
    with scratch_namespace('na-lo', 'it makes a network namespace for the netns option') as name:
        subprocess.run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], check=True)
        holder = subprocess.Popen(['ip', 'netns', 'exec', name, '/usr/bin/python3', '-c',
                                   'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", 41099)); s.listen(1); '
                                   'print("ready", flush=True); sys.stdin.read()'],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == 'ready'
            results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'netns=%s listening=true' % name,
                                      extra=['-c', 'local'])
            assert proc.returncode == 0, proc.stdout + proc.stderr
            facts = results['localhost']['ansible_facts']
            assert [(r['local_port'], r['netns']) for r in facts['sockets']] == [(41099, name)]
            assert [p['pid'] for p in facts['sockets'][0]['processes']] == [holder.pid]
            assert facts['socket_meta']['netns'] == [name]
        finally:
            holder.kill()
            holder.wait()


def test_action_plugin_returns_the_records_the_module_returns_on_its_own(listener):
    """The action plugin has the module send its records as one JSON text (compact_transfer) and expands them; an
    async task calls the module directly (the ordinary return path). Both give the same record for this listener."""
    port, inode, _fd = listener
    direct, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'listening=true summary=false',
                             extra=['-c', 'local', '-v'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = direct['localhost']
    assert 'packed_sockets' not in result
    assert 'compact_transfer' not in result.get('invocation', {}).get('module_args', {})
    waited, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'listening=true summary=false',
                             extra=['-c', 'local', '-B', '60', '-P', '1'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours = find_listener(result['ansible_facts']['sockets'], port, inode)
    plain = find_listener(waited['localhost']['ansible_facts']['sockets'], port, inode)
    assert len(ours) == 1 and ours == plain
    assert set(ours[0]) == set(plain[0]) and 'port_locked' in ours[0]


def test_compact_transfer_is_refused_in_tasks():
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'compact_transfer=true', extra=['-c', 'local'])
    assert proc.returncode != 0
    assert 'compact_transfer: an internal option of netaudit.sockets.socket_facts' in results['localhost']['msg']
