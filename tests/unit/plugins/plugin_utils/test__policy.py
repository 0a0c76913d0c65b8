# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: port policy rules and the audit verdict (the _policy package)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.matching import matches
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.policy import compile_policy
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.rule import Rule
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy.verdict import port_audit
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record
from support.listening_records import (
    CUPS, CUPS6, ESTAB, ETH_DEV, LO_DEV, MAPPED, NS_SOCK, RAW, RESOLVED, SCTP, SSH4, SSH6_DUAL, SSH6_ONLY, SSH6_UNKNOWN,
    UNBOUND_UDP, UNIX, WEB, WEB6, listener,
)


def rule(spec, kind='expected'):
    return Rule(kind, 0, spec)


# --- rule parsing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('spec, expected', [
    ('tcp/22', {'proto': ['tcp'], 'port': 22, 'family': None, 'bind': None}),
    ('udp/5353', {'proto': ['udp'], 'port': 5353, 'bind': None}),
    ('22', {'proto': None, 'port': 22}),
    (22, {'proto': None, 'port': 22}),
    ('TCP/22', {'proto': ['tcp'], 'port': 22}),
    ('tcp/8000-8099@loopback', {'proto': ['tcp'], 'port': '8000-8099', 'bind': ['loopback']}),
    ('tcp/22@any', {'bind': ['any']}),
    ('tcp/22@*', {'bind': ['any']}),
    ('tcp/22@public', {'bind': ['public']}),
    ('tcp/22@0.0.0.0', {'bind': ['0.0.0.0']}),
    ('tcp/22@[::1]', {'bind': ['::1']}),
    ('tcp/22@::1', {'bind': ['::1']}),
    ('tcp/22@::ffff:127.0.0.1', {'bind': ['127.0.0.1']}),
    ('tcp/22@10.0.0.0/8', {'bind': ['10.0.0.0/8']}),
    ('tcp/22@10.1.2.3/8', {'bind': ['10.0.0.0/8']}),
    ('tcp/22@[2001:db8::/32]', {'bind': ['2001:db8::/32']}),
    ('udp/1-65535', {'port': '1-65535'}),
    (' tcp/22 ', {'port': 22}),
])
def test_shorthand(spec, expected):
    described = rule(spec).describe()
    for key, value in expected.items():
        assert described[key] == value, (key, described)


@pytest.mark.parametrize('spec, message', [
    ('tcp/80-70', 'policy.expected[0]: "tcp/80-70": the range is reversed'),
    ('tcp/0', 'policy.expected[0]: "tcp/0": port 0 is out of range (1-65535)'),
    ('tcp/65536', 'policy.expected[0]: "tcp/65536": port 65536 is out of range (1-65535)'),
    ('tcp/1-70000', 'policy.expected[0]: "tcp/1-70000": port 70000 is out of range (1-65535)'),
    ('tcpx/22', 'policy.expected[0]: "tcpx/22": unknown protocol "tcpx" (expected one of tcp, udp, sctp, mptcp, dccp, raw)'),
    ('tcp/ssh', 'policy.expected[0]: "tcp/ssh": expected a port number 1-65535 or a range LOW-HIGH'),
    ('tcp/22-', 'policy.expected[0]: "tcp/22-": expected a port number 1-65535 or a range LOW-HIGH'),
    ('tcp/-22', 'policy.expected[0]: "tcp/-22": expected a port number 1-65535 or a range LOW-HIGH'),
    ('tcp/', 'policy.expected[0]: "tcp/": expected a port or a range after "tcp/"'),
    ('', 'policy.expected[0]: "": expected [PROTO/]PORT[-PORT][@BIND], such as tcp/22 or udp/5353@loopback'),
    ('tcp/22/x', 'policy.expected[0]: "tcp/22/x": expected [PROTO/]PORT[-PORT][@BIND]'),
    ('tcp/22@', 'policy.expected[0]: "tcp/22@": after "@": expected any, loopback, public, an address or a CIDR, '
                'got an empty string'),
    ('tcp/22@300.1.1.1', 'policy.expected[0]: "tcp/22@300.1.1.1": after "@": "300.1.1.1": expected any, loopback, '
                         'public, an address or a CIDR'),
    ('tcp/22@lo', 'after "@": "lo": expected any, loopback, public'),
    ('tcp/22@10.0.0.0/33', 'after "@": "10.0.0.0/33"'),
    ('tcp/22@fe80::1%eth0', 'after "@": "fe80::1%eth0"'),
    (None, 'policy.expected[0]: expected a rule ("tcp/22", "udp/5353@loopback") or a mapping, got null'),
    (['tcp/22'], 'policy.expected[0]: expected a rule ("tcp/22", "udp/5353@loopback") or a mapping, got a list'),
    (True, 'got a boolean'),
])
def test_shorthand_errors(spec, message):
    with pytest.raises(PolicyError) as caught:
        rule(spec)
    assert message in str(caught.value)


