# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the policy keys unit, container and package (issue 14; the _policy package,
_listening.py).

Each key is a glob judged on the record's field of that name: matched, not matched, none (null with no
`origin_unknown` entry: no pattern matches) and unknown (an entry, or facts from before `origin_unknown`: the rule
fails closed as `process` does for an unknown owner). The records are socket_facts records (new_record) with the
origin fields set as docs/records.md describes them; the last tests judge real facts gathered on this machine, with
/proc/PID/cgroup read here as the oracle.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket

import pytest
import yaml

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.matching import UNDECIDED, judge
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit
from support.listening_records import sock

NOW = '2025-06-01'
UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]')

CONTAINER_ID = '4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d'
SSH_UNIT = {'name': 'ssh.service', 'manager': 'system', 'uid': None, 'service': None}
SOCKET_UNIT = {'name': 'ssh.socket', 'manager': 'system', 'uid': None, 'service': 'ssh.service'}
USER_UNIT = {'name': 'app.service', 'manager': 'user', 'uid': 1000, 'service': None}
DOCKER = {'runtime': 'docker', 'id': CONTAINER_ID, 'name': 'web', 'pod': None, 'namespace': None, 'container': None}
KUBE = {'runtime': 'kubernetes', 'id': CONTAINER_ID, 'name': None, 'pod': 'api-7d9f', 'namespace': 'prod',
        'container': 'nginx'}
SSH_PACKAGE = {'name': 'openssh-server', 'manager': 'dpkg', 'path': '/usr/sbin/sshd'}
MULTIARCH = {'name': 'libc6:amd64, libc6:i386', 'manager': 'dpkg', 'path': '/usr/lib/x86_64-linux-gnu/ld.so'}


def record(port=22, procs=(('sshd', 712),), unit=None, container=None, package=None, unknown=None, **extra):
    """A listening TCP record with origin fields; `unknown` is its origin_unknown ({} when not given: all told)."""
    return sock('tcp', '0.0.0.0', port, procs=procs, unit=unit, container=container, package=package,
                origin_unknown={} if unknown is None else unknown, **extra)


def rule(spec, kind='forbidden'):
    return Rule(kind, 0, spec)


def judged(spec, rec):
    return judge(rule(spec), _listening.Listener(rec, 0))


def audit(records, policy):
    return port_audit(records, policy, now=NOW, socket_meta={'complete': True})


# --- loading --------------------------------------------------------------------------------------------------

def test_the_keys_load_as_globs_with_their_text_and_description():
    parsed = rule({'port': 22, 'process': 'sshd', 'unit': ['ssh.service', 'ssh.socket'], 'container': 'web*',
                   'package': 'openssh-server'})
    assert parsed.text == '22 process=sshd unit=ssh.service,ssh.socket container=web* package=openssh-server'
    described = parsed.describe()
    assert (described['unit'], described['container'], described['package']) == (
        ['ssh.service', 'ssh.socket'], ['web*'], ['openssh-server'])
    assert parsed.needs_owner() and parsed.origin_keys == ('unit', 'container', 'package')
    assert rule('tcp/22').describe()['unit'] is None and rule('tcp/22').origin_keys == ()


@pytest.mark.parametrize('spec, message', [
    ({'unit': ''}, 'policy.forbidden[0].unit: expected a unit name or glob, got ""'),
    ({'container': {'name': 'web'}}, 'policy.forbidden[0].container: expected a container name or glob or a list of them, got a dict'),
    ({'package': []}, 'policy.forbidden[0].package: expected a package name or glob or a list of them, got a list'),
    ({'package': [True]}, 'policy.forbidden[0].package: expected a package name or glob, got a boolean'),
])
def test_bad_values_name_the_key(spec, message):
    with pytest.raises(PolicyError) as caught:
        rule(spec)
    assert str(caught.value) == message


