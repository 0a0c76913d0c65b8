# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""socket_facts over ssh against the namespace fleet: ad hoc, short name, FACTS_MODULES, managed-host Pythons."""

import pytest

from support.fleet_listener import start_listener
from support.natest import ansible_env, parse_ss, pyenv_python, run_adhoc, run_playbook


def identities(records):
    return sorted((r['netid'], r['state'], r['local_address'], r['local_port'], r['inode'],
                   tuple(sorted((p['name'], p['pid'], p['fd']) for p in r['processes']))) for r in records)


def ss_identities(fleet, host, family_of_star):
    out = fleet.run_in(host, ['ss', '-Htulnpe']).stdout
    result = []
    for s in parse_ss(out):
        address = s['local_address']
        if address == '*':
            address = family_of_star
        result.append((s['netid'], s['state'], address, s['local_port'], s['inode'], tuple(s['processes'])))
    return sorted(result)


def test_adhoc_each_host_reports_only_its_own_sockets(fleet):
    start_listener(fleet, 'h2', 'tcp', '::', 47001)
    start_listener(fleet, 'h3', 'udp', '::', 47002)
    results, proc = run_adhoc('all', 'netaudit.sockets.socket_facts', 'listening=true', inventory=fleet.inventory,
                              env=ansible_env(**fleet.env))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(results) == ['h1', 'h2', 'h3']
    for host in fleet.hosts:
        facts = results[host.name]['ansible_facts']
        sockets = facts['sockets']
        sshd = [r for r in sockets if r['netid'] == 'tcp' and r['local_port'] == 22]
        assert [(r['local_address'], r['state']) for r in sshd] == [(host.address, 'LISTEN')]
        assert any(p['name'] == 'sshd' for p in sshd[0]['processes'])
        ports = set((r['netid'], r['local_port']) for r in sockets)
        assert (('tcp', 47001) in ports) == (host.name == 'h2')
        assert (('udp', 47002) in ports) == (host.name == 'h3')
        # The oracle: ss inside the same host, listing listening sockets with owners.
        assert identities(sockets) == ss_identities(fleet, host.name, '::')


def test_short_name_works_with_project_config(fleet):
    results, proc = run_adhoc('h1', 'socket_facts', 'filter="sport = :22"', inventory=fleet.inventory,
                              env=ansible_env(**fleet.env))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sockets = results['h1']['ansible_facts']['sockets']
    assert sockets and all(r['local_port'] == 22 for r in sockets)
    assert results['h1']['ansible_facts']['socket_meta']['kernel_filtered'] is True


def test_gather_facts_with_facts_modules(fleet, tmp_path):
    playbook = tmp_path / 'gather.yml'
    playbook.write_text("""
- hosts: all
  gather_facts: true
  tasks:
    - name: Both fact modules ran
      ansible.builtin.assert:
        that:
          - ansible_facts['hostname'] == inventory_hostname
          - sshd | length == 1
          - sshd[0].local_address == ansible_host
          - ansible_facts['socket_meta']['backend'] == 'netlink'
      vars:
        sshd: "{{ ansible_facts['sockets'] | selectattr('local_port', 'equalto', 22) | selectattr('state', 'equalto', 'LISTEN') | list }}"
""")
    env = ansible_env(ANSIBLE_FACTS_MODULES='ansible.builtin.setup,netaudit.sockets.socket_facts', **fleet.env)
    proc = run_playbook(str(playbook), inventory=fleet.inventory, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('failed=0') == len(fleet.hosts)


def test_managed_host_pythons_over_ssh(fleet_factory):
    pythons = {'h1': pyenv_python('3.8'), 'h2': pyenv_python('3.13')}
    missing = [name for name, path in pythons.items() if path is None]
    if missing:
        pytest.skip('pyenv Pythons 3.8 and 3.13 are needed: missing for %s' % missing)
    fleet = fleet_factory(size=2, hostvars=dict((name, {'ansible_python_interpreter': path}) for name, path in pythons.items()))
    env = ansible_env(**fleet.env)
    versions, proc = run_adhoc('all', 'ansible.builtin.setup', 'filter=ansible_python_version', inventory=fleet.inventory, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert versions['h1']['ansible_facts']['ansible_python_version'].startswith('3.8.')
    assert versions['h2']['ansible_facts']['ansible_python_version'].startswith('3.13.')
    results, proc = run_adhoc('all', 'netaudit.sockets.socket_facts', 'filter="state listening"', inventory=fleet.inventory, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in fleet.hosts:
        sockets = results[host.name]['ansible_facts']['sockets']
        assert [(r['local_address'], r['local_port']) for r in sockets] == [(host.address, 22)]