@pytest.mark.parametrize('spec, message', [
    ({'prot': 'tcp'}, 'policy.expected[0]: unknown key "prot" (a rule takes port, proto, family, bind, process, unit, '
                      'container, package, user, netns, match, name, reason, until, unknown_owner)'),
    ({'port': '80-70'}, 'policy.expected[0].port: "80-70": the range is reversed'),
    ({'port': 0}, 'policy.expected[0].port: "0": port 0 is out of range (1-65535)'),
    ({'port': 'http'}, 'policy.expected[0].port: "http": expected a port number 1-65535 or a range LOW-HIGH'),
    ({'port': 22.5}, 'policy.expected[0].port: expected a port number or a range "LOW-HIGH", got a value of type float'),
    ({'port': True}, 'policy.expected[0].port: expected a port number or a range "LOW-HIGH", got a boolean'),
    ({'proto': 'icmp'}, 'policy.expected[0].proto: unknown protocol "icmp"'),
    ({'proto': []}, 'policy.expected[0].proto: expected a protocol (tcp, udp, sctp ...) or a list of them, got a list'),
    ({'family': 'ipx'}, 'policy.expected[0].family: "ipx": expected inet (IPv4) or inet6 (IPv6)'),
    ({'bind': 'nowhere'}, 'policy.expected[0].bind: "nowhere": expected any, loopback, public, an address or a CIDR'),
    ({'bind': ['loopback', 'x']}, 'policy.expected[0].bind[1]: "x": expected any, loopback'),
    ({'bind': []}, 'policy.expected[0].bind: the list is empty'),
    ({'bind': 5}, 'policy.expected[0].bind: expected any, loopback, public, an address or a CIDR, got a value of type int'),
    ({'family': 'inet', 'bind': '::1'}, 'policy.expected[0].bind: "::1" is not an IPv4 address, but family is inet'),
    ({'family': 'inet6', 'bind': '10.0.0.0/8'}, 'policy.expected[0].bind: "10.0.0.0/8" is not an IPv6 address'),
    ({'process': {'a': 1}}, 'policy.expected[0].process: expected a process name or glob or a list of them, got a dict'),
    ({'process': ''}, 'policy.expected[0].process: expected a process name or glob, got ""'),
    ({'user': [None]}, 'policy.expected[0].user: expected a user name or uid, got null'),
    ({'match': 'sport = ssh2'}, 'policy.expected[0].match: "sport = ssh2": expected a port after "sport =" at word 3: "ssh2"'),
    ({'match': 42}, 'policy.expected[0].match: expected an ss filter expression, got a value of type int'),
    ({'until': '2025-02-30'}, 'policy.expected[0].until: "2025-02-30": not a valid date (day is out of range for month)'),
    ({'until': 'next week'}, 'policy.expected[0].until: "next week": not a date (expected YYYY-MM-DD)'),
    ({'until': '2025-01-01T10:00'}, 'policy.expected[0].until: "2025-01-01T10:00": not a date (expected YYYY-MM-DD)'),
    ({'until': 20250101}, 'policy.expected[0].until: expected a date (YYYY-MM-DD), got a value of type int'),
    ({'name': ['x']}, 'policy.expected[0].name: expected a string, got a list'),
])
def test_mapping_errors(spec, message):
    with pytest.raises(PolicyError) as caught:
        rule(spec)
    assert message in str(caught.value)