# --- matching -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('spec, fields, expected', [
    ({'unit': 'ssh.service'}, {'unit': SSH_UNIT}, True),
    ({'unit': 'ssh*'}, {'unit': SSH_UNIT}, True),
    ({'unit': '*.service'}, {'unit': SSH_UNIT}, True),
    ({'unit': 'SSH.service'}, {'unit': SSH_UNIT}, False),            # case-sensitive, as process is
    ({'unit': 'sshd.service'}, {'unit': SSH_UNIT}, False),
    ({'unit': 'ssh'}, {'unit': SSH_UNIT}, False),                    # a glob on the whole name
    # a socket systemd holds for socket activation: its .socket unit, or the service it starts
    ({'unit': 'ssh.socket'}, {'unit': SOCKET_UNIT}, True),
    ({'unit': 'ssh.service'}, {'unit': SOCKET_UNIT}, True),
    ({'unit': 'cups.service'}, {'unit': SOCKET_UNIT}, False),
    ({'unit': ['nginx.service', 'app.service']}, {'unit': USER_UNIT}, True),
    ({'unit': 'system'}, {'unit': SSH_UNIT}, False),                 # the manager is not matched
    ({'container': 'web'}, {'container': DOCKER}, True),
    ({'container': 'w?b'}, {'container': DOCKER}, True),
    ({'container': CONTAINER_ID}, {'container': DOCKER}, True),      # the full id
    ({'container': CONTAINER_ID[:12]}, {'container': DOCKER}, True),  # as docker ps shows it
    ({'container': '4f1c2d*'}, {'container': DOCKER}, True),
    ({'container': CONTAINER_ID[:11]}, {'container': DOCKER}, False),
    ({'container': 'docker'}, {'container': DOCKER}, False),         # the runtime is not matched
    ({'container': 'prod/api-7d9f'}, {'container': KUBE}, True),     # Kubernetes: namespace/pod
    ({'container': 'prod/api-7d9f/nginx'}, {'container': KUBE}, True),
    ({'container': 'prod/*/nginx'}, {'container': KUBE}, True),
    ({'container': 'prod/*'}, {'container': KUBE}, True),
    ({'container': 'staging/*'}, {'container': KUBE}, False),
    ({'container': 'api-7d9f'}, {'container': KUBE}, False),         # a pod name alone: always with its namespace
    ({'container': 'nginx'}, {'container': KUBE}, False),
    ({'package': 'openssh-server'}, {'package': SSH_PACKAGE}, True),
    ({'package': 'openssh-*'}, {'package': SSH_PACKAGE}, True),
    ({'package': 'openssh'}, {'package': SSH_PACKAGE}, False),
    ({'package': 'dpkg'}, {'package': SSH_PACKAGE}, False),          # the manager is not matched
    ({'package': 'libc6'}, {'package': MULTIARCH}, True),            # Multi-Arch: without the :arch suffix
    ({'package': 'libc6:i386'}, {'package': MULTIARCH}, True),       # each of the list, with it
    ({'package': 'libc6:amd64'}, {'package': MULTIARCH}, True),
    ({'package': 'libc6:*'}, {'package': MULTIARCH}, True),
    ({'package': 'libc6:arm64'}, {'package': MULTIARCH}, False),
    ({'package': 'libc6:amd64, libc6:i386'}, {'package': MULTIARCH}, False),   # the list as a whole is not a name
    ({'package': 'libc*'}, {'package': MULTIARCH}, True),
])
def test_each_key_matches_its_field(spec, fields, expected):
    assert judged(spec, record(**fields)) is expected
    assert judged(dict(spec, port=23), record(**fields)) is False       # the other keys still count


