# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: socket_diff, snapshots compared by stable identity (_snapshot_diff.py)."""

from __future__ import annotations

import pytest

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _snapshot_diff
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record


def rec(netid, local, lport, peer=None, pport=0, state=None, procs=(('sshd', 1),), user='root', uid=0, **extra):
    family = extra.pop('family', 'inet6' if ':' in local else 'inet')
    if peer is None:
        peer = '::' if family == 'inet6' else '0.0.0.0'
    return new_record(netid=netid, state=state or ('UNCONN' if netid == 'udp' else 'LISTEN'), family=family,
                      local_address=local, local_port=lport, peer_address=peer, peer_port=pport, uid=uid, user=user,
                      processes=[{'name': n, 'pid': p, 'fd': 3} for n, p in procs], **extra)


SSH = rec('tcp', '0.0.0.0', 22)
SSH6 = rec('tcp', '::', 22, v6only=True)
SSH6_DUAL = rec('tcp', '::', 22, v6only=False)
SSH_LOOPBACK = rec('tcp', '127.0.0.1', 22)
SSH_BY_DROPBEAR = rec('tcp', '0.0.0.0', 22, procs=[('dropbear', 5)])
SSH_AS_NOBODY = rec('tcp', '0.0.0.0', 22, user='nobody', uid=65534)
SSH_NEW_PID = rec('tcp', '0.0.0.0', 22, procs=[('sshd', 999)])
WEB = rec('tcp', '0.0.0.0', 443, procs=[('nginx', 2)])
DNS = rec('udp', '127.0.0.53', 53, procs=[('systemd-resolve', 3)])
CHRONY_A = rec('udp', '127.0.0.1', 41000, procs=[('chronyd', 4)])
CHRONY_B = rec('udp', '127.0.0.1', 52000, procs=[('chronyd', 4)])
BACKDOOR = rec('tcp', '0.0.0.0', 45000, procs=[('nc', 66)])
UNBOUND = rec('udp', '0.0.0.0', 0)
TIME_WAIT = rec('tcp', '10.0.0.1', 22, '192.0.2.9', 50000, state='TIME-WAIT', procs=())
SERVER_FLOW_A = rec('tcp', '10.0.0.1', 22, '192.0.2.9', 50000, state='ESTAB')
SERVER_FLOW_B = rec('tcp', '10.0.0.1', 22, '192.0.2.9', 50123, state='ESTAB')
CLIENT_FLOW_A = rec('tcp', '10.0.0.1', 40001, '192.0.2.80', 443, state='ESTAB', procs=[('curl', 8)])
CLIENT_FLOW_B = rec('tcp', '10.0.0.1', 40777, '192.0.2.80', 443, state='ESTAB', procs=[('wget', 9)])
UNIX_BUS = rec('u_str', '/run/dbus/system_bus_socket', None, '', None, procs=[('dbus-daemon', 10)], family='unix')
UNIX_ANON_A = rec('u_dgr', '', None, '', 7001, procs=[('logger', 11)], family='unix')
UNIX_ANON_B = rec('u_dgr', '', None, '', 7999, procs=[('logger', 12)], family='unix')
UNIX_AUTO = rec('u_dgr', '@0001a', None, '', None, procs=[('systemd', 1)], family='unix')
UNIX_FLOW = rec('u_str', '/run/dbus/system_bus_socket', None, '', 888, state='ESTAB', procs=[('dbus-daemon', 10)],
                family='unix')
NETLINK_A = rec('nl', 'rtnl', 1234, '', 0, procs=[('NetworkManager', 1234)], family='netlink')
NETLINK_B = rec('nl', 'rtnl', 4321, '', 0, procs=[('NetworkManager', 4321)], family='netlink')
RAW_ICMP = rec('raw', '0.0.0.0', 1, state='UNCONN', procs=[('ping', 13)])
BLUE_WEB = rec('tcp', '0.0.0.0', 443, procs=[('nginx', 20)], netns='blue')


def diff(before, after, **options):
    return _snapshot_diff.socket_diff(before, after, **options)


def ids(entries):
    return [entry['id'] for entry in entries]


