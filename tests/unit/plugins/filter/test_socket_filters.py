# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the filter plugin functions and their error messages."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netaudit.sockets.plugins.filter import socket_filters
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record


def listen(netid, address, port, procs=(('sshd', 712),), **extra):
    family = 'inet6' if ':' in address else 'inet'
    return new_record(netid=netid, state='LISTEN' if netid == 'tcp' else 'UNCONN', family=family, local_address=address,
                      local_port=port, peer_address='::' if family == 'inet6' else '0.0.0.0', peer_port=0,
                      v6only=False if family == 'inet6' else None, uid=0, user='root', inode=port,
                      processes=[{'name': n, 'pid': p, 'fd': 3} for n, p in procs], **extra)


SSH = listen('tcp', '0.0.0.0', 22)
SSH6 = listen('tcp', '::', 22)
DNS = listen('udp', '127.0.0.53', 53, procs=[('systemd-resolve', 500)])
TELNET = listen('tcp', '0.0.0.0', 23, procs=[('inetd', 99)])
ESTAB = new_record(netid='tcp', state='ESTAB', family='inet', local_address='10.0.0.1', local_port=22,
                   peer_address='192.0.2.9', peer_port=50000, processes=[])
SOCKETS = [SSH, SSH6, DNS, ESTAB]
FACTS = {'sockets': SOCKETS, 'socket_meta': {'complete': True, 'incomplete_reasons': []}}
FILTERS = socket_filters.FilterModule().filters()


def test_filter_module_names():
    assert sorted(FILTERS) == ['listening_ports', 'port_audit', 'socket_diff', 'ss_filter']
    assert FILTERS['port_audit'] is socket_filters.port_audit


def test_ss_filter():
    assert FILTERS['ss_filter'](SOCKETS, 'state listening') == [SSH, SSH6]
    assert FILTERS['ss_filter'](SOCKETS, 'sport = :ssh') == [SSH, SSH6, ESTAB]
    assert FILTERS['ss_filter'](FACTS, 'sport = :domain', tables=['udp']) == [DNS]
    assert FILTERS['ss_filter'](SOCKETS, '') == SOCKETS


def test_listening_ports():
    assert FILTERS['listening_ports'](SOCKETS) == ['tcp/22', 'udp/53']
    assert FILTERS['listening_ports'](FACTS, with_address=True) == ['tcp/22@0.0.0.0', 'tcp/22@[::]', 'udp/53@127.0.0.53']
    assert FILTERS['listening_ports'](SOCKETS, True, True) == ['tcp4/22@0.0.0.0', 'tcp46/22@[::]', 'udp4/53@127.0.0.53']


def test_port_audit_both_ways_of_passing_socket_meta():
    policy = {'expected': ['tcp/22', 'udp/53@loopback'], 'forbidden': ['tcp/23'], 'closed_world': True}
    from_facts = FILTERS['port_audit'](FACTS, policy, now='2025-01-01')
    from_records = FILTERS['port_audit'](FACTS['sockets'], policy, now='2025-01-01', socket_meta=FACTS['socket_meta'])
    assert from_facts == from_records
    assert from_facts['compliant'] is True and from_facts['notes'] == []
    partial = {'complete': False, 'incomplete_reasons': ['not root']}
    verdict = FILTERS['port_audit'](SOCKETS + [TELNET], policy, socket_meta=partial)
    assert verdict['compliant'] is False
    assert verdict['violations'] == [
        'forbidden[0] (tcp/23) is forbidden, but listening: tcp 0.0.0.0:23 (inetd pid 99, user root)',
        'incomplete facts: not root (set accept_incomplete: true in the policy to accept them)']


def test_socket_diff():
    result = FILTERS['socket_diff'](FACTS, SOCKETS + [TELNET])
    assert [e['id'] for e in result['opened']] == ['tcp/23'] and result['drift'] is True
    result = FILTERS['socket_diff'](SOCKETS, [SSH, DNS], established=True)
    assert [e['id'] for e in result['closed']] == ['tcp 10.0.0.1:22 -> 192.0.2.9:*']
    assert [c['changes'] for c in result['changed']] == [['binds']]


@pytest.mark.parametrize('name, args, kwargs, message', [
    ('port_audit', (SOCKETS, {'expected': ['tcp/22', 'udp/53', 'tcp/80-70']}), {},
     'port_audit: policy.expected[2]: "tcp/80-70": the range is reversed'),
    ('port_audit', (SOCKETS, {'allowed': [{'port': 80, 'until': '2025-02-30'}]}), {},
     'port_audit: policy.allowed[0].until: "2025-02-30": not a valid date (day is out of range for month)'),
    ('port_audit', (SOCKETS, {'forbidden': [{'match': 'sport = :ssh2'}]}), {},
     'port_audit: policy.forbidden[0].match: "sport = :ssh2": expected a port after "sport =" at word 3: ":ssh2"'),
    ('port_audit', (SOCKETS, {}), {'now': 'soon'}, 'port_audit: now: "soon": not a date (expected YYYY-MM-DD)'),
    ('port_audit', (None, {}), {}, 'port_audit: sockets: expected a list of socket records, got null (were the facts '
                                   'gathered with netaudit.sockets.socket_facts?)'),
    ('port_audit', ([SSH, {'netid': 'tcp'}], {}), {},
     'port_audit: sockets[1]: not a socket record: no "state", "family", "local_address", "local_port" (a record from '
     'netaudit.sockets.socket_facts has them all)'),
    ('ss_filter', (SOCKETS, 'sport = :ssh2'), {},
     'ss_filter: expression "sport = :ssh2": expected a port after "sport =" at word 3: ":ssh2"'),
    ('ss_filter', (SOCKETS, 'sport = :22'), {'tables': ['tcp', 'tpc']},
     'ss_filter: tables: unknown socket table "tpc"; expected one of all, dccp, inet, mptcp, netlink, p_dgr, p_raw, packet, '
     'packet_dgram, packet_raw, raw, sctp, tcp, u_dgr, u_seq, u_str, udp, unix, unix_dgram, unix_seqpacket, unix_stream, '
     'v_dgr, v_str, vsock, vsock_dgram, vsock_stream'),
    ('ss_filter', ('tcp', 'sport = :22'), {}, 'ss_filter: sockets: expected a list of socket records, got a string'),
    ('ss_filter', ([dict((k, v) for k, v in SSH.items() if k != 'mark')], 'fwmark 0x10'), {},
     'ss_filter: expression "fwmark 0x10": "fwmark 0x10" (word 1) needs socket marks (mark), which the socket records '
     'do not carry'),
    ('listening_ports', ([SSH, 'x'],), {}, 'listening_ports: sockets[1]: expected a socket record (a dict), got a string'),
    ('listening_ports', (SOCKETS,), {'with_family': 'perhaps'}, 'listening_ports: with_family: expected a boolean, got a string'),
    ('socket_diff', (SOCKETS, {'ansible_facts': {}}), {},
     'socket_diff: current: expected a list of socket records, or facts with a "sockets" key; got a dict with keys '
     '"ansible_facts"'),
    ('socket_diff', (SOCKETS, SOCKETS), {'ephemeral_range': '9-1'}, 'socket_diff: ephemeral_range: "9-1": the range is reversed'),
])
def test_errors_name_the_filter_argument_and_item(name, args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as caught:
        FILTERS[name](*args, **kwargs)
    assert caught.value.message == message
    assert isinstance(caught.value.__cause__, ValueError)