@pytest.mark.parametrize('key', ['unit', 'container', 'package'])
def test_null_with_no_entry_is_none_and_matches_no_pattern(key):
    rec = record()
    assert judged({key: '*'}, rec) is False
    assert audit([rec], {'forbidden': [{key: '*'}]})['compliant'] is True
    verdict = audit([rec], {'allowed': [{key: '*'}], 'closed_world': True})
    assert verdict['sockets'][0]['status'] == 'unexpected'
    assert verdict['violations'] == ['unexpected: tcp 0.0.0.0:22 (sshd pid 712, user root) matches no expected or '
                                     'allowed rule (closed world)']


@pytest.mark.parametrize('key', ['unit', 'container', 'package'])
def test_an_entry_makes_the_field_unknown_and_the_rule_fails_closed(key):
    rec = record(unknown={key: 'cgroup id 77 has no path: cgroup2 is not mounted'})
    assert judged({key: '*'}, rec) == UNDECIDED
    why = '%s unknown: cgroup id 77 has no path: cgroup2 is not mounted' % key
    forbidden = audit([rec], {'forbidden': [{'port': 22, key: 'nothing-like-it'}]})
    assert forbidden['compliant'] is False and forbidden['rules'][0]['status'] == 'violated'
    assert forbidden['violations'] == [
        'forbidden[0] (22 %s=nothing-like-it) cannot be ruled out: tcp 0.0.0.0:22 (sshd pid 712, user root; %s)'
        % (key, why)]
    assert forbidden['sockets'][0]['undecided'] == ['forbidden[0]']
    assert forbidden['sockets'][0]['origin_unknown'] == {key: 'cgroup id 77 has no path: cgroup2 is not mounted'}
    expected = audit([rec], {'expected': [{key: '*'}]})
    assert expected['rules'][0]['status'] == 'missing'
    assert expected['violations'] == [
        'expected[0] (* %s=*): nothing is listening that is known to match; the rule needs the %s, which is unknown '
        'for: tcp 0.0.0.0:22 (sshd pid 712, user root; %s)' % (key, key, why)]
    allowed = audit([rec], {'allowed': [{key: '*'}], 'closed_world': True})
    assert allowed['rules'][0]['message'] == (
        'allowed[0] (* %s=*): nothing listening is known to use it; the rule needs the %s, which is unknown for: '
        'tcp 0.0.0.0:22 (sshd pid 712, user root; %s)' % (key, key, why))
    assert allowed['violations'] == [
        'unexpected: tcp 0.0.0.0:22 (sshd pid 712, user root) matches no expected or allowed rule (closed world); '
        'allowed[0] needs its %s, which is unknown (%s: cgroup id 77 has no path: cgroup2 is not mounted)' % (key, key)]
    # A known owner does not make the unit known: the socket is not in `unknown_owner`.
    assert allowed['unknown_owner'] == [] and allowed['sockets'][0]['owner_unknown'] is None


@pytest.mark.parametrize('key', ['unit', 'container', 'package'])
@pytest.mark.parametrize('origin_unknown', ['missing', None, 'not a dict'])
def test_facts_without_origin_unknown_do_not_say(key, origin_unknown):
    rec = record()
    if origin_unknown == 'missing':
        del rec['origin_unknown']
    else:
        rec['origin_unknown'] = origin_unknown
    assert judged({key: '*'}, rec) == UNDECIDED
    verdict = audit([rec], {'forbidden': [{key: 'x'}]})
    assert verdict['violations'] == [
        'forbidden[0] (* %s=x) cannot be ruled out: tcp 0.0.0.0:22 (sshd pid 712, user root; %s unknown: the facts '
        'do not say (gathered before this field))' % (key, key)]
    assert verdict['sockets'][0]['origin_unknown'] == {'unit': 'not_said', 'container': 'not_said',
                                                       'package': 'not_said'}
    # Rules without these keys judge such facts as before.
    assert audit([rec], {'forbidden': [{'process': 'nc'}, 'tcp/23']})['compliant'] is True


