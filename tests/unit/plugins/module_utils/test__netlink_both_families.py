# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: TCP read in one family-less (legacy TCPDIAG_GETSOCK) dump, as gather does
when both families run the same program, against one dump per family and against the real ss; and the port-lock
dump that runs beside it on a thread, against `ss autobound`. fixtures/both_families_helper.py does the reading
inside a scratch namespace."""

from __future__ import annotations

import os

import pytest

from support.scratch_netns import run_helper, scratch_namespace
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import background, inet

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'both_families_helper.py')
# The sockets the helper bound explicitly: its listeners and two clients. Only these hold a port lock; the kernel
# takes the lock off the sockets a listener accepts.
BOUND = {('127.0.0.1', 21001, '*', 0), ('::1', 21002, '*', 0), ('*', 21003, '*', 0),
         ('127.0.0.1', 21010, '127.0.0.1', 21001), ('::1', 21011, '::1', 21002)}


@pytest.fixture(scope='module')
def live():
    with scratch_namespace('na-t-bf') as namespace:
        yield run_helper(namespace, HELPER)


def as_tuples(rows):
    return [tuple(row) for row in rows]


@pytest.mark.root
def test_the_scenario_has_both_families_and_time_wait(live):
    assert live['families'] == ['inet', 'inet6']
    assert {'LISTEN', 'ESTAB', 'TIME-WAIT'} <= set(live['states'])
    assert any(row[0] == '::ffff:127.0.0.1' for row in live['ss'])


@pytest.mark.root
def test_one_family_less_dump_equals_the_two_dumps_per_family(live):
    assert live['both'] == live['per_family']
    assert len(live['both']) == len(live['ss'])


@pytest.mark.root
def test_port_locks_of_the_family_less_dump_agree_with_each_family_and_with_ss(live):
    assert live['lock_disagreements'] == []
    assert set(as_tuples(live['ss'])) - set(as_tuples(live['unlocked_both'])) == BOUND
    # ss's `autobound` is the kernel's test and, in userspace, a local port in the ephemeral range.
    low, high = live['ephemeral']
    in_range = [row for row in as_tuples(live['unlocked_both']) if low <= row[1] <= high]
    assert in_range == as_tuples(live['ss_autobound']) and in_range


@pytest.mark.root
def test_gather_reads_tcp_in_one_dump_and_still_matches_ss(live):
    gathered = live['gather']
    assert gathered['asked'] == ['both']
    assert as_tuples(gathered['identities']) == as_tuples(live['ss'])
    assert set(as_tuples(gathered['locked'])) == BOUND
    assert gathered['unknown_locks'] == [] and gathered['complete'] is True


@pytest.mark.root
def test_gather_falls_back_to_one_dump_per_family_when_the_kernel_refuses(live):
    refused = live['gather_refused']
    assert refused['asked'] == ['both', 'inet', 'inet6']
    assert refused['identities'] == live['gather']['identities']
    assert refused['locked'] == live['gather']['locked']
    assert refused['reasons'] == [] and refused['complete'] is True


@pytest.mark.root
@pytest.mark.parametrize('text', ['sport >= :21001 and sport <= :21011', 'src 127.0.0.1', 'dport = :21002 or sport = :21002'])
def test_filters_select_what_ss_selects_in_one_dump_or_two(live, text):
    entry = live['filtered'][text]
    gathered = entry['gather']
    assert as_tuples(gathered['identities']) == as_tuples(entry['ss'])
    assert gathered['kernel_filtered'] is True
    if entry['same_program']:
        assert gathered['asked'] == ['both']
        assert entry['both'] == entry['per_family']
    else:
        assert gathered['asked'] == ['inet', 'inet6']


def test_the_family_less_request_is_tcp_only():
    with pytest.raises(ValueError, match='AF_UNSPEC for TCP'):
        inet.inet_request(17, 0, 1)
    request = inet.inet_request(6, 0, 0xfff, b'\x01\x00\x08\x00')
    # nlmsghdr type 18 (TCPDIAG_GETSOCK); struct inet_diag_req: 60 bytes; the program in its attribute.
    assert len(request) == 16 + 60 + 4 + 4
    assert request[4:6] == (18).to_bytes(2, 'little') or request[4:6] == (18).to_bytes(2, 'big')


def test_in_background_hands_back_the_result_or_the_exception():
    wait = background.in_background(sorted, [3, 1, 2])
    assert wait() == [1, 2, 3] and wait() == [1, 2, 3]
    failed = background.in_background(int, 'not a number')
    with pytest.raises(ValueError, match='not a number'):
        failed()