def test_mapping_fields_and_text():
    parsed = rule({'port': '8000-8099', 'proto': ['tcp', 'udp'], 'family': 'ipv6', 'bind': ['loopback', '[::1]'],
                   'process': 'java*', 'user': 1001, 'netns': '', 'match': 'state listening', 'name': 'app',
                   'reason': 'CHG-1', 'until': datetime.date(2030, 1, 2)})
    assert parsed.describe() == {
        'proto': ['tcp', 'udp'], 'port': '8000-8099', 'family': 'inet6', 'bind': ['loopback', '::1'],
        'process': ['java*'], 'unit': None, 'container': None, 'package': None, 'user': ['1001'], 'netns': [''],
        'match': 'state listening', 'unknown_owner': None}
    assert parsed.text == 'tcp,udp/8000-8099@loopback,::1 family=inet6 process=java* user=1001 netns= match="state listening"'
    assert parsed.name == 'app' and parsed.reason == 'CHG-1' and parsed.until == datetime.date(2030, 1, 2)
    assert rule({'process': 'sshd'}).text == '* process=sshd'
    assert rule({'proto': 'udp'}).text == 'udp/*'
    assert rule('tcp/22').name == 'tcp/22'
    assert rule({'until': datetime.datetime(2030, 1, 2, 10, 0)}).until == datetime.date(2030, 1, 2)


# --- rule matching, key by key --------------------------------------------------------------------------------

