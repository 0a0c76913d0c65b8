# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: property tests of the ss filter language (hypothesis)."""

from __future__ import annotations

import socket

from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.netaudit.sockets.plugins.module_utils._records import STATE_NUMBERS, new_record
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.states import SS_CONN, STATE_WORDS
from support.bytecode_audit import audit
from support.ssfilter_strategies import EPHEMERAL, JOINED, expressions, records, reference

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def no_dns(name, family):
    return []


def parse(text):
    return ssfilter.parse(text, resolver=no_dns, ephemeral_range=EPHEMERAL)


# --- records (hypothesis strategies: support/ssfilter_strategies.py) ----------------------------------------

SAMPLE = [
    new_record(netid='tcp', state='LISTEN', family='inet', local_address='0.0.0.0', local_port=22,
               peer_address='0.0.0.0', peer_port=0),
    new_record(netid='tcp', state='ESTAB', family='inet6', local_address='::ffff:127.0.0.1', local_port=40000,
               peer_address='::ffff:127.0.0.1', peer_port=22),
    new_record(netid='udp', state='UNCONN', family='inet6', local_address='::', local_port=53,
               peer_address='::', peer_port=0),
    new_record(netid='u_str', state='LISTEN', family='unix', local_address='/run/x', inode=7),
]
for _r in SAMPLE:
    _r.update(_ifindex=0, mark=0, cgroup_id=0)


# --- 1. any token soup: a FilterError or a filter, never another exception -------------------------------

WORDS = ['src', 'dst', 'sport', 'dport', 'dev', 'fwmark', 'cgroup', 'autobound', 'state', 'exclude', 'excl',
         'and', 'or', 'not', '!', '&', '&&', '|', '||', '(', ')', '=', '==', '!=', '<', '>', '<=', '>=', 'eq',
         'ne', 'lt', 'gt', 'le', 'ge', 'geq', 'leq', 'neq', '22', ':ssh', '*', ':*', '0x16', '026', '08', '-1',
         '65558', '127.0.0.1', '127.0.0.1:22', '[::1]', '[::1]:22', '[::1/64]', '::1', '10/8', '1.2.3', 'default',
         'all', 'any', 'localhost', 'unix:/tmp/*', 'unix:', 'inet:', 'inet6:', 'inet::22', 'link:ip:lo',
         'link:*', 'netlink:rtnl:kernel', 'netlink:', 'vsock:3:*', 'vsock:x', '0x10/0xff', '1/', 'lo', '0', '/',
         'listening', 'listen', 'established', 'connected', 'bucket', 'big', 'junk', '(sport', '22)', '!(',
         'sport=22', 'src=', '\\', '[', ']', '*:22', 'fe80::/64', '[fe80::]/32', '4294967318', 'ssh)', '))']


@SETTINGS
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=10))
def test_random_words_raise_only_filter_errors(words):
    text = ' '.join(words)
    try:
        flt = parse(text)
    except FilterError:
        return
    assert isinstance(flt.state_mask(), int)
    for family in (socket.AF_INET, socket.AF_INET6):
        program = flt.bytecode(family)
        assert program is None or program == b'' or audit(program), text
    for record in SAMPLE:
        try:
            assert flt.match(record) in (True, False)
        except FilterError:
            pass


@SETTINGS
@given(st.text(max_size=40))
def test_random_text_raises_only_filter_errors(text):
    try:
        parse(text)
    except FilterError:
        pass


# --- 2. valid expressions against a reference written side by side (support/ssfilter_strategies.py) -----

@SETTINGS
@given(expressions(), st.lists(records(), min_size=1, max_size=12))
def test_evaluation_agrees_with_reference(expression, socks):
    text = expression[0].replace(JOINED, '')
    flt = parse(text)
    for record in socks:
        assert flt.match(record) == reference(expression, record), (text, record)
    program = flt.bytecode(socket.AF_INET)
    assert (program is None) == expression[3]
    assert program is None or audit(program)
    # What the kernel lets through, then select(kernel_filtered=True): the same sockets as match().
    if program is not None:
        kernel_passed = [r for r in socks if expression[1](r)]
        assert flt.select(kernel_passed, kernel_filtered=True) == flt.select(socks)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(depth=2), expressions(depth=2), expressions(depth=2), st.lists(records(), min_size=1, max_size=8))
def test_and_or_are_equal_and_left_associative(a, b, c, socks):
    a, b, c = [(x[0].replace(JOINED, ''),) for x in (a, b, c)]
    for first, second in (('and', 'or'), ('or', 'and'), ('or', 'or'), ('and', 'and')):
        flt = parse('%s %s %s %s %s' % (a[0], first, b[0], second, c[0]))
        grouped = parse('( %s %s %s ) %s %s' % (a[0], first, b[0], second, c[0]))
        for record in socks:
            assert flt.match(record) == grouped.match(record)


@SETTINGS
@given(st.sampled_from(sorted(STATE_WORDS)), st.sampled_from(sorted(STATE_WORDS)),
       st.booleans(), records())
def test_state_clauses(first, second, exclude, record):
    text = 'state %s %s %s' % (first.upper() if exclude else first, 'exclude' if exclude else 'state', second)
    flt = parse(text)
    words = STATE_WORDS
    mask = (words[first] & ~words[second]) if exclude else (words[first] | words[second])
    mask = mask or SS_CONN
    assert flt.state_mask() == mask
    bit = 1 << STATE_NUMBERS[record['state']]
    assert flt.match(record) == bool(mask & bit)
