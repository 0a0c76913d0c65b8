# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The port_audit role on this machine, through the paths the fleet tests do not take: port_audit_netns against a
scratch namespace that holds the test's own listeners (and nothing else, so a second run must rewrite no report),
and port_audit_gather false with the facts from ansible's fact cache."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from support.natest import ansible_env, local_playbook, run_adhoc, run_playbook
from support.scratch_netns import scratch_namespace

LOOPBACK_PORT = 18611
PUBLIC_PORT = 18612
LISTENERS = '''
import socket, sys, time
kept = []
for address, port in (('127.0.0.1', %d), ('0.0.0.0', %d)):
    sock = socket.socket()
    sock.bind((address, port))
    sock.listen(5)
    kept.append(sock)
print('ready', flush=True)
sys.stdin.read()
''' % (LOOPBACK_PORT, PUBLIC_PORT)


def audit_playbook(tmp_path, variables):
    """A play on localhost that runs the role with these variables (gather_facts off)."""
    return local_playbook(tmp_path / 'audit.yml', roles=[{'role': 'netaudit.sockets.port_audit', 'vars': variables}])


@pytest.mark.root
def test_role_in_a_namespace_labels_its_sockets_and_rewrites_nothing_the_second_time(tmp_path):
    with scratch_namespace('na-t-pa') as namespace:
        subprocess.run(['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up'], check=True)
        holder = subprocess.Popen(['ip', 'netns', 'exec', namespace, sys.executable, '-c', LISTENERS],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == 'ready'
            reports = tmp_path / 'reports'
            playbook = audit_playbook(tmp_path, {
                'port_audit_netns': [namespace], 'port_audit_fail': False, 'port_audit_report_dir': str(reports),
                'port_audit_report_formats': ['json', 'junit', 'markdown', 'html'],
                'port_audit_expected': ['tcp/%d@loopback' % LOOPBACK_PORT],
                'port_audit_forbidden': [{'proto': 'tcp', 'port': PUBLIC_PORT, 'name': 'public test port'}]})
            first = run_playbook(playbook)
            assert first.returncode == 0, first.stdout + first.stderr
            with open(reports / 'port-audit.json') as handle:
                verdict = json.load(handle)['hosts']['localhost']
            assert not verdict['compliant']
            # Only the namespace was read: its two listeners, each labelled with its name.
            labelled = sorted((s['port'], s['netns']) for s in verdict['sockets'])
            assert labelled == [(LOOPBACK_PORT, namespace), (PUBLIC_PORT, namespace)]
            [forbidden] = verdict['forbidden']
            assert forbidden['name'] == 'public test port'
            assert [(s['port'], s['netns'], s['processes']) for s in forbidden['sockets']] == [
                (PUBLIC_PORT, namespace, [os.path.basename(sys.executable)])]
            assert verdict['missing'] == []
            assert 'in netns %s' % namespace in (reports / 'port-audit.md').read_text()

            second = run_playbook(playbook)
            assert second.returncode == 0, second.stdout + second.stderr
            assert 'changed=0' in second.stdout, second.stdout
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)


def test_role_judges_the_facts_in_the_fact_cache_without_gathering(tmp_path, tcp_listener):
    port = tcp_listener.getsockname()[1]
    env = ansible_env(ANSIBLE_CACHE_PLUGIN='jsonfile', ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / 'cache'),
                      ANSIBLE_CACHE_PLUGIN_TIMEOUT='3600')
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'listening=true', extra=['-c', 'local'], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(s['local_port'] == port for s in results['localhost']['ansible_facts']['sockets'])
    tcp_listener.close()        # from now on only the cache knows this listener

    variables = {'port_audit_expected': ['tcp/%d@loopback' % port], 'port_audit_fail': True,
                 'port_audit_accept_incomplete': True, 'port_audit_report_dir': str(tmp_path / 'reports')}
    cached = run_playbook(audit_playbook(tmp_path, dict(variables, port_audit_gather=False)), env=env)
    assert cached.returncode == 0, cached.stdout + cached.stderr
    assert 'localhost: compliant' in cached.stdout
    # The control: gathering now finds the listener gone, so the same policy fails the host.
    gathered = run_playbook(audit_playbook(tmp_path, variables), env=env)
    assert gathered.returncode == 2, gathered.stdout + gathered.stderr
    assert 'missing' in gathered.stdout and str(port) in gathered.stdout


def test_a_second_run_of_the_role_shows_no_old_verdict_for_a_host_that_failed_before_it(tmp_path):
    """Two hosts (both this machine); the role runs, then b fails, then the role runs again: b's report entry is
    `no verdict`, not the verdict it had from the first run."""
    reports = tmp_path / 'reports'
    role = {'role': 'netaudit.sockets.port_audit', 'vars': {
        'port_audit_fail': False, 'port_audit_accept_incomplete': True, 'port_audit_report_dir': str(reports),
        'port_audit_report_formats': ['json'], 'port_audit_tables': ['tcp']}}
    playbook = tmp_path / 'twice.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'all', 'connection': 'local', 'gather_facts': False,
        'tasks': [{'ansible.builtin.include_role': {'name': role['role']}, 'vars': role['vars']},
                  {'name': 'b fails', 'ansible.builtin.fail': {'msg': 'b is gone'}, 'when': "inventory_hostname == 'b'"},
                  {'ansible.builtin.include_role': {'name': role['role']}, 'vars': role['vars']}]}]))
    proc = run_playbook(str(playbook), inventory='a,b,')
    assert 'b is gone' in proc.stdout, proc.stdout + proc.stderr
    with open(reports / 'port-audit.json') as handle:
        hosts = json.load(handle)['hosts']
    assert hosts['a']['compliant'] is True
    assert hosts['b'] is None, hosts['b']      # the JSON report's `no verdict`
