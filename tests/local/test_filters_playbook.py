# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible-playbook runs of the filters on this machine's socket facts, their EXAMPLES, and ansible-doc."""

import os
import random
import socket

import pytest
import yaml

from support.natest import ansible_doc, local_playbook, plugin_doc, run_playbook

FILTERS = ('ss_filter', 'listening_ports', 'port_audit', 'socket_diff')
BAD_RULE_MESSAGE = 'port_audit: policy.expected[1]: "tcp/80-70": the range is reversed'


def bind_below_ephemeral(sock):
    """Bind to a free port under the ephemeral range (32768 and up here). socket_diff names a listener on an ephemeral
    port by its owner, and the other test worker (also "python") may hold one: a fixed port keeps this one apart."""
    for port in random.Random(os.getpid()).sample(range(20000, 32000), 200):
        try:
            sock.bind(('127.0.0.1', port))
            return
        except OSError:
            continue
    raise RuntimeError('no free port in 20000-31999 after 200 tries')


@pytest.fixture()
def low_listener():
    """A TCP listener of this test process on 127.0.0.1 below the ephemeral range: (port, inode)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bind_below_ephemeral(sock)
    sock.listen(5)
    yield sock.getsockname()[1], os.fstat(sock.fileno()).st_ino
    sock.close()


def play(tasks, **play_vars):
    return [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'vars': play_vars, 'tasks': tasks}]


def filter_tasks():
    """Every filter from YAML, asserting on this test's own listener; the last task shows a filter error."""
    return [
        {'name': 'Gather every socket', 'netaudit.sockets.socket_facts': None},
        {'name': 'ss_filter finds the test listener', 'ansible.builtin.set_fact': {
            'mine': "{{ ansible_facts.sockets | netaudit.sockets.ss_filter('state listening sport = :' ~ test_port) }}",
            'baseline': "{{ ansible_facts.sockets | netaudit.sockets.ss_filter('not sport = :' ~ test_port) }}"}},
        {'ansible.builtin.assert': {'that': [
            'mine | length == 1', 'mine[0].inode == inode | int', 'mine[0].local_address == "127.0.0.1"',
            'baseline | length == ansible_facts.sockets | length - 1',
            "(ansible_facts | netaudit.sockets.ss_filter('sport = :' ~ test_port, tables=['udp'])) == []"]}},
        {'name': 'listening_ports lists it', 'ansible.builtin.set_fact': {
            'ports': '{{ ansible_facts.sockets | netaudit.sockets.listening_ports }}',
            'bound': '{{ ansible_facts.sockets | netaudit.sockets.listening_ports(with_address=true, with_family=true) }}'}},
        {'ansible.builtin.assert': {'that': [
            "('tcp/' ~ test_port) in ports", "('tcp4/' ~ test_port ~ '@127.0.0.1') in bound", 'ports == ports | unique | list']}},
        {'name': 'port_audit with the whole ansible_facts', 'ansible.builtin.set_fact': {
            'verdict': '{{ ansible_facts | netaudit.sockets.port_audit(policy, now="2025-06-01") }}'}},
        {'ansible.builtin.assert': {'that': [
            'verdict.compliant', 'verdict.rules[0].status == "ok"', 'verdict.rules[0].sockets | length == 1',
            'verdict.rules[0].sockets[0].pids | length >= 1', 'verdict.rules[1].status == "expired"',
            'verdict.rules[2].status == "ok"',
            'verdict.expired_exceptions | map(attribute="id") | list == ["allowed[0]"]'],
            'fail_msg': '{{ verdict.violations }}'}},
        {'name': 'port_audit with the records and socket_meta apart', 'ansible.builtin.set_fact': {
            'verdict2': "{{ ansible_facts.sockets | netaudit.sockets.port_audit({'forbidden': ['tcp/' ~ test_port]}, "
                        "socket_meta=ansible_facts.socket_meta) }}"}},
        {'ansible.builtin.assert': {'that': [
            'not verdict2.compliant', 'verdict2.forbidden[0].sockets[0].port == test_port | int',
            "verdict2.violations[0] is search('forbidden, but listening: tcp 127.0.0.1:' ~ test_port)"]}},
        {'name': 'socket_diff sees the listener open', 'ansible.builtin.set_fact': {
            'drift': '{{ baseline | netaudit.sockets.socket_diff(ansible_facts, ephemeral=true) }}',
            'default_drift': '{{ baseline | netaudit.sockets.socket_diff(ansible_facts) }}'}},
        {'ansible.builtin.assert': {'that': [
            'drift.drift', "drift.opened | map(attribute='id') | list == ['tcp/' ~ test_port]", 'drift.closed == []',
            # by default a listener on an ephemeral port is named by its owner, on another port by its port
            "default_drift.opened | length == 1", "default_drift.opened[0].id is match('tcp/(ephemeral[(].+[)]|[0-9]+)$')",
            "default_drift.opened[0].port in [none, test_port | int]"]}},
        {'name': 'A bad rule fails with the filter, the argument and the item named', 'block': [
            {'ansible.builtin.debug': {'msg': "{{ ansible_facts | netaudit.sockets.port_audit({'expected': ['tcp/22', "
                                              "'tcp/80-70']}) }}"}},
        ], 'rescue': [
            {'ansible.builtin.debug': {'msg': 'FILTER ERROR: {{ ansible_failed_result.msg }}'}},
            {'ansible.builtin.assert': {'that': ['expected_message in ansible_failed_result.msg']}},
            {'ansible.builtin.set_fact': {'rescued': True}},
        ]},
        {'ansible.builtin.assert': {'that': ['rescued | default(false)']}},
    ]