MATCHES = [
    # port and proto
    ('tcp/22', SSH4, True), ('tcp/22', SSH6_DUAL, True), ('udp/22', SSH4, False), ('22', SSH4, True),
    ('tcp/20-30', SSH4, True), ('tcp/23-30', SSH4, False), ('udp/53', RESOLVED, True), ('53', RESOLVED, True),
    ({'proto': ['udp', 'sctp']}, SCTP, True), ({'proto': 'tcp'}, SCTP, False), ('sctp/3868', SCTP, True),
    ({'port': 22}, SSH6_ONLY, False), ({}, UNIX, None),
    # family, with dual stack and v4-mapped addresses
    ({'family': 'inet'}, SSH4, True), ({'family': 'inet'}, SSH6_DUAL, True), ({'family': 'inet'}, SSH6_ONLY, False),
    ({'family': 'inet'}, SSH6_UNKNOWN, True), ({'family': 'inet6'}, SSH6_DUAL, True), ({'family': 'inet6'}, SSH4, False),
    ({'family': 'inet'}, MAPPED, True), ({'family': 'inet6'}, MAPPED, False), ({'family': '6'}, CUPS6, True),
    # bind: any
    ('tcp/22@any', SSH4, True), ('tcp/22@any', SSH6_DUAL, True), ('tcp/631@any', CUPS, False),
    ({'bind': 'any', 'family': 'inet'}, SSH6_DUAL, True), ({'bind': 'any', 'family': 'inet'}, SSH6_ONLY, False),
    ('tcp/9090@any', LO_DEV, True),
    # bind: loopback
    ('tcp/631@loopback', CUPS, True), ('tcp/631@loopback', CUPS6, True), ('tcp/22@loopback', SSH4, False),
    ('tcp/7000@loopback', MAPPED, True), ('tcp/9090@loopback', LO_DEV, True), ('tcp/9091@loopback', ETH_DEV, False),
    # bind: public = reachable from outside: the wildcard or a non-loopback address
    ('tcp/22@public', SSH4, True), ('tcp/22@public', SSH6_DUAL, True), ('tcp/631@public', CUPS, False),
    ('tcp/8080@public', WEB, True), ('tcp/8443@public', WEB6, True), ('tcp/9090@public', LO_DEV, False),
    ('tcp/9091@public', ETH_DEV, True), ('tcp/7000@public', MAPPED, False),
    # bind: an address (dual stack listens on 0.0.0.0 too; a wildcard is not each address of the host)
    ('tcp/22@0.0.0.0', SSH4, True), ('tcp/22@0.0.0.0', SSH6_DUAL, True), ('tcp/2222@0.0.0.0', SSH6_ONLY, False),
    ('tcp/2223@0.0.0.0', SSH6_UNKNOWN, True), ('tcp/22@[::]', SSH4, False), ('tcp/22@::', SSH6_DUAL, True),
    ('tcp/8080@10.0.0.5', WEB, True), ('tcp/8080@10.0.0.6', WEB, False), ('tcp/22@10.0.0.5', SSH4, False),
    ('tcp/7000@127.0.0.1', MAPPED, True), ('tcp/7000@::ffff:127.0.0.1', MAPPED, True), ('tcp/631@::1', CUPS6, True),
    # bind: a CIDR
    ('tcp/8080@10.0.0.0/8', WEB, True), ('tcp/8080@192.168.0.0/16', WEB, False), ('tcp/631@127.0.0.0/8', CUPS, True),
    ('tcp/7000@127.0.0.0/8', MAPPED, True), ('tcp/8443@2001:db8::/32', WEB6, True), ('tcp/8443@10.0.0.0/8', WEB6, False),
    ('tcp/22@0.0.0.0/0', SSH6_DUAL, True), ('tcp/2222@0.0.0.0/0', SSH6_ONLY, False),
    ({'bind': ['loopback', '10.0.0.0/8']}, WEB, True), ({'bind': ['loopback', '10.0.0.0/8']}, SSH4, False),
    # process, user
    ({'process': 'sshd'}, SSH4, True), ({'process': 'ssh*'}, SSH4, True), ({'process': 'SSHD'}, SSH4, False),
    ({'process': ['nginx', 'java']}, WEB, True), ({'process': 'cupsd'}, SSH4, False),
    ({'user': 'root'}, SSH4, True), ({'user': 'app'}, WEB, True), ({'user': 1001}, WEB, True), ({'user': '1001'}, WEB, True),
    ({'user': 'systemd-*'}, RESOLVED, True), ({'user': 0}, WEB, False), ({'user': ['www-data', 'app']}, WEB6, True),
    # netns: a label or glob; '' is the host's own namespace
    ({'netns': 'blue'}, NS_SOCK, True), ({'netns': 'bl*'}, NS_SOCK, True), ({'netns': ''}, NS_SOCK, False),
    ({'netns': ''}, SSH4, True), ({'netns': 'blue'}, SSH4, False), ({'netns': ['', 'blue']}, NS_SOCK, True),
    # match: an ss expression about the socket
    ({'match': 'sport = :ssh'}, SSH4, True), ({'match': 'src 127.0.0.0/8'}, CUPS, True),
    ({'match': 'src 127.0.0.0/8'}, MAPPED, True), ({'match': 'state listening'}, RESOLVED, False),
    ({'match': 'dev lo'}, LO_DEV, True), ({'match': 'not src [::1]'}, CUPS6, False),
    # everything together
    ({'port': 22, 'proto': 'tcp', 'family': 'inet', 'bind': 'any', 'process': 'sshd', 'user': 'root', 'netns': '',
      'match': 'sport = :22'}, SSH6_DUAL, True),
    ({'port': 22, 'proto': 'tcp', 'family': 'inet', 'bind': 'any', 'process': 'sshd', 'user': 'nobody'}, SSH6_DUAL, False),
]


@pytest.mark.parametrize('spec, record, expected', MATCHES, ids=['%s~%d' % (m[0], i) for i, m in enumerate(MATCHES)])
def test_rule_matches(spec, record, expected):
    if expected is None:
        assert not _listening.is_listening(record)
        return
    assert matches(rule(spec), listener(record)) is expected


def test_match_needing_marks_names_the_rule():
    with pytest.raises(PolicyError) as caught:
        port_audit([dict((k, v) for k, v in SSH4.items() if k != 'mark')], {'allowed': [{'match': 'fwmark 0x10'}]})
    assert str(caught.value) == ('policy.allowed[0].match: "fwmark 0x10": "fwmark 0x10" (word 1) needs socket marks '
                                 '(mark), which the socket records do not carry')


# --- the verdict ----------------------------------------------------------------------------------------------

COMPLETE = {'complete': True, 'incomplete_reasons': []}
PARTIAL = {'complete': False, 'incomplete_reasons': ['not root: the owners of other users\' sockets are hidden']}
HOST = [SSH4, SSH6_DUAL, CUPS, RESOLVED, WEB]