CASES = [
    # (baseline, current, options, opened, closed, changed (id, changes))
    ([SSH, WEB], [SSH, WEB], {}, [], [], []),
    ([SSH], [SSH, WEB], {}, ['tcp/443'], [], []),
    ([SSH, WEB], [SSH], {}, [], ['tcp/443'], []),
    ([SSH], [SSH_LOOPBACK], {}, [], [], [('tcp/22', ['binds'])]),
    ([SSH, SSH6], [SSH, SSH6_DUAL], {}, [], [], [('tcp/22', ['binds'])]),
    ([SSH], [SSH, SSH6], {}, [], [], [('tcp/22', ['binds'])]),
    ([SSH], [SSH_BY_DROPBEAR], {}, [], [], [('tcp/22', ['processes'])]),
    ([SSH], [SSH_AS_NOBODY], {}, [], [], [('tcp/22', ['users'])]),
    ([SSH], [SSH_NEW_PID], {}, [], [], []),                     # a restart is not a change
    ([SSH], [SSH, SSH], {}, [], [], []),                        # neither is a second socket like the first
    # ephemeral ports: identified by their owners unless asked
    ([CHRONY_A], [CHRONY_B], {}, [], [], []),
    ([CHRONY_A], [CHRONY_B], {'ephemeral': True}, ['udp/52000'], ['udp/41000'], []),
    ([CHRONY_A], [CHRONY_A, BACKDOOR], {}, ['tcp/ephemeral(nc)'], [], []),
    ([CHRONY_A], [CHRONY_B], {'ephemeral_range': '1024-40000'}, ['udp/52000'], ['udp/41000'], []),
    ([CHRONY_A], [CHRONY_B], {'ephemeral_range': [41000, 52000]}, [], [], []),
    ([DNS], [DNS, UNBOUND], {}, [], [], []),                    # an unbound UDP socket listens on nothing
    # flows only when asked; the client's port is ephemeral
    ([SSH], [SSH, SERVER_FLOW_A], {}, [], [], []),
    ([SSH], [SSH, SERVER_FLOW_A], {'established': True}, ['tcp 10.0.0.1:22 -> 192.0.2.9:*'], [], []),
    ([SSH, SERVER_FLOW_A], [SSH, SERVER_FLOW_B], {'established': True}, [], [], []),
    ([SSH, SERVER_FLOW_A], [SSH, SERVER_FLOW_B], {'established': True, 'ephemeral': True},
     ['tcp 10.0.0.1:22 -> 192.0.2.9:50123'], ['tcp 10.0.0.1:22 -> 192.0.2.9:50000'], []),
    ([CLIENT_FLOW_A], [CLIENT_FLOW_B], {'established': True}, [], [], [('tcp 10.0.0.1:* -> 192.0.2.80:443', ['processes'])]),
    ([CLIENT_FLOW_A], [dict(CLIENT_FLOW_A, local_port=40999)], {'established': True}, [], [], []),
    ([], [CLIENT_FLOW_A], {'established': True}, ['tcp 10.0.0.1:* -> 192.0.2.80:443'], [], []),
    ([SSH], [SSH, TIME_WAIT], {'established': True}, [], [], []),
    # other tables
    ([UNIX_BUS], [], {}, [], ['u_str /run/dbus/system_bus_socket'], []),
    ([UNIX_ANON_A], [UNIX_ANON_B], {}, [], [], []),
    ([UNIX_ANON_A], [UNIX_ANON_A, UNIX_AUTO], {}, ['u_dgr ephemeral(systemd)'], [], []),
    ([UNIX_AUTO], [], {'ephemeral': True}, [], ['u_dgr @0001a'], []),
    ([UNIX_BUS], [UNIX_BUS, UNIX_FLOW], {'established': True}, ['u_str /run/dbus/system_bus_socket -> *'], [], []),
    ([NETLINK_A], [NETLINK_B], {}, [], [], []),
    ([NETLINK_A], [NETLINK_B], {'ephemeral': True}, ['nl rtnl:4321'], ['nl rtnl:1234'], []),
    ([], [RAW_ICMP], {}, ['raw/1'], [], []),
    # namespaces are part of the identity
    ([WEB], [WEB, BLUE_WEB], {}, ['netns blue: tcp/443'], [], []),
]