def test_a_known_value_decides_even_when_part_of_the_field_is_unknown():
    # The host found the container (its id) but not its name: the id matches for certain; a name cannot be ruled out.
    nameless = dict(DOCKER, name=None)
    rec = record(container=nameless, unknown={'container': 'name not told: state file unreadable'})
    assert judged({'container': CONTAINER_ID[:12]}, rec) is True
    assert judged({'container': 'web'}, rec) == UNDECIDED
    verdict = audit([rec], {'forbidden': [{'container': 'web'}]})
    assert verdict['violations'] == [
        'forbidden[0] (* container=web) cannot be ruled out: tcp 0.0.0.0:22 (sshd pid 712, user root; container '
        'docker %s (in part unknown: name not told: state file unreadable))' % CONTAINER_ID[:12]]


def test_several_keys_a_false_one_decides_and_an_unknown_one_leaves_it_open():
    rec = record(unit=SSH_UNIT, unknown={'container': 'not_visible'})
    assert judged({'unit': 'ssh.service', 'container': 'web'}, rec) == UNDECIDED
    assert judged({'unit': 'cron.service', 'container': 'web'}, rec) is False     # the unit rules it out for certain
    assert judged({'process': 'nginx', 'container': 'web'}, rec) is False
    assert judged({'process': 'sshd', 'unit': 'ssh.*'}, rec) is True
    verdict = audit([rec], {'forbidden': [{'unit': 'ssh.service', 'container': 'web'}]})
    assert verdict['violations'] == [
        'forbidden[0] (* unit=ssh.service container=web) cannot be ruled out: tcp 0.0.0.0:22 (sshd pid 712, user '
        'root; unit ssh.service; container unknown: the owner is not visible to the module)']


def test_an_unknown_owner_and_an_unknown_field_are_both_named():
    rec = record(procs=(), owner_unknown='not_visible', unknown={'unit': 'not_visible'})
    verdict = audit([rec], {'expected': [{'process': 'sshd', 'unit': 'ssh.service'}], 'accept_incomplete': True})
    assert verdict['violations'] == [
        'expected[0] (* process=sshd unit=ssh.service): nothing is listening that is known to match; the rule needs '
        'the owner and the unit, which are unknown for: tcp 0.0.0.0:22 (owner unknown: not visible to the module, '
        'user root; unit unknown: the owner is not visible to the module)']


def test_a_unit_known_where_the_owner_is_not_is_judged():
    # Each key is judged on its own field: a record that tells the unit but not the owner (today's host code leaves
    # the unit unknown with the owner's reason, but the policy does not rely on it) is judged on the unit.
    rec = record(procs=(), owner_unknown='not_visible', unit=SSH_UNIT)
    assert judged({'unit': 'ssh.service'}, rec) is True
    assert judged({'unit': 'cron.service'}, rec) is False
    assert judged({'unit': 'ssh.service', 'process': 'sshd'}, rec) == UNDECIDED
    verdict = audit([rec], {'allowed': [{'unit': 'ssh.service'}], 'closed_world': True, 'accept_incomplete': True})
    assert verdict['compliant'] is True and verdict['sockets'][0]['status'] == 'allowed'
    assert verdict['rules'][0]['message'] == ('allowed[0] (* unit=ssh.service) allows: tcp 0.0.0.0:22 (owner unknown: '
                                              'not visible to the module, user root; unit ssh.service)')
    assert verdict['unknown_owner'][0]['owner_unknown'] == 'not_visible'