def audit(policy, records=None, now='2025-06-01', meta='complete'):
    meta = COMPLETE if meta == 'complete' else meta
    return port_audit(records if records is not None else HOST, policy, now=now, socket_meta=meta)


def rule_status(verdict):
    return dict((r['id'], r['status']) for r in verdict['rules'])


def socket_status(verdict):
    return dict((s['id'], s['status']) for s in verdict['sockets'])


VERDICTS = [
    # (policy, compliant, rule statuses, socket statuses)
    ({'expected': ['tcp/22']}, True, {'expected[0]': 'ok'},
     {'tcp/22@0.0.0.0': 'expected', 'tcp/22@[::]': 'expected', 'tcp/631@127.0.0.1': 'unlisted'}),
    ({'expected': ['tcp/22', 'tcp/443']}, False, {'expected[1]': 'missing'}, {}),
    ({'expected': ['tcp/22@loopback']}, False, {'expected[0]': 'missing'}, {'tcp/22@0.0.0.0': 'unlisted'}),
    ({'forbidden': ['tcp/631']}, False, {'forbidden[0]': 'violated'}, {'tcp/631@127.0.0.1': 'forbidden'}),
    ({'forbidden': ['tcp/631@public']}, True, {'forbidden[0]': 'ok'}, {'tcp/631@127.0.0.1': 'unlisted'}),
    ({'forbidden': [{'port': '1-1023', 'bind': 'public', 'family': 'inet'}]}, False, {'forbidden[0]': 'violated'},
     {'tcp/22@0.0.0.0': 'forbidden', 'tcp/22@[::]': 'forbidden', 'tcp/631@127.0.0.1': 'unlisted'}),
    # closed world off and on
    ({'expected': ['tcp/22'], 'allowed': ['tcp/631', 'udp/53']}, True, {}, {'tcp/8080@10.0.0.5': 'unlisted'}),
    ({'expected': ['tcp/22'], 'allowed': ['tcp/631', 'udp/53'], 'closed_world': True}, False, {},
     {'tcp/8080@10.0.0.5': 'unexpected', 'tcp/631@127.0.0.1': 'allowed'}),
    ({'expected': ['tcp/22'], 'allowed': ['tcp/631', 'udp/53', {'process': 'java'}], 'closed_world': True}, True, {},
     {'tcp/8080@10.0.0.5': 'allowed'}),
    # forbidden wins over expected and allowed rules without until
    ({'expected': ['tcp/22'], 'forbidden': [{'port': 22, 'family': 'inet6'}]}, False,
     {'expected[0]': 'ok', 'forbidden[0]': 'violated'}, {'tcp/22@[::]': 'forbidden', 'tcp/22@0.0.0.0': 'expected'}),
    ({'allowed': ['tcp/8080'], 'forbidden': ['tcp/8000-8999'], 'closed_world': True}, False, {'forbidden[0]': 'violated'},
     {'tcp/8080@10.0.0.5': 'forbidden'}),
    # a live exception (allowed with until) overrides a forbidden rule; an expired one does not
    ({'allowed': [{'port': 8080, 'until': '2025-06-01'}], 'forbidden': ['tcp/8000-8999']}, True,
     {'allowed[0]': 'ok', 'forbidden[0]': 'ok'}, {'tcp/8080@10.0.0.5': 'allowed'}),
    ({'allowed': [{'port': 8080, 'until': '2025-05-31'}], 'forbidden': ['tcp/8000-8999']}, False,
     {'allowed[0]': 'expired', 'forbidden[0]': 'violated'}, {'tcp/8080@10.0.0.5': 'forbidden'}),
    # an expired exception in a closed world: the socket becomes unexpected
    ({'expected': ['tcp/22'], 'allowed': ['tcp/631', 'udp/53', {'port': 8080, 'until': '2025-01-01'}],
      'closed_world': True}, False, {'allowed[2]': 'expired'}, {'tcp/8080@10.0.0.5': 'unexpected'}),
    ({'expected': ['tcp/22'], 'allowed': ['tcp/631', 'udp/53', {'port': 8080, 'until': '2026-01-01'}],
      'closed_world': True}, True, {'allowed[2]': 'ok'}, {'tcp/8080@10.0.0.5': 'allowed'}),
    # an expected rule that expired no longer requires anything
    ({'expected': [{'port': 443, 'until': '2025-01-01'}]}, True, {'expected[0]': 'expired'}, {}),
    ({'expected': [{'port': 443, 'until': '2025-12-31'}]}, False, {'expected[0]': 'missing'}, {}),
    # a forbidden rule with until is a temporary ban
    ({'forbidden': [{'port': 631, 'until': '2025-01-01'}]}, True, {'forbidden[0]': 'expired'},
     {'tcp/631@127.0.0.1': 'unlisted'}),
    # empty policy
    ({}, True, {}, {'tcp/22@0.0.0.0': 'unlisted'}),
    ({'closed_world': True}, False, {}, {'tcp/22@0.0.0.0': 'unexpected'}),
]


