# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of the role's two actions, port_verdict and port_reports, on this machine.

port_verdict is judged against a listener this test opens; port_reports against the audit_report filter run in
the same playbook (the files must hold exactly what the filter renders) and against the files on disk."""

import json
import os
import stat

import pytest
import yaml

from support.natest import local_playbook, plugin_doc, run_playbook


def play(tmp_path, tasks, *extra):
    return run_playbook(local_playbook(tmp_path / 'play.yml', tasks=tasks), extra=list(extra))


def refused(tmp_path, action, args):
    """What a play of one task, netaudit.sockets.ACTION with ARGS, printed: the task failed (ansible's exit 2) with
    no traceback."""
    proc = play(tmp_path, [{'netaudit.sockets.' + action: args}])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert 'Traceback' not in output, output
    return output


def results(tmp_path):
    """The variables the play saved with save(), by name."""
    return dict((path.name[:-len('.saved.json')], json.loads(path.read_text()))
                for path in tmp_path.glob('*.saved.json'))


def save(name):
    """A task that saves a variable as JSON in the play's folder, for results()."""
    return {'ansible.builtin.copy': {'content': '{{ %s | to_json }}' % name, 'mode': '0600',
                                     'dest': '{{ playbook_dir }}/%s.saved.json' % name}, 'check_mode': False}


def test_verdict_judges_a_real_listener_and_returns_the_facts(tmp_path, listener_port):
    policy = {'expected': ['tcp/%d@loopback' % listener_port], 'forbidden': ['tcp/%d@public' % listener_port, 'tcp/1'],
              'accept_incomplete': True}
    proc = play(tmp_path, [
        {'netaudit.sockets.port_verdict': {'policy': policy}, 'register': 'good'},
        {'netaudit.sockets.port_verdict': {'policy': {'forbidden': ['tcp/%d' % listener_port], 'accept_incomplete': True},
                                           'tables': ['tcp']}, 'register': 'bad'},
        save('good'), save('bad'),
        {'ansible.builtin.assert': {'that': ["ansible_facts.sockets | selectattr('local_port', 'eq', %d) | list | length == 1"
                                             % listener_port]}},
    ], '-v')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = results(tmp_path)
    good, bad = found['good'], found['bad']
    assert good['changed'] is False and good['gathered'] is True
    assert good['verdict']['compliant'], good['verdict']['violations']
    assert [rule['status'] for rule in good['verdict']['rules']] == ['ok', 'ok', 'ok']
    assert good['msg'].startswith('localhost: compliant: 3 rules hold')
    assert not bad['verdict']['compliant']
    assert [entry['port'] for entry in bad['verdict']['forbidden'][0]['sockets']] == [listener_port]
    violation, = bad['verdict']['violations']
    assert '127.0.0.1:%d' % listener_port in violation and 'python' in violation, violation
    assert bad['msg'].startswith('localhost: NOT compliant: 1 violation (1 forbidden)')


def test_verdict_without_gathering_judges_the_facts_there_are(tmp_path, listener_port):
    proc = play(tmp_path, [
        {'netaudit.sockets.socket_facts': {'listening': True, 'tables': ['tcp']}},
        {'netaudit.sockets.port_verdict': {'policy': {'expected': ['tcp/%d' % listener_port], 'accept_incomplete': True},
                                           'gather': False}, 'register': 'cached'},
        save('cached'),
    ])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cached = results(tmp_path)['cached']
    assert cached['gathered'] is False and 'ansible_facts' not in cached
    assert cached['verdict']['compliant'], cached['verdict']['violations']


@pytest.mark.parametrize('args, message', [
    ({'policy': {'expected': []}, 'gather': False},
     'no socket facts for localhost: with port_audit_gather false they must already be gathered'),
    ({'policy': {'expected': ['tcp/80-70']}}, 'port_audit: policy.expected[0]: "tcp/80-70": the range is reversed'),
    ({'policy': {}, 'exceptions': ['tcp/23']}, 'port_audit_exceptions: each exception is a rule mapping with an end date'),
    ({'policy': {}, 'exceptions': [{'port': 23}]}, "these are not: [{'port': 23}]"),
    ({'policy': {}, 'date': '2026-13-01'}, 'port_audit: '),
    ({'policy': 'tcp/22'}, "argument 'policy' is of type"),
    ({'policy': {}, 'bogus': 1}, 'port_verdict) module: bogus. Supported parameters include: date, exceptions, gather, netns, policy, tables'),
])
def test_verdict_errors_name_the_input(tmp_path, args, message):
    output = refused(tmp_path, 'port_verdict', args)
    assert message in output, output
    assert 'MODULE FAILURE' not in output, output


VERDICTS = {
    'web1': {'expected': ['tcp/1']},
    'web2': {'forbidden': ['tcp/1']},
}


def report_play(tmp_path, dest, formats, *extra):
    """Judge two fake hosts' records, then write and render their reports."""
    sockets = [{'netid': 'tcp', 'state': 'LISTEN', 'local_address': '0.0.0.0', 'local_port': 1, 'family': 'inet',
                'processes': [{'name': 'sshd', 'pid': 10, 'fd': 3}], 'user': 'root', 'v6only': None,
                'interface': None, 'netns': None}]
    tasks = [
        {'ansible.builtin.set_fact': {'verdicts': dict(
            (host, "{{ records | netaudit.sockets.port_audit(policies['%s'], now='2026-01-01') }}" % host)
            for host in VERDICTS)}, 'vars': {'records': sockets, 'policies': VERDICTS}},
        {'netaudit.sockets.port_reports': {'verdicts': '{{ verdicts | combine({"down": false}) }}', 'dest': str(dest),
                                           'formats': formats, 'title': 'Nightly'}, 'register': 'written'},
        save('written'),
        {'ansible.builtin.set_fact': {'summary': '{{ verdicts | combine({"down": false}) | netaudit.sockets.audit_report("summary") }}'}},
        save('summary'),
    ] + [{'ansible.builtin.copy': {'content': '{{ verdicts | combine({"down": false}) | netaudit.sockets.audit_report("%s", '
                                              'title="Nightly") }}' % fmt, 'dest': str(tmp_path / ('expected.' + fmt)),
                                   'mode': '0600'}} for fmt in formats]
    return play(tmp_path, tasks, *extra)


def test_reports_hold_what_the_filter_renders_and_are_rewritten_only_on_change(tmp_path):
    dest = tmp_path / 'new' / 'reports'
    formats = ['json', 'markdown', 'junit', 'html', 'text']
    proc = report_play(tmp_path, dest, formats)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = results(tmp_path)['written']
    assert written['changed'] is True
    assert written['reports'] == [str(dest / name) for name in
                                  ('port-audit.json', 'port-audit.md', 'port-audit.junit.xml', 'port-audit.html',
                                   'port-audit.txt')]
    assert written['msg'] == ['Nightly: 3 hosts: 1 compliant, 1 NOT compliant, 1 without a verdict'] + results(
        tmp_path)['summary'].splitlines()
    assert written['msg'][2:] == ['web1: compliant: 1 rule holds, 1 listening socket',
                                  'web2: NOT compliant: 1 violation (1 forbidden), 1 listening socket']
    assert sorted(os.listdir(dest)) == sorted(os.path.basename(path) for path in written['reports'])
    for fmt, path in zip(formats, written['reports']):
        assert (tmp_path / ('expected.' + fmt)).read_text() == open(path, encoding='utf-8').read(), fmt
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o755
    before = dict((path, os.stat(path).st_mtime_ns) for path in written['reports'])

    again = report_play(tmp_path, dest, formats)
    assert again.returncode == 0, again.stdout
    assert results(tmp_path)['written']['changed'] is False
    assert before == dict((path, os.stat(path).st_mtime_ns) for path in written['reports'])

    # Check mode writes nothing and says what would change; an empty list of formats only shows the verdicts.
    os.unlink(written['reports'][0])
    checked = report_play(tmp_path, dest, ['json'], '--check')
    assert checked.returncode == 0, checked.stdout
    assert results(tmp_path)['written']['changed'] is True and not os.path.exists(written['reports'][0])
    none = report_play(tmp_path, tmp_path / 'never', [])
    assert none.returncode == 0, none.stdout
    assert results(tmp_path)['written']['reports'] == [] and not os.path.exists(tmp_path / 'never')
    assert results(tmp_path)['written']['msg'][0].startswith('Nightly: 3 hosts: ')
    assert not [name for name in os.listdir(dest) if name.startswith('.')]


@pytest.mark.parametrize('args, message', [
    ({'verdicts': {'h1': {'compliant': True}}, 'dest': '/tmp'}, 'port_reports: verdicts[h1]: not a port_audit verdict'),
    ({'verdicts': {}, 'dest': '/tmp', 'formats': ['pdf']}, 'formats'),
    ({'verdicts': {}, 'dest': '/tmp', 'name': '../x'}, 'port_reports: name: expected a file name without "/"'),
    ({'verdicts': {}, 'dest': '/proc/no/such/folder'}, 'port_reports: cannot write the reports in /proc/no/such/folder'),
    ({'dest': '/tmp'}, 'verdicts'),
])
def test_reports_errors_name_the_input(tmp_path, args, message):
    output = refused(tmp_path, 'port_reports', args)
    assert message in output, output


def test_module_examples_run(tmp_path, listener_port):
    for name in ('port_verdict', 'port_reports'):
        tasks = plugin_doc('modules/%s.py' % name, 'EXAMPLES')
        if name == 'port_reports':
            for task in tasks:
                if 'netaudit.sockets.port_reports' in task:
                    task['netaudit.sockets.port_reports']['dest'] = str(tmp_path / 'reports')
        else:
            # The waiting example expects a service on 8080; point it at this test's listener.
            tasks = yaml.safe_load(yaml.safe_dump(tasks).replace('tcp/8080', 'tcp/%d' % listener_port))
        proc = play(tmp_path, tasks)
        assert proc.returncode == 0, proc.stdout + proc.stderr