def test_matched_sockets_show_the_value_the_rule_was_judged_on():
    records = [record(unit=SOCKET_UNIT, package=SSH_PACKAGE),
               record(port=8080, procs=(('nginx', 40),), container=KUBE),
               record(port=9000, procs=(('java', 41),), container=DOCKER)]
    verdict = audit(records, {'expected': [{'port': 22, 'unit': 'ssh.service', 'package': 'openssh-server'}],
                              'allowed': [{'container': ['prod/*', 'web']}], 'closed_world': True})
    assert verdict['compliant'] is True
    assert verdict['rules'][0]['message'] == (
        'expected[0] (22 unit=ssh.service package=openssh-server) is listening: tcp 0.0.0.0:22 (sshd pid 712, user '
        'root; unit ssh.socket (service ssh.service); package openssh-server)')
    assert verdict['rules'][1]['message'] == (
        'allowed[0] (* container=prod/*,web) allows: tcp 0.0.0.0:8080 (nginx pid 40, user root; container kubernetes '
        'prod/api-7d9f/nginx); tcp 0.0.0.0:9000 (java pid 41, user root; container docker web)')
    entry = verdict['sockets'][0]
    assert entry['unit'] == SOCKET_UNIT and entry['package'] == SSH_PACKAGE and entry['container'] is None
    assert entry['origin_unknown'] == {}


# --- unknown_owner: ignore -------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', ['unit', 'container', 'package'])
def test_unknown_owner_ignore_covers_the_keys(key):
    rec = record(unknown={key: 'not_gathered'})
    for policy in ({'forbidden': [{key: 'x'}], 'unknown_owner': 'ignore'},
                   {'forbidden': [{key: 'x', 'unknown_owner': 'ignore'}]}):
        verdict = audit([rec], policy)
        assert verdict['compliant'] is True and verdict['rules'][0]['undecided'] == []
        assert verdict['rules'][0]['unknown_owner'] == 'ignore'
        text = '(* %s=x%s)' % (key, '' if 'unknown_owner' in policy else ' unknown_owner=ignore')
        assert verdict['notes'] == [
            'forbidden[0] %s needs the %s, which is unknown, and has unknown_owner: ignore, so it did not judge: '
            'tcp 0.0.0.0:22 (sshd pid 712, user root; %s unknown: not gathered)' % (text, key, key)]
    # The rule's own switch wins over the policy's.
    verdict = audit([rec], {'forbidden': [{key: 'x', 'unknown_owner': 'fail'}], 'unknown_owner': 'ignore'})
    assert verdict['compliant'] is False and verdict['rules'][0]['unknown_owner'] == 'fail'


def test_an_exception_with_a_unit_overrides_a_forbidden_rule_until_it_expires():
    legacy = {'name': 'legacy.service', 'manager': 'system', 'uid': None, 'service': None}
    rec = record(port=8080, procs=(('java', 9),), unit=legacy)
    policy = {'allowed': [{'unit': 'legacy.service', 'until': '2025-12-31', 'reason': 'CHG-1'}],
              'forbidden': ['tcp/8080']}
    assert port_audit([rec], policy, now='2025-06-01')['compliant'] is True
    late = port_audit([rec], policy, now='2026-01-01')
    assert late['compliant'] is False and late['expired_exceptions'][0]['message'] == (
        'allowed[0] (* unit=legacy.service) expired on 2025-12-31 and no longer applies; it would match tcp '
        '0.0.0.0:8080 (java pid 9, user root; unit legacy.service) [reason: CHG-1]')
    # An exception that cannot vouch for the socket (its unit unknown) does not cover it.
    unknown = dict(rec, unit=None, origin_unknown={'unit': 'not_visible'})
    assert port_audit([unknown], policy, now='2025-06-01')['compliant'] is False


# --- hostile strings --------------------------------------------------------------------------------------------

HOSTILE_UNIT = {'name': 'a\x1b[2J.service', 'manager': 'system', 'uid': None, 'service': 'b\udcff\u202e.service'}
HOSTILE_CONTAINER = {'runtime': 'docker\x07', 'id': 'f' * 64, 'name': 'web\x1b]0;pwn\x07', 'pod': None,
                     'namespace': None, 'container': None}
HOSTILE_PACKAGE = {'name': 'p\udcfe\u2028kg:amd64', 'manager': 'dpkg', 'path': '/usr/bin/x\x1b'}