@pytest.mark.parametrize('policy, compliant, rules, sockets', VERDICTS, ids=[str(v[0]) for v in VERDICTS])
def test_verdicts(policy, compliant, rules, sockets):
    verdict = audit(policy)
    assert verdict['compliant'] is compliant, verdict['violations']
    assert (not verdict['violations']) is compliant
    assert dict((k, v) for k, v in rule_status(verdict).items() if k in rules) == rules
    assert dict((k, v) for k, v in socket_status(verdict).items() if k in sockets) == sockets


def test_verdict_structure():
    policy = {
        'expected': ['tcp/22', {'name': 'web', 'port': 443, 'reason': 'the shop'}],
        'allowed': ['udp/53@loopback', {'name': 'legacy', 'port': 8080, 'until': '2025-01-31', 'reason': 'CHG-9'}],
        'forbidden': ['tcp/631', {'port': 8080, 'bind': 'public'}],
        'closed_world': True,
    }
    verdict = audit(policy, meta=PARTIAL)
    assert sorted(verdict) == ['accept_incomplete', 'closed_world', 'compliant', 'date', 'expired_exceptions',
                               'forbidden', 'incomplete', 'incomplete_reasons', 'missing', 'notes', 'rules', 'sockets',
                               'summary', 'unexpected', 'unknown_owner', 'unknown_owner_mode', 'violations']
    assert verdict['compliant'] is False
    assert verdict['date'] == '2025-06-01'
    assert verdict['incomplete'] is True and verdict['accept_incomplete'] is False
    assert verdict['incomplete_reasons'] == PARTIAL['incomplete_reasons']
    assert verdict['violations'] == [
        'expected[1] "web" (443): nothing is listening [reason: the shop]',
        'forbidden[0] (tcp/631) is forbidden, but listening: tcp 127.0.0.1:631 (cupsd pid 900, user root)',
        'forbidden[1] (8080@public) is forbidden, but listening: tcp 10.0.0.5:8080 (java pid 1234, java pid 1235, user app)',
        "incomplete facts: not root: the owners of other users' sockets are hidden (set accept_incomplete: true in the "
        "policy to accept them)",
    ]
    assert [r['id'] for r in verdict['missing']] == ['expected[1]']
    assert [r['id'] for r in verdict['forbidden']] == ['forbidden[0]', 'forbidden[1]']
    assert verdict['forbidden'][0]['sockets'][0]['processes'] == ['cupsd']
    assert verdict['forbidden'][0]['sockets'][0]['pids'] == [900]
    assert verdict['unexpected'] == []       # the forbidden ones are not also unexpected
    expired = verdict['expired_exceptions']
    assert [r['id'] for r in expired] == ['allowed[1]']
    assert expired[0]['until'] == '2025-01-31' and expired[0]['expired'] is True and expired[0]['passed'] is True
    assert expired[0]['message'] == ('allowed[1] "legacy" (8080) expired on 2025-01-31 and no longer applies; it would '
                                     'match tcp 10.0.0.5:8080 (java pid 1234, java pid 1235, user app) [reason: CHG-9]')
    first = verdict['rules'][0]
    assert first == {
        'id': 'expected[0]', 'kind': 'expected', 'index': 0, 'name': 'tcp/22', 'text': 'tcp/22',
        'rule': {'proto': ['tcp'], 'port': 22, 'family': None, 'bind': None, 'process': None, 'unit': None,
                 'container': None, 'package': None, 'user': None, 'netns': None, 'match': None, 'unknown_owner': None},
        'reason': None, 'until': None, 'expired': False, 'status': 'ok', 'passed': True, 'unknown_owner': None,
        'sockets': [_listening.Listener(SSH4, 0).summary(), _listening.Listener(SSH6_DUAL, 1).summary()],
        'undecided': [],
        'message': 'expected[0] (tcp/22) is listening: tcp 0.0.0.0:22 (sshd pid 712, user root); '
                   'tcp [::]:22 (sshd pid 712, user root)',
    }
    assert [r['kind'] for r in verdict['rules']] == ['expected'] * 2 + ['allowed'] * 2 + ['forbidden'] * 2
    assert 'excepted' in verdict['rules'][4] and 'excepted' not in verdict['rules'][0]
    web = [s for s in verdict['sockets'] if s['port'] == 8080][0]
    assert web['status'] == 'forbidden' and web['rules'] == ['forbidden[1]'] and web['exception'] is None
    assert verdict['summary'] == {'listening': 5, 'rules': 6, 'missing': 1, 'forbidden': 2, 'unexpected': 0,
                                  'unknown_owner': 0, 'expired_exceptions': 1, 'violations': 4}
    assert verdict['unknown_owner'] == [] and verdict['unknown_owner_mode'] == 'fail'
    assert verdict['notes'] == []


