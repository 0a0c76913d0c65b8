# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Acceptance test of the port_baseline role over ssh against the namespace fleet: record, drift, fail, update."""

import json
import os
import re

from support.fleet_listener import start_listener as start_in
from support.natest import ansible_env, run_playbook

PYTHON = '/usr/bin/python3'

# The role inside a block, so that each host's result is saved even when the role fails the host.
PLAYBOOK = """
- name: Baseline and drift
  hosts: all
  gather_facts: false
  tasks:
    - name: Run the role and keep its result
      block:
        - name: Include port_baseline
          ansible.builtin.include_role:
            name: netaudit.sockets.port_baseline
      always:
        - name: Save the result on the controller
          ansible.builtin.copy:
            content: "{{ port_baseline_result | default({}) | to_json }}"
            dest: "{{ results_dir }}/{{ inventory_hostname }}.json"
            mode: "0600"
          delegate_to: localhost
"""


class Run(object):
    """One ansible-playbook run of the role and every host's port_baseline_result."""

    def __init__(self, fleet, tmp_path, label, **role_vars):
        results_dir = tmp_path / ('results-' + label)
        results_dir.mkdir()
        extra = dict(role_vars, results_dir=str(results_dir), port_baseline_dir=str(tmp_path / 'baselines'))
        playbook = tmp_path / 'baseline.yml'
        playbook.write_text(PLAYBOOK)
        self.proc = run_playbook(str(playbook), inventory=fleet.inventory, env=ansible_env(**fleet.env),
                                 extra=['-e', json.dumps(extra)])
        self.output = self.proc.stdout + self.proc.stderr
        self.results = {}
        for path in results_dir.iterdir():
            self.results[path.stem] = json.loads(path.read_text())

    def failed_hosts(self):
        return sorted(host for host, failed in re.findall(r'^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)',
                                                          self.proc.stdout, re.M) if failed != '0')

    def ids(self, host, key):
        return [entry['id'] for entry in self.results[host][key]]


def start_listener(fleet, host, kind, port, executable=PYTHON):
    """A listener on 0.0.0.0 whose process is named after EXECUTABLE's file name (python3 by default)."""
    return start_in(fleet, host, kind, '0.0.0.0', port, python=executable)


def stop(proc):
    proc.kill()
    proc.wait(timeout=10)


def test_drift_opened_closed_changed_owner(fleet_factory, tmp_path):
    fleet = fleet_factory(size=3)
    start_listener(fleet, 'h1', 'tcp', 18101)                    # stays as it is
    closing = start_listener(fleet, 'h1', 'tcp', 18102)          # stopped after the baseline
    swapped = start_listener(fleet, 'h1', 'tcp', 18103)          # another program takes its port
    start_listener(fleet, 'h2', 'udp', 18201)

    first = Run(fleet, tmp_path, 'record')
    assert first.proc.returncode == 0, first.output
    assert sorted(first.results) == ['h1', 'h2', 'h3']
    for host in ('h1', 'h2', 'h3'):
        result = first.results[host]
        assert result['action'] == 'recorded' and result['drift'] is False, result
        assert result['baseline'] == str(tmp_path / 'baselines' / (host + '.json'))
        stored = json.loads((tmp_path / 'baselines' / (host + '.json')).read_text())
        assert stored['host'] == host and any(r['local_port'] == 22 for r in stored['sockets'])
    assert 'tcp/18101 (python3), tcp/18102 (python3), tcp/18103 (python3)' in first.results['h1']['summary']

    # Drift on h1 (all three kinds) and h2 (one opened); h3 untouched.
    stop(closing)
    stop(swapped)
    otherd = tmp_path / 'otherd'
    os.symlink(PYTHON, otherd)   # the process name (comm) comes from the executable's file name
    start_listener(fleet, 'h1', 'tcp', 18103, executable=str(otherd))
    start_listener(fleet, 'h1', 'udp', 18104)
    start_listener(fleet, 'h2', 'tcp', 18202)
    baselines = {path.name: path.read_bytes() for path in (tmp_path / 'baselines').iterdir()}

    second = Run(fleet, tmp_path, 'compare')
    assert second.proc.returncode == 0, second.output
    h1 = second.results['h1']
    assert (h1['action'], h1['drift']) == ('compared', True)
    assert second.ids('h1', 'opened') == ['udp/18104']
    assert h1['opened'][0]['processes'] == ['python3']
    assert second.ids('h1', 'closed') == ['tcp/18102']
    assert h1['closed'][0]['processes'] == ['python3']
    assert [(c['id'], c['changes'], c['before']['processes'], c['after']['processes']) for c in h1['changed']] == [
        ('tcp/18103', ['processes'], ['python3'], ['otherd'])]
    assert h1['summary'].startswith('drift since ')
    for text in ('opened udp/18104 (python3)', 'closed tcp/18102 (python3)', 'changed tcp/18103 (processes python3 -> otherd)'):
        assert text in h1['summary'] and text in second.output
    h2 = second.results['h2']
    assert (second.ids('h2', 'opened'), h2['closed'], h2['changed']) == (['tcp/18202'], [], [])
    h3 = second.results['h3']
    assert (h3['drift'], h3['opened'], h3['closed'], h3['changed']) == (False, [], [], [])
    assert h3['summary'].startswith('no drift since ') and h3['complete'] is True
    assert second.output.count('"msg": "no drift since ') == 1
    assert {path.name: path.read_bytes() for path in (tmp_path / 'baselines').iterdir()} == baselines

    # fail_on_drift fails the hosts that drifted, and only them.
    failing = Run(fleet, tmp_path, 'fail', port_baseline_fail_on_drift=True)
    assert failing.proc.returncode != 0, failing.output
    assert failing.failed_hosts() == ['h1', 'h2'], failing.output
    assert failing.results['h3']['drift'] is False
    assert 'changed tcp/18103 (processes python3 -> otherd)' in failing.output

    # update accepts the drift (and does not fail); the next run sees none.
    updating = Run(fleet, tmp_path, 'update', port_baseline_update=True, port_baseline_fail_on_drift=True)
    assert updating.proc.returncode == 0, updating.output
    assert [updating.results[host]['action'] for host in ('h1', 'h2', 'h3')] == ['updated'] * 3
    assert ' accepted: opened udp/18104 (python3); closed tcp/18102 (python3)' in updating.results['h1']['summary']
    assert updating.results['h3']['summary'].startswith('baseline updated in ')
    last = Run(fleet, tmp_path, 'after-update', port_baseline_fail_on_drift=True)
    assert last.proc.returncode == 0, last.output
    assert all(result['summary'].startswith('no drift since ') for result in last.results.values()), last.results
    assert sorted(last.results) == ['h1', 'h2', 'h3']

    # A baseline recorded with other options: what they leave out shows as closed, and the line says why.
    narrower = Run(fleet, tmp_path, 'tcp-only', port_baseline_tables=['tcp'])
    assert narrower.proc.returncode == 0, narrower.output
    assert narrower.ids('h2', 'closed') == ['udp/18201']
    assert '[the baseline was recorded with other options: ' in narrower.results['h2']['summary']