def test_hostile_values_reach_messages_escaped():
    rec = record(unit=HOSTILE_UNIT, container=HOSTILE_CONTAINER, package=HOSTILE_PACKAGE)
    verdict = audit([rec], {'forbidden': [{'unit': 'a*', 'container': 'web*', 'package': 'p*'}], 'closed_world': True})
    assert verdict['compliant'] is False
    message = verdict['violations'][0]
    assert not UNSAFE.search(''.join(verdict['violations'] + [r['message'] for r in verdict['rules']]))
    assert message.endswith('(sshd pid 712, user root; unit a\\x1b[2J.service (service b\\xff\\u202e.service); '
                            'container docker\\x07 web\\x1b]0;pwn\\x07; package p\\xfe\\u2028kg:amd64)')
    # Structured fields: cleaned (invalid UTF-8 as \xNN), controls kept for JSON to escape.
    entry = verdict['sockets'][0]
    assert entry['unit']['service'] == 'b\\xff\u202e.service' and entry['container']['name'] == 'web\x1b]0;pwn\x07'
    assert entry['package']['name'] == 'p\\xfe\u2028kg:amd64'
    json.dumps(verdict).encode('utf-8')
    # Policies match what the facts and reports show: the cleaned form, escapes and all.
    assert judged({'unit': 'b\\xff*'}, rec) is True
    assert judged({'package': 'p\\xfe\u2028kg'}, rec) is True


def test_a_hostile_container_id_is_cut_before_it_is_escaped():
    # The first 12 characters of the id the host sent, each escaped whole: never half an escape.
    hostile = dict(DOCKER, name=None, id='\udcff' * 11 + '\x1b' + 'a' * 52)
    rec = record(container=hostile)
    verdict = audit([rec], {'forbidden': [{'container': '*'}]})
    assert verdict['violations'][0].endswith('; container docker %s\\x1b)' % ('\\xff' * 11))
    assert judged({'container': '\\xff' * 11 + '\x1b'}, rec) is True      # the short id, cleaned
    assert judged({'container': '\\xff' * 11}, rec) is False


def test_hostile_reasons_reach_messages_escaped():
    reason = 'cgroup \x1b[2J\udcff\u202e path'
    rec = record(unknown={'unit': reason, 'container': 'x\ny', 'package': 7})
    forbidden = audit([rec], {'forbidden': [{'unit': 'z'}]})
    assert forbidden['violations'] == ['forbidden[0] (* unit=z) cannot be ruled out: tcp 0.0.0.0:22 (sshd pid 712, '
                                       'user root; unit unknown: cgroup \\x1b[2J\\xff\\u202e path)']
    policy = {'allowed': [{'unit': 'a', 'container': 'b', 'package': 'c'}, {'unit': 'z'}], 'closed_world': True}
    verdict = audit([rec], policy)
    lines = verdict['violations'] + [r['message'] for r in verdict['rules'] + forbidden['rules']] + verdict['notes']
    assert not UNSAFE.search(''.join(lines))
    assert verdict['violations'] == [
        'unexpected: tcp 0.0.0.0:22 (sshd pid 712, user root) matches no expected or allowed rule (closed world); '
        'allowed[0] needs its unit, its container and its package, which are unknown (unit: cgroup '
        '\\x1b[2J\\xff\\u202e path; container: x\\x0ay; package: 7); allowed[1] needs its unit, which is unknown '
        '(unit: cgroup \\x1b[2J\\xff\\u202e path)']
    assert verdict['rules'][0]['message'] == (
        'allowed[0] (* unit=a container=b package=c): nothing listening is known to use it; the rule needs the unit, '
        'the container and the package, which are unknown for: tcp 0.0.0.0:22 (sshd pid 712, user root; unit '
        'unknown: cgroup \\x1b[2J\\xff\\u202e path; container unknown: x\\x0ay; package unknown: 7)')
    assert verdict['sockets'][0]['origin_unknown'] == {'unit': 'cgroup \x1b[2J\\xff\u202e path', 'container': 'x\ny',
                                                       'package': '7'}
    json.dumps(verdict).encode('utf-8')