def test_exception_details():
    policy = {'allowed': [{'name': 'legacy', 'port': 8080, 'until': '2025-12-31'}], 'forbidden': ['8000-8999@public']}
    verdict = audit(policy)
    assert verdict['compliant'] is True
    forbidden = verdict['rules'][1]
    assert forbidden['status'] == 'ok' and forbidden['sockets'] == []
    assert [s['endpoint'] for s in forbidden['excepted']] == ['10.0.0.5:8080']
    assert 'excepted until the exception expires: tcp 10.0.0.5:8080' in forbidden['message']
    web = [s for s in verdict['sockets'] if s['port'] == 8080][0]
    assert (web['status'], web['exception'], web['rules']) == ('allowed', 'allowed[0]', ['allowed[0]', 'forbidden[0]'])


@pytest.mark.parametrize('now, expired', [
    ('2025-03-31', False), ('2025-04-01', True), (datetime.date(2025, 3, 31), False),
    (datetime.datetime(2025, 3, 31, 23, 59), False), (datetime.datetime(2025, 4, 1, 0, 0), True),
    ('2025-03-31T23:59:59', False), ('2025-04-01 00:00:01+02:00', True), ('2025-04-01T00:00:00Z', True),
])
def test_exception_expires_after_its_day(now, expired):
    verdict = audit({'allowed': [{'port': 8080, 'until': '2025-03-31'}]}, now=now)
    assert verdict['rules'][0]['expired'] is expired


def test_now_defaults_to_today():
    verdict = audit({'allowed': [{'port': 8080, 'until': datetime.date.today().isoformat()}]}, now=None)
    assert verdict['rules'][0]['expired'] is False and verdict['date'] == datetime.date.today().isoformat()
    assert audit({'allowed': [{'port': 8080, 'until': '2000-01-01'}]}, now=None)['rules'][0]['expired'] is True


@pytest.mark.parametrize('now, message', [
    ('yesterday', 'now: "yesterday": not a date (expected YYYY-MM-DD)'),
    ('2025-13-01', 'now: "2025-13-01": not a valid date (month must be in 1..12)'),
    (5, 'now: expected a date (YYYY-MM-DD), got a value of type int'),
])
def test_bad_now(now, message):
    with pytest.raises(PolicyError) as caught:
        audit({}, now=now)
    assert str(caught.value) == message


# --- incomplete facts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('meta, accept, compliant, incomplete, notes', [
    (COMPLETE, False, True, False, []),
    (PARTIAL, False, False, True, []),
    (PARTIAL, True, True, True, []),
    ({'complete': False}, False, False, True, []),
    (None, False, True, False, ['no socket_meta was given, so whether the facts are complete is unknown']),
    ({}, False, True, False, ['socket_meta has no "complete" key, so whether the facts are complete is unknown']),
])
def test_incomplete_facts(meta, accept, compliant, incomplete, notes):
    verdict = audit({'expected': ['tcp/22'], 'accept_incomplete': accept}, meta=meta)
    assert (verdict['compliant'], verdict['incomplete'], verdict['notes']) == (compliant, incomplete, notes)
    assert verdict['accept_incomplete'] is accept
    if incomplete and not accept:
        assert verdict['violations'][-1].startswith('incomplete facts: ')