@pytest.mark.parametrize('before, after, options, opened, closed, changed', CASES,
                         ids=['case%d' % i for i in range(len(CASES))])
def test_socket_diff(before, after, options, opened, closed, changed):
    result = diff(before, after, **options)
    assert ids(result['opened']) == opened
    assert ids(result['closed']) == closed
    assert [(c['id'], c['changes']) for c in result['changed']] == changed
    assert result['drift'] is bool(opened or closed or changed)


NO_ORIGIN = {'containers': [], 'units': [], 'packages': [],
             'origin_unknown': {'container': ['not_recorded'], 'unit': ['not_recorded'], 'package': ['not_recorded']}}


def test_entry_structure():
    result = diff({'sockets': [SSH]}, {'sockets': [SSH_BY_DROPBEAR, SSH6_DUAL, WEB, CHRONY_B]})
    assert result['opened'] == [
        dict({'id': 'tcp/443', 'kind': 'listening', 'proto': 'tcp', 'netns': None, 'port': 443, 'ephemeral': False,
              'sockets': 1, 'binds': ['0.0.0.0'], 'processes': ['nginx'], 'users': ['root']}, **NO_ORIGIN),
        dict({'id': 'udp/ephemeral(chronyd)', 'kind': 'listening', 'proto': 'udp', 'netns': None, 'port': None,
              'ephemeral': True, 'sockets': 1, 'binds': ['127.0.0.1'], 'processes': ['chronyd'], 'users': ['root']},
             **NO_ORIGIN),
    ]
    assert result['cannot_tell'] == []      # records without origin_unknown on both sides: nothing to tell
    changed = result['changed'][0]
    assert changed['changes'] == ['binds', 'processes']
    assert changed['before']['binds'] == ['0.0.0.0'] and changed['after']['binds'] == ['0.0.0.0', '[::] (dual stack)']
    assert changed['after']['processes'] == ['dropbear', 'sshd'] and changed['after']['sockets'] == 2
    assert result['unchanged'] == 0 and result['closed'] == []


def test_sorted_by_port_number():
    result = diff([], [WEB, rec('tcp', '0.0.0.0', 8080), SSH, DNS, CHRONY_A, UNIX_BUS])
    assert ids(result['opened']) == ['tcp/22', 'tcp/443', 'tcp/8080', 'u_str /run/dbus/system_bus_socket', 'udp/53',
                                     'udp/ephemeral(chronyd)']


def test_unchanged_count_and_interface_bind():
    bound = rec('tcp', '0.0.0.0', 22, interface='eth0')
    result = diff([SSH, WEB], [bound, WEB])
    assert result['unchanged'] == 1
    assert result['changed'][0]['after']['binds'] == ['0.0.0.0%eth0']


@pytest.mark.parametrize('before, after, options, message', [
    (None, [], {}, 'baseline: expected a list of socket records, got null (were the facts gathered with '
                   'netaudit.sockets.socket_facts?)'),
    ([], 'x', {}, 'current: expected a list of socket records, got a string'),
    ([SSH, 5], [], {}, 'baseline[1]: expected a socket record (a dict), got a value of type int'),
    ([], [{'netid': 'tcp'}], {}, 'current[0]: not a socket record: no "state", "family", "local_address", "local_port"'),
    ([], [dict(SSH, peer_port=None, peer_address=None)], {}, None),
    ([], [{'netid': 'tcp', 'state': 'ESTAB', 'family': 'inet', 'local_address': '1.2.3.4', 'local_port': 5}],
     {'established': True}, 'current[0]: not a socket record: no "peer_address", "peer_port"'),
    ([], [], {'established': 'often'}, 'established: expected a boolean, got a string'),
    ([], [], {'ephemeral_range': '60999-32768'}, 'ephemeral_range: "60999-32768": the range is reversed'),
    ([], [], {'ephemeral_range': 'high'}, 'ephemeral_range: "high": expected a port number 1-65535 or a range LOW-HIGH'),
])
def test_bad_input(before, after, options, message):
    if message is None:
        diff(before, after, **options)
        return
    with pytest.raises(PolicyError) as caught:
        diff(before, after, **options)
    assert str(caught.value).startswith(message)
