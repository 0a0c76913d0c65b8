# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: verdicts fail closed on sockets whose owner is unknown (the _policy package, _listening.py).

The sockets are real: the test listens on them, gathers them with the collection's own gather() (with processes=False,
or from a PID namespace of its own, where the module cannot see the process that holds them) and judges the records
it gets. The oracle that a record is this test's socket is the socket's inode, read with fstat.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy import keys as policy_keys
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError

NOW = '2025-06-01'
ME = pwd.getpwuid(os.geteuid()).pw_name     # the user the sockets' records name
# The owner_unknown reasons a record may carry (docs/records.md), and 'unknown' for records without the key.
REASONS = ('not_gathered', 'not_visible', 'exited', 'kernel', 'unknown')
needs_pid_namespace = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare'),
                                         reason='needs root and unshare to gather from a PID namespace of its own')


@contextlib.contextmanager
def listening(count=2):
    """`count` real TCP listeners on 127.0.0.1: {port: inode}."""
    held = []
    try:
        for _number in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind(('127.0.0.1', 0))
            sock.listen(8)
        yield dict((sock.getsockname()[1], os.fstat(sock.fileno()).st_ino) for sock in held)
    finally:
        for sock in held:
            sock.close()


def port_filter(ports):
    return ' or '.join('sport = :%d' % port for port in sorted(ports))


def ours(facts, held):
    """The records of the held sockets, checked against the oracle: one record per socket, with its inode."""
    found = dict((r['local_port'], r) for r in facts['sockets'] if r['local_port'] in held and r['state'] == 'LISTEN')
    assert sorted(found) == sorted(held), facts['sockets']
    assert dict((port, r['inode']) for port, r in found.items()) == held
    return [found[port] for port in sorted(found)]


def gathered(held, processes):
    facts = _gather.gather(listening=True, processes=processes, filter_text=port_filter(held))
    return facts, ours(facts, held)


GATHER = '''import json, sys
from ansible_collections.netaudit.sockets.plugins.module_utils._gather import gather
print(json.dumps(gather(listening=True, processes=True, filter_text=sys.argv[1])))
'''