# --- real facts of this machine ---------------------------------------------------------------------------------

# The units systemd puts processes in (systemd.unit(5)): a process's unit is the innermost such part of its cgroup.
PROCESS_UNIT = re.compile(r'.+\.(service|scope)\Z')


def cgroup_unit(pid):
    """The oracle: the unit of process `pid` from its cgroup v2 line in /proc/PID/cgroup (0::/PATH), read here;
    None when the path has no unit in it (as on a machine where processes are in no unit); False when unreadable."""
    try:
        with open('/proc/%d/cgroup' % pid) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    paths = [line[3:] for line in lines if line.startswith('0::')]
    if not paths:
        return False
    units = [part for part in paths[0].split('/') if PROCESS_UNIT.match(part)]
    return units[-1] if units else None


def test_real_facts_judged_on_unit_star():
    with socket.socket() as held:
        held.bind(('127.0.0.1', 0))
        held.listen(8)
        port, inode = held.getsockname()[1], os.fstat(held.fileno()).st_ino
        facts = _gather.gather(tables=('tcp',), listening=True)
    records = [r for r in facts['sockets'] if _listening.listeners([r])]
    mine = [r for r in records if r['local_port'] == port and r['inode'] == inode]
    assert len(mine) == 1 and [p['pid'] for p in mine[0]['processes']] == [os.getpid()]
    star = rule({'unit': '*'})
    compared = 0
    for rec in records:
        listener = _listening.Listener(rec, 0)
        unknown = isinstance(rec['origin_unknown'], dict) and 'unit' in rec['origin_unknown']
        expected = UNDECIDED if unknown and rec['unit'] is None else (rec['unit'] is not None)
        assert judge(star, listener) == expected, rec
        owners = sorted(p['pid'] for p in rec['processes'])
        if unknown or not owners or owners[0] == 1:
            continue    # pid 1 holds socket-activated sockets: their unit is the .socket unit, not its cgroup's
        oracle = cgroup_unit(owners[0])
        if oracle is False:
            continue    # the owner exited since
        assert (rec['unit'] or {}).get('name') == oracle, (rec, oracle)
        assert judge(star, listener) is (oracle is not None)
        compared += 1
    assert compared >= 1      # this test's own listener at least
    # This test's process: what /proc/self/cgroup says decides the rule for its socket.
    own = cgroup_unit(os.getpid())
    assert judge(star, _listening.Listener(mine[0], 0)) is (own is not None)

    verdict = port_audit(facts, {'forbidden': [{'unit': '*'}], 'accept_incomplete': True}, now=NOW)
    hits = [s['port'] for s in verdict['rules'][0]['sockets']]
    assert sorted(hits) == sorted(r['local_port'] for r in records
                                  if judge(star, _listening.Listener(r, 0)) in (True, UNDECIDED))
    assert (port in hits) is (own is not None)
    for entry in verdict['rules'][0]['undecided']:
        rec = [r for r in records if r['local_port'] == entry['port'] and r['local_address'] == entry['address']][0]
        assert entry['origin_unknown']['unit'] == rec['origin_unknown']['unit']
        assert 'unit unknown: %s' % _listening.origin_unknown_text(rec['origin_unknown']['unit']) in \
            verdict['rules'][0]['message']


def test_real_facts_without_packages_fail_closed_on_package():
    with socket.socket() as held:
        held.bind(('127.0.0.1', 0))
        held.listen(8)
        port = held.getsockname()[1]
        facts = _gather.gather(tables=('tcp',), listening=True, filter_text='sport = :%d' % port)
    rec, = facts['sockets']
    assert rec['package'] is None and rec['origin_unknown'].get('package') == 'not_gathered'
    verdict = port_audit(copy.deepcopy(facts), {'forbidden': [{'package': 'no-such-package'}],
                                                'accept_incomplete': True}, now=NOW)
    assert verdict['compliant'] is False
    assert verdict['violations'][0].endswith('; package unknown: not gathered)')