def test_filters_from_a_playbook(tmp_path, low_listener):
    port, inode = low_listener
    policy = {
        'expected': ['tcp/%d@loopback' % port],
        'allowed': [{'name': 'old exception', 'port': port, 'until': '2025-01-31'}],
        'forbidden': ['tcp/%d@public' % port],
        'accept_incomplete': True,
    }
    playbook = tmp_path / 'filters.yml'
    playbook.write_text(yaml.safe_dump(play(filter_tasks(), test_port=port, inode=inode, policy=policy,
                                            expected_message=BAD_RULE_MESSAGE)))
    proc = run_playbook(str(playbook))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'failed=0' in proc.stdout and 'rescued=1' in proc.stdout
    assert 'FILTER ERROR: ' in proc.stdout and BAD_RULE_MESSAGE in proc.stdout
    assert 'Traceback' not in proc.stdout + proc.stderr


def test_an_unrescued_filter_error_fails_the_task_with_the_message(tmp_path):
    playbook = tmp_path / 'bad.yml'
    playbook.write_text(yaml.safe_dump(play([
        {'netaudit.sockets.socket_facts': {'listening': True}},
        {'ansible.builtin.debug': {'msg': "{{ ansible_facts.sockets | netaudit.sockets.ss_filter('sport = :ssh2') }}"}},
    ])))
    proc = run_playbook(str(playbook))
    assert proc.returncode != 0
    assert 'ss_filter: expression "sport = :ssh2": expected a port after "sport =" at word 3: ":ssh2"' in proc.stdout + proc.stderr


@pytest.mark.parametrize('name', FILTERS)
def test_sidecar_examples_run(tmp_path, name):
    """Every task of the filter's EXAMPLES runs, in order, against localhost."""
    proc = run_playbook(local_playbook(tmp_path / 'examples.yml', tasks=plugin_doc('filter/%s.yml' % name, 'EXAMPLES')))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'failed=0' in proc.stdout


@pytest.mark.parametrize('name', FILTERS)
def test_ansible_doc_renders(name):
    page = ansible_doc('filter', 'netaudit.sockets.' + name)
    documentation = plugin_doc('filter/%s.yml' % name, 'DOCUMENTATION')
    for text in ['netaudit.sockets.' + name, 'OPTIONS', 'EXAMPLES', 'RETURN VALUES', 'POSITIONAL'] + list(documentation['options']):
        assert text in page, text