def gathered_from_own_pid_namespace(held):
    """Issue 12, item 1: the module run from a PID namespace of its own that shares the host's network."""
    path = _gather.__file__
    collections = path[:path.rindex(os.sep + 'ansible_collections' + os.sep)]
    done = subprocess.run(['unshare', '--pid', '--fork', '--mount-proc', sys.executable, '-c', GATHER, port_filter(held)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False,
                          env=dict(os.environ, PYTHONPATH=collections))
    assert done.returncode == 0, done.stderr.decode('utf-8', 'replace')
    facts = json.loads(done.stdout.decode('utf-8'))
    return facts, ours(facts, held)


def reason_of(record):
    """The reason the verdict must give: the record's own, or 'unknown' for a record that does not say."""
    return record.get('owner_unknown') or 'unknown'


def with_reason(records, reason):
    """Copies of real records as the module returns a socket whose owner it could not find, for this reason."""
    copies = copy.deepcopy(records)
    for record in copies:
        record['processes'] = []
        record['owner_unknown'] = reason
    return copies


def audit(facts, policy):
    return port_audit(facts, policy, now=NOW)


# --- issue 12, item 1: owners hidden by a PID namespace ---------------------------------------------------------

@needs_pid_namespace
def test_item1_forbidden_any_process_is_not_compliant_when_the_module_cannot_see_the_owners():
    with listening() as held:
        facts, records = gathered_from_own_pid_namespace(held)
        # The attack: these are this process's sockets, and the module saw no owner for them.
        assert [r['processes'] for r in records] == [[], []]
        policy = {'forbidden': [{'process': '*'}], 'accept_incomplete': True}
        verdict = audit(facts, policy)
        assert verdict['compliant'] is False
        result = verdict['rules'][0]
        assert (result['status'], result['passed'], result['unknown_owner']) == ('violated', False, 'fail')
        assert sorted(s['port'] for s in result['sockets']) == sorted(held)
        assert sorted(s['port'] for s in result['undecided']) == sorted(held)
        reason = reason_of(records[0])
        assert reason in ('not_visible', 'unknown')
        assert result['message'].startswith('forbidden[0] (* process=*) cannot be ruled out: tcp 127.0.0.1:')
        assert result['message'].count('(owner unknown: %s, user %s)' % (_listening.OWNER_UNKNOWN_REASONS[reason], ME)) == 2
        assert verdict['violations'][0] == result['message']
        assert [(s['port'], s['owner_unknown'], s['status'], s['undecided']) for s in verdict['unknown_owner']] == [
            (port, reason, 'forbidden', ['forbidden[0]']) for port in sorted(held)]
        assert verdict['summary']['unknown_owner'] == 2 and verdict['summary']['forbidden'] == 1


@needs_pid_namespace
def test_item1_the_same_sockets_with_visible_owners_are_judged_on_their_names():
    with listening() as held:
        facts, records = gathered(held, processes=True)
        name = records[0]['processes'][0]['name']
        assert records[0]['processes'][0]['pid'] == os.getpid()
        assert audit(facts, {'forbidden': [{'process': 'no-such-process'}]})['compliant'] is True
        assert audit(facts, {'forbidden': [{'process': name}]})['compliant'] is False
        hidden, _records = gathered_from_own_pid_namespace(held)
        # Not visible: "no-such-process" cannot be ruled out any more.
        verdict = audit(hidden, {'forbidden': [{'process': 'no-such-process'}], 'accept_incomplete': True})
        assert verdict['compliant'] is False and verdict['rules'][0]['status'] == 'violated'


# --- issue 12, item 2: an owner that exited (or hopped pid) while the module looked ----------------------------

def test_item2_forbidden_nc_catches_a_listener_whose_owner_exited():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        facts = dict(facts, sockets=with_reason(records, 'exited'))
        verdict = audit(facts, {'forbidden': [{'port': '1-65535', 'process': 'nc'}]})
        port = list(held)[0]
        assert verdict['compliant'] is False
        assert verdict['violations'] == [
            'forbidden[0] (1-65535 process=nc) cannot be ruled out: tcp 127.0.0.1:%d (owner unknown: the owner exited '
            'or changed pid while the module looked, user %s)' % (port, ME)]
        assert verdict['sockets'][0]['status'] == 'forbidden'
        assert verdict['sockets'][0]['owner_unknown'] == 'exited'


@pytest.mark.parametrize('reason', REASONS)
def test_every_reason_fails_a_forbidden_owner_rule(reason):
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        facts = dict(facts, sockets=with_reason(records, reason))
        verdict = audit(facts, {'forbidden': [{'process': 'nc'}]})
        assert verdict['compliant'] is False
        assert '(owner unknown: %s, user %s)' % (_listening.OWNER_UNKNOWN_REASONS[reason], ME) in verdict['violations'][0]


def test_processes_not_gathered():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        assert records[0]['processes'] == []
        verdict = audit(facts, {'forbidden': [{'process': 'nc'}]})
        assert verdict['compliant'] is False
        assert verdict['sockets'][0]['owner_unknown'] == reason_of(records[0])
        assert reason_of(records[0]) in ('not_gathered', 'unknown')


# --- expected and allowed rules are not satisfied by an unknown owner ----------------------------------------

def test_expected_rule_is_missing_and_names_the_unknown_owner_sockets():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        port = list(held)[0]
        facts = dict(facts, sockets=with_reason(records, 'not_visible'))
        verdict = audit(facts, {'expected': [{'port': port, 'process': 'sshd'}, 'tcp/%d' % port]})
        assert verdict['compliant'] is False
        assert [r['status'] for r in verdict['rules']] == ['missing', 'ok']
        assert verdict['violations'] == [
            'expected[0] (%d process=sshd): nothing is listening that is known to match; the rule needs the owner, which '
            'is unknown for: tcp 127.0.0.1:%d (owner unknown: not visible to the module, user %s)' % (port, port, ME)]
        assert [s['port'] for s in verdict['rules'][0]['undecided']] == [port]
        assert verdict['rules'][0]['sockets'] == []
        # The rule without an owner key is satisfied: only owner keys fail closed.
        assert verdict['sockets'][0]['status'] == 'expected'
        assert verdict['sockets'][0]['rules'] == ['expected[1]'] and verdict['sockets'][0]['undecided'] == ['expected[0]']


def test_expected_rule_holds_when_another_socket_has_a_known_owner():
    with listening(2) as held:
        facts, records = gathered(held, processes=True)
        name = records[0]['processes'][0]['name']
        records[1] = with_reason([records[1]], 'exited')[0]
        verdict = audit(dict(facts, sockets=records), {'expected': [{'process': name}]})
        assert verdict['compliant'] is True
        result = verdict['rules'][0]
        assert [s['port'] for s in result['sockets']] == [records[0]['local_port']]
        assert [s['port'] for s in result['undecided']] == [records[1]['local_port']]


def test_allowed_rule_does_not_allow_in_a_closed_world():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        port = list(held)[0]
        facts = dict(facts, sockets=with_reason(records, 'not_visible'))
        verdict = audit(facts, {'allowed': [{'process': 'python*'}], 'closed_world': True})
        assert verdict['compliant'] is False
        assert verdict['violations'] == [
            'unexpected: tcp 127.0.0.1:%d (owner unknown: not visible to the module, user %s) matches no expected or '
            'allowed rule (closed world); allowed[0] needs its owner, which is unknown' % (port, ME)]
        assert verdict['rules'][0]['status'] == 'ok'
        assert verdict['rules'][0]['message'] == (
            'allowed[0] (* process=python*): nothing listening is known to use it; the rule needs the owner, which is '
            'unknown for: tcp 127.0.0.1:%d (owner unknown: not visible to the module, user %s)' % (port, ME))
        # In an open world the socket is unlisted, which is no violation.
        assert audit(facts, {'allowed': [{'process': 'python*'}]})['sockets'][0]['status'] == 'unlisted'


# --- the switches ------------------------------------------------------------------------------------------------

def test_unknown_owner_ignore_is_the_old_behaviour_and_is_noted():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        port = list(held)[0]
        facts = dict(facts, sockets=with_reason(records, 'exited'))
        verdict = audit(facts, {'forbidden': [{'process': 'nc'}], 'unknown_owner': 'ignore'})
        assert verdict['compliant'] is True and verdict['unknown_owner_mode'] == 'ignore'
        assert verdict['rules'][0]['status'] == 'ok' and verdict['rules'][0]['undecided'] == []
        assert verdict['rules'][0]['unknown_owner'] == 'ignore'
        assert verdict['notes'] == [
            'forbidden[0] (* process=nc) needs the owner, which is unknown, and has unknown_owner: ignore, so it did not '
            'judge: tcp 127.0.0.1:%d (owner unknown: the owner exited or changed pid while the module looked, user %s)'
            % (port, ME)]
        # The socket is still listed as one whose owner is unknown.
        assert [s['port'] for s in verdict['unknown_owner']] == [port]


@pytest.mark.parametrize('policy_mode, rule_mode, compliant', [
    (None, None, False), ('fail', None, False), ('ignore', None, True),
    (None, 'ignore', True), ('fail', 'ignore', True), ('ignore', 'fail', False), ('IGNORE ', None, True),
])
def test_rule_switch_wins_over_the_policy_switch(policy_mode, rule_mode, compliant):
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        facts = dict(facts, sockets=with_reason(records, 'not_visible'))
        rule = {'process': 'nc'}
        if rule_mode is not None:
            rule['unknown_owner'] = rule_mode
        policy = {'forbidden': [rule, 'tcp/1']}
        if policy_mode is not None:
            policy['unknown_owner'] = policy_mode
        assert audit(facts, policy)['compliant'] is compliant


def test_a_live_exception_covers_a_socket_a_forbidden_rule_cannot_rule_out():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        port = list(held)[0]
        facts = dict(facts, sockets=with_reason(records, 'not_visible'))
        policy = {'allowed': [{'port': port, 'until': '2025-12-31', 'reason': 'CHG-7'}], 'forbidden': [{'process': 'nc'}]}
        verdict = audit(facts, policy)
        assert verdict['compliant'] is True
        forbidden = verdict['rules'][1]
        assert forbidden['status'] == 'ok' and forbidden['sockets'] == [] and forbidden['undecided'] == []
        assert [s['port'] for s in forbidden['excepted']] == [port]
        assert (verdict['sockets'][0]['status'], verdict['sockets'][0]['exception']) == ('allowed', 'allowed[0]')


def test_rules_without_owner_keys_are_unaffected():
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        port = list(held)[0]
        facts = dict(facts, sockets=with_reason(records, 'not_visible'))
        verdict = audit(facts, {'expected': ['tcp/%d' % port], 'forbidden': ['tcp/1', {'user': 'nobody'}]})
        assert verdict['compliant'] is True
        assert [r['undecided'] for r in verdict['rules']] == [[], [], []]
        assert [r['unknown_owner'] for r in verdict['rules']] == [None, None, None]


# --- records from before owner_unknown ---------------------------------------------------------------------------

@pytest.mark.parametrize('inode, meta, reason', [
    (1234, {'complete': True}, 'unknown'),
    (1234, {'complete': True, 'owners_visible': None}, 'not_gathered'),
    (1234, {'complete': False, 'owners_visible': False}, 'not_visible'),
    (1234, {'complete': True, 'owners_visible': True}, 'unknown'),
    (0, {'complete': True}, 'kernel'),
])
def test_records_without_owner_unknown(inode, meta, reason):
    with listening(1) as held:
        facts, records = gathered(held, processes=False)
        old = copy.deepcopy(records)
        for record in old:
            record.pop('owner_unknown', None)
            record['inode'] = inode
        verdict = port_audit(old, {'forbidden': [{'process': 'nc'}], 'accept_incomplete': True}, now=NOW,
                             socket_meta=meta)
        assert verdict['compliant'] is False
        assert verdict['sockets'][0]['owner_unknown'] == reason


def test_a_named_owner_is_known_whatever_owner_unknown_says():
    with listening(1) as held:
        facts, records = gathered(held, processes=True)
        records[0]['owner_unknown'] = 'exited'
        assert _listening.owner_unknown(records[0]) is None
        records[0]['processes'] = [{'name': None, 'pid': 5, 'fd': 3}]
        assert _listening.owner_unknown(records[0]) == 'exited'


# --- the policy switch's input ---------------------------------------------------------------------------------

@pytest.mark.parametrize('policy, message', [
    ({'unknown_owner': 'maybe'}, 'policy.unknown_owner: "maybe": expected fail or ignore'),
    ({'unknown_owner': True}, 'policy.unknown_owner: expected fail or ignore, got a boolean'),
    ({'unknown_owner': ['fail']}, 'policy.unknown_owner: expected fail or ignore, got a list'),
    ({'forbidden': ['tcp/1', 'tcp/2', {'process': 'nc', 'unknown_owner': 'skip'}]},
     'policy.forbidden[2].unknown_owner: "skip": expected fail or ignore'),
    ({'allowed': [{'process': 'nc', 'unknown_owner': 0}]}, 'policy.allowed[0].unknown_owner: expected fail or ignore, '
                                                           'got a value of type int'),
    ({'expected': [{'process': 'nc', 'unknown_owner': 'f\x1b[2Jail'}]},
     'policy.expected[0].unknown_owner: "f\\x1b[2Jail": expected fail or ignore'),
])
def test_bad_switch_values(policy, message):
    with pytest.raises(PolicyError) as caught:
        port_audit([], policy, now=NOW)
    assert str(caught.value) == message


def test_switch_in_rule_text_and_description():
    rule = Rule('forbidden', 0, {'port': 23, 'process': ['nc', 'ncat'], 'unknown_owner': 'Ignore'})
    assert rule.text == '23 process=nc,ncat unknown_owner=ignore'
    assert rule.describe()['unknown_owner'] == 'ignore' and rule.describe()['process'] == ['nc', 'ncat']
    assert Rule('forbidden', 0, {'port': 23}).describe()['unknown_owner'] is None
    assert 'unknown_owner' in policy_keys.POLICY_KEYS and 'unknown_owner' in policy_keys.RULE_KEYS
    assert set(policy_keys.OWNER_KEYS) <= set(policy_keys.RULE_KEYS)