# --- docs/policy.md ---------------------------------------------------------------------------------------------

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'docs', 'policy.md')


def docs_text():
    with open(DOCS, encoding='utf-8') as handle:
        return handle.read()


def test_the_documented_policy_judges_as_the_docs_say():
    blocks = [block for block in re.findall(r'```yaml\n(.*?)```', docs_text(), re.S) if 'name: web containers' in block]
    assert len(blocks) == 1
    policy = yaml.safe_load(blocks[0])['port_policy']
    resolver = record(port=53, procs=(('systemd-resolve', 500),), unit={
        'name': 'systemd-resolved.service', 'manager': 'system', 'uid': None, 'service': None})
    resolver['local_address'] = '127.0.0.53'
    good = [record(unit=SSH_UNIT), resolver, record(port=8080, procs=(('docker-proxy', 50),), container=DOCKER),
            record(port=443, procs=(('nginx', 51),), container=dict(KUBE, namespace='ingress-nginx')),
            record(port=9100, procs=(('node_exporter', 52),), package={
                'name': 'prometheus-node-exporter', 'manager': 'dpkg', 'path': '/usr/bin/prometheus-node-exporter'})]
    assert audit(good, policy)['compliant'] is True, audit(good, policy)['violations']
    # ssh.socket, held by systemd for socket activation: its service is ssh.service.
    activated = [record(procs=(('systemd', 1),), unit=SOCKET_UNIT)] + good[1:]
    assert audit(activated, policy)['compliant'] is True
    # sshd started by hand in a session: unexpected, and ssh is missing.
    by_hand = [record(unit={'name': 'session-4.scope', 'manager': 'system', 'uid': None, 'service': None})] + good[1:]
    verdict = audit(by_hand, policy)
    assert [r['id'] for r in verdict['missing']] == ['expected[0]'] and len(verdict['unexpected']) == 1
    # Another container, and a host process, on a container port: unexpected.
    for stranger in (record(port=8081, procs=(('java', 60),), container=dict(DOCKER, name='db', id='e' * 64)),
                     record(port=8081, procs=(('java', 60),))):
        verdict = audit(good + [stranger], policy)
        assert [s['port'] for s in verdict['unexpected']] == [8081]
    # Unknown unit: the ssh rule is missing, and says why.
    unknown = [record(unknown={'unit': 'not_visible'})] + good[1:]
    verdict = audit(unknown, policy)
    assert verdict['missing'][0]['message'].endswith('(sshd pid 712, user root; unit unknown: the owner is not visible '
                                                     'to the module)')


def test_the_documented_messages_are_the_verdicts():
    text = docs_text()
    lines = [
        audit([record(unit=SSH_UNIT, unknown={'container': 'not_visible'})],
              {'forbidden': [{'port': 22, 'unit': 'ssh.service', 'container': 'web'}]})['violations'][0],
        audit([dict(record(), origin_unknown=None)], {'expected': [{'unit': 'ssh.service'}]})['violations'][0],
        audit([record(port=8080, procs=(('java', 41),), user='app', uid=1001, unknown={'container': 'not_visible'})],
              {'allowed': ['tcp/22', {'container': 'web'}], 'closed_world': True})['violations'][0],
    ]
    for line in lines:
        assert '\n%s\n' % line in text, line
    for shown in ('(sshd pid 712, user root; unit ssh.socket (service ssh.service))',
                  '(nginx pid 40, user root; container kubernetes\nprod/api-7d9f/nginx)',
                  '(java pid 41, user root; container docker web)',
                  '(sshd pid 712, user root; package\nopenssh-server)'):
        assert shown in text, shown