def test_facts_dict_brings_socket_meta():
    facts = {'sockets': HOST, 'socket_meta': PARTIAL, 'socket_summary': {}}
    assert port_audit(facts, {'expected': ['tcp/22']})['incomplete'] is True
    # socket_meta given as an argument wins over the one in the facts
    assert port_audit(facts, {'expected': ['tcp/22']}, socket_meta=COMPLETE)['incomplete'] is False
    # a hostvars entry holds the facts under ansible_facts
    assert port_audit({'ansible_facts': facts, 'inventory_hostname': 'h1'}, {})['incomplete'] is True


# --- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('records, policy, message', [
    (HOST, None, 'policy: expected a mapping with expected, allowed, forbidden, closed_world; got null'),
    (HOST, ['tcp/22'], 'policy: expected a mapping with expected, allowed, forbidden, closed_world; got a list'),
    (HOST, {'expect': ['tcp/22']}, 'policy: unknown key "expect" (a policy takes expected, allowed, forbidden, '
                                   'closed_world, accept_incomplete, unknown_owner, name, description)'),
    (HOST, {'expected': 'tcp/22'}, 'policy.expected: expected a list of rules, got a string'),
    (HOST, {'forbidden': {'port': 22}}, 'policy.forbidden: expected a list of rules, got a dict'),
    (HOST, {'expected': ['tcp/22', 'tcp/23', 'tcp/80-70']}, 'policy.expected[2]: "tcp/80-70": the range is reversed'),
    (HOST, {'closed_world': 'maybe'}, 'policy.closed_world: expected a boolean, got a string'),
    (HOST, {'accept_incomplete': 1}, 'policy.accept_incomplete: expected a boolean, got a value of type int'),
    ('tcp/22', {}, 'sockets: expected a list of socket records, got a string'),
    (None, {}, 'sockets: expected a list of socket records, got null (were the facts gathered with '
               'netaudit.sockets.socket_facts?)'),
    ({'socket_meta': {}}, {}, 'sockets: expected a list of socket records, or facts with a "sockets" key; got a dict '
                              'with keys "socket_meta"'),
    ([SSH4, 'x'], {}, 'sockets[1]: expected a socket record (a dict), got a string'),
    ([SSH4, {'netid': 'tcp', 'state': 'LISTEN'}], {},
     'sockets[1]: not a socket record: no "family", "local_address", "local_port" (a record from '
     'netaudit.sockets.socket_facts has them all)'),
    ([dict(SSH4, local_port='22')], {}, 'sockets[0]: "local_port" must be an integer or null, got a string'),
    ([dict(SSH4, local_address='nowhere')], {}, 'sockets[0]: local_address "nowhere" is not an IP address'),
])
def test_bad_input(records, policy, message):
    with pytest.raises(PolicyError) as caught:
        port_audit(records, policy, now='2025-01-01')
    assert str(caught.value) == message


def test_bad_socket_meta():
    with pytest.raises(PolicyError) as caught:
        port_audit(HOST, {}, socket_meta='complete')
    assert str(caught.value) == 'socket_meta: expected the socket_meta dict of socket_facts, got a string'


def test_policy_is_parsed_once_per_text():
    policy = {'expected': ['tcp/22'], 'allowed': [{'match': 'sport = :22'}]}
    assert compile_policy(policy) is compile_policy(dict(policy))
    assert compile_policy(policy) is not compile_policy({'expected': ['tcp/23']})


def test_non_inet_tables_are_ignored():
    packet = new_record(netid='p_raw', state='UNCONN', family='link', local_address='ip', local_port=2,
                        peer_address='', peer_port=None)
    verdict = audit({'closed_world': True}, records=[UNIX, packet, RAW, ESTAB, UNBOUND_UDP])
    assert verdict['compliant'] is True and verdict['sockets'] == []
