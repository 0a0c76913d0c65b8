# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""socket_diff (_snapshot_diff.py and the filter) against snapshots it cannot trust: baselines read from files and
records with host strings in every field. A bad value is named by record, key and problem, never met as a Python
error; any string goes through, and port_drift's line shows it with no control character."""

from __future__ import annotations

import random
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.netaudit.sockets.plugins.filter.socket_filters import socket_diff as socket_diff_filter
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _snapshot_diff
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record

SSH = new_record(netid='tcp', state='LISTEN', family='inet', local_address='0.0.0.0', local_port=22,
                 peer_address='0.0.0.0', peer_port=0, uid=0, user='root', processes=[{'name': 'sshd', 'pid': 1, 'fd': 3}])
CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\ud800-\udfff]')


def summary(*args):
    """port_drift's line (imported here: the action is new with this test)."""
    from ansible_collections.netaudit.sockets.plugins.action.port_drift import summary as line
    return line(*args)


def bad(**changes):
    record = dict(SSH)
    record.update(changes)
    return record


# (record, the problem after "baseline[1]")
MALFORMED = [
    (bad(processes=[{'name': ['x']}]), '.processes[0].name: expected a string or null, got a list'),
    (bad(processes=[{'name': {'a': 1}}]), '.processes[0].name: expected a string or null, got a dict'),
    (bad(processes=[['sshd', 1]]), '.processes[0]: expected a process (a dict with a name), got a list'),
    (bad(processes='sshd'), '.processes: expected a list or null, got a string'),
    (bad(local_address=['0.0.0.0']), '.local_address: expected a string or null, got a list'),
    (bad(local_address={'a': 1}), '.local_address: expected a string or null, got a dict'),
    (bad(local_port=[22]), '.local_port: expected an integer or null, got a list'),
    (bad(local_port='22'), '.local_port: expected an integer or null, got a string'),
    (bad(local_port=True), '.local_port: expected an integer or null, got a boolean'),
    (bad(local_port=22.5), '.local_port: expected an integer or null, got a value of type float'),
    (bad(user={'name': 'root'}), '.user: expected a string or null, got a dict'),
    (bad(user=['root']), '.user: expected a string or null, got a list'),
    (bad(uid='0'), '.uid: expected an integer or null, got a string'),
    (bad(netns=['blue']), '.netns: expected a string or null, got a list'),
    (bad(interface=['lo']), '.interface: expected a string or null, got a list'),
    (bad(v6only='yes'), '.v6only: expected a boolean or null, got a string'),
    (bad(netid=6), '.netid: expected a string or null, got a value of type int'),
    (bad(state=['LISTEN']), '.state: expected a string or null, got a list'),
    (bad(family={'inet': 1}), '.family: expected a string or null, got a dict'),
]


@pytest.mark.parametrize('record, problem', MALFORMED)
def test_a_malformed_baseline_record_is_named_by_index_key_and_problem(record, problem):
    with pytest.raises(PolicyError) as caught:
        _snapshot_diff.socket_diff([SSH, record], [SSH])
    assert str(caught.value) == 'baseline[1]' + problem
    with pytest.raises(PolicyError) as caught:
        _snapshot_diff.socket_diff({'sockets': [SSH]}, {'sockets': [SSH, SSH, record]})
    assert str(caught.value) == 'current[2]' + problem


@pytest.mark.parametrize('record, problem', MALFORMED[:6])
def test_the_filter_says_which_argument(record, problem):
    with pytest.raises(AnsibleFilterError) as caught:
        socket_diff_filter({'sockets': [SSH, record]}, [SSH])
    assert caught.value.message == 'socket_diff: baseline[1]' + problem


def test_check_snapshot_names_the_argument_it_is_given():
    with pytest.raises(PolicyError) as caught:
        _snapshot_diff.check_snapshot([SSH, SSH, SSH, bad(local_port=[1])], 'sockets')
    assert str(caught.value) == 'sockets[3].local_port: expected an integer or null, got a list'
    _snapshot_diff.check_snapshot([SSH, bad(processes=None, user=None, netns=None)], 'sockets')


# --- any host string --------------------------------------------------------------------------------------------

def hostile_string(rng):
    """A string as a hostile host can make one: any bytes, decoded as the module decodes them or as surrogate escapes."""
    raw = bytes(rng.randrange(256) for _index in range(rng.randrange(0, 24)))
    for insert in (b'\x1b[2J', b'\x07', b'\r', b'|', b'\xff', b'%', b'/../'):
        if rng.random() < 0.2:
            raw += insert
    return raw.decode('utf-8', rng.choice(('backslashreplace', 'surrogateescape', 'replace')))


def hostile_record(rng, state):
    def text():
        return hostile_string(rng)
    family = rng.choice(('inet', 'inet6', 'unix', 'netlink', text()))
    return new_record(
        netid=rng.choice(('tcp', 'udp', 'u_str', text())), state=state, family=family,
        local_address=rng.choice((text(), '0.0.0.0', '::', None)), local_port=rng.choice((None, rng.randrange(0, 70000))),
        peer_address=rng.choice((text(), None)), peer_port=rng.choice((None, rng.randrange(0, 70000))),
        interface=rng.choice((None, text())), v6only=rng.choice((None, True, False)), uid=rng.choice((None, 0, 4242)),
        user=rng.choice((None, text())), netns=rng.choice((None, text())),
        processes=[{'name': rng.choice((text(), None)), 'pid': 1, 'fd': 3} for _index in range(rng.randrange(3))])


def test_any_host_string_goes_through_the_diff_and_the_line_shows_no_control_character():
    rng = random.Random(12)
    for case in range(2000):
        states = ('LISTEN', 'UNCONN', 'ESTAB', 'TIME-WAIT', hostile_string(rng))
        before = [hostile_record(rng, rng.choice(states)) for _index in range(rng.randrange(4))]
        after = [hostile_record(rng, rng.choice(states)) for _index in range(rng.randrange(4))]
        established = bool(case % 2)
        diff = _snapshot_diff.socket_diff(before, after, established=established)
        for action in ('compared', 'recorded', 'updated'):
            line = summary(action, diff, '/srv/b/h.json', hostile_string(rng), False, 'auto')
            assert not CONTROL.search(line), repr(line)


def test_the_line_escapes_names_binds_and_users():
    hostile = bad(local_port=2001, processes=[{'name': '\x1b[2J\x1b[8m', 'pid': 5, 'fd': 3}], user='\udcffbad\x07',
                  interface='eth\x1b0')
    diff = _snapshot_diff.socket_diff([bad(local_port=2001)], [hostile])
    line = summary('compared', diff, '/b/h.json', '2026-01-01T00:00:00Z', False, 'auto')
    assert line == ('drift since 2026-01-01T00:00:00Z: changed tcp/2001 (binds 0.0.0.0 -> 0.0.0.0%eth\\x1b0; '
                    'processes sshd -> \\x1b[2J\\x1b[8m; users root -> \\xffbad\\x07)')


def test_a_large_drift_lists_the_first_sockets_and_counts_the_rest():
    many = [bad(local_port=port) for port in range(1000, 1200)]
    diff = _snapshot_diff.socket_diff([], many)
    line = summary('compared', diff, '/b/h.json', None, False, 'auto')
    assert line.startswith('drift since an unknown date: opened tcp/1000 (sshd), tcp/1001 (sshd), ')
    assert line.endswith('tcp/1049 (sshd), and 150 more')
