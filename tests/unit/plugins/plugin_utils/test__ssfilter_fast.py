# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: ss_filter's compiled selection equals _ssfilter's own (_ssfilter_fast.py)."""

# The oracle is SSFilter.select, the evaluator that the differential suite checks against the real ss: the compiled
# comprehension must pick exactly the same records, in the same order, for every filter of that suite and for random
# expressions (hypothesis), over records of every family.

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import STATE_NUMBERS, new_record
from support.ssfilter_lab import CGROUP, FILTERS
from support.ssfilter_strategies import EPHEMERAL, JOINED, expressions, records as prop_records

V4 = ['127.0.0.1', '0.0.0.0', '10.1.2.3', '198.51.100.7', '127.0.0.2', '198.51.100.1', '127.3.2.1']
V6 = ['::1', '::', '2001:db8::1', 'fe80::5', '::ffff:127.0.0.1', '::ffff:198.51.100.3', '7f00:1::', '::ffff:0.0.0.0']
PORTS = [0, 1, 22, 53, 80, 443, 1023, 1024, 4999, 5000, 8080, 8443, 32768, 40000, 60999, 61000, 65535]


def corpus(count=2500, seed=7):
    """Records of every kind: IPv4, IPv6, v4-mapped, all states (and one no state knows), unix, packet, netlink."""
    rng = random.Random(seed)
    out = []
    for _i in range(count):
        kind = rng.choice(['inet', 'inet6', 'inet', 'inet6', 'unix', 'link', 'netlink', 'odd'])
        if kind == 'unix':
            record = new_record(netid=rng.choice(['u_str', 'u_dgr']), state=rng.choice(['LISTEN', 'ESTAB', 'UNCONN']),
                                family='unix', local_address=rng.choice(['/tmp/a', '@0001a', '', '/run/x.sock']),
                                local_port=None, peer_address='', peer_port=rng.randrange(9), inode=rng.randrange(50))
        elif kind == 'link':
            record = new_record(netid='p_raw', state='UNCONN', family='link', local_address=rng.choice(['ip', '*', 'ipv6']),
                                local_port=rng.randrange(4), peer_address='', peer_port=0)
        elif kind == 'netlink':
            record = new_record(netid='nl', state='UNCONN', family='netlink', local_address=rng.choice(['rtnl', 'audit']),
                                local_port=rng.choice([0, 1234]), peer_address='kernel', peer_port=0)
        elif kind == 'odd':
            record = new_record(netid='tcp', state=rng.choice([None, 'LISTEN']), family=None, local_address=None,
                                local_port=None, peer_address=None, peer_port=None)
        else:
            pool = V4 if kind == 'inet' else V6
            record = new_record(
                netid=rng.choice(['tcp', 'udp']), state=rng.choice(sorted(STATE_NUMBERS) + ['WEIRD', None]), family=kind,
                local_address=rng.choice(pool), local_port=rng.choice(PORTS + [rng.randrange(65536), None]),
                peer_address=rng.choice(pool), peer_port=rng.choice(PORTS + [rng.randrange(65536)]),
                interface=rng.choice([None, None, 'lo', 'na-f-ifb0']))
        record.update(_ifindex=rng.choice([0, 1]), mark=rng.choice([0, 0x10, 0x1ff]), cgroup_id=0,
                      port_locked=rng.choice([True, False]))
        out.append(record)
    return out


CORPUS = corpus()


def same(flt, records):
    fast = _ssfilter_fast.FastFilter(flt)
    want = flt.select(records)
    got = fast.select(records)
    assert [id(r) for r in got] == [id(r) for r in want], (flt.text, fast.source)
    return fast


@pytest.mark.parametrize('text', [ours.replace(CGROUP, '.') for ours, _ss in FILTERS])
def test_differential_suite_filters(text):
    try:
        flt = ssfilter.parse(text, ephemeral_range=EPHEMERAL)
    except FilterError as exc:
        if 'cgroup' in text:
            pytest.skip(str(exc))
        raise
    fast = same(flt, CORPUS)
    assert fast.source is not None
    # Twice: the memos now hold answers, which must still be the same.
    same(flt, CORPUS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.lists(prop_records(), min_size=1, max_size=12))
def test_random_expressions(expression, socks):
    flt = ssfilter.parse(expression[0].replace(JOINED, ''), resolver=lambda name, family: [],
                         ephemeral_range=EPHEMERAL)
    same(flt, socks + CORPUS[:200])


@pytest.mark.parametrize('text', [
    'sport = :22', 'dport != 0', 'src 127.0.0.0/8', 'dst [::1]', 'state listening', 'exclude time-wait',
    'state unknown', 'src inet6:[::]:8443', 'sport > 1024 and dport < 1024', 'src unix:/tmp/*', 'autobound',
    'dev lo or sport = :80', 'fwmark 0x10', '', 'state established ( dport = :ssh or sport = :ssh )',
])
def test_generated_source_is_one_comprehension(text):
    fast = same(ssfilter.parse(text, ephemeral_range=EPHEMERAL), CORPUS)
    assert fast.source.startswith('def _select(records):\n    return [r for r in records if ')
    assert fast._run is not fast._walk      # pylint: disable=protected-access


def test_port_equality_is_inlined():
    fast = _ssfilter_fast.FastFilter(ssfilter.parse('src 127.0.0.1:22'))
    assert "r['local_port'] == 22" in fast.source and '_slow(r)' in fast.source


@pytest.mark.parametrize('text, inet', [
    # ports are compared inline, user and kernel judgements merged when they read the same
    ('sport >= 32768 and sport <= 60999', "(((r['local_port'] or 0) >= 32768 and (r['local_port'] or 0) <= 60999))"),
    ('state established ( dport = :443 or dport = :80 )',
     "(r['state'] in _s1 and ((r['peer_port'] == 443) or (r['peer_port'] == 80)))"),
    ('sport > 1024', "((not (r['local_port'] or 0) <= 1024))"),
    # an expression of one address is one memo lookup; a host term with a port, a lookup and a comparison
    ('src 127.0.0.1 or src 10.0.0.0/8', "(_m1[r['local_address']])"),
    ('dst 10.0.0.0/8:443', "((r['peer_port'] == 443 and _m1[r['peer_address']]))"),
])
def test_generated_expressions(text, inet):
    fast = _ssfilter_fast.FastFilter(ssfilter.parse(text))
    assert fast.source.split('if (')[1].split(" if r['family'] == 'inet' else ")[0] == inet, fast.source


def test_constant_expressions_are_constants():
    fast = _ssfilter_fast.FastFilter(ssfilter.parse('src * and sport = *'))
    assert '[r[' not in fast.source and '(True)' in fast.source
    fast = _ssfilter_fast.FastFilter(ssfilter.parse('not src *'))
    assert '(False)' in fast.source


def test_too_deep_for_python_falls_back_to_the_tree_walk():
    text = 'sport = 0 ' + ' '.join('%s %s = %d' % ('or' if i % 2 else 'and', 'sport' if i % 3 else 'dport', i)
                                   for i in range(1, 400))
    flt = ssfilter.parse(text)
    fast = same(flt, CORPUS)
    assert fast._run == fast._walk          # pylint: disable=protected-access,comparison-with-callable


def test_memos_are_trimmed_between_calls(monkeypatch):
    monkeypatch.setattr(_ssfilter_fast, '_MEMO_KEEP', 3)
    fast = _ssfilter_fast.FastFilter(ssfilter.parse('src 10.0.0.0/8'))
    many = [new_record(netid='tcp', state='LISTEN', family='inet', local_address='10.0.0.%d' % i, local_port=1,
                       peer_address='0.0.0.0', peer_port=0) for i in range(10)]
    assert fast.select(many) == many
    assert all(len(memo) == 0 for memo in fast.memos)
    assert fast.select(many[:2]) == many[:2]
    assert sum(len(memo) for memo in fast.memos) == 2


# --- ss_filter, the function behind the filter ----------------------------------------------------------------

TCP22 = new_record(netid='tcp', state='LISTEN', family='inet', local_address='0.0.0.0', local_port=22,
                   peer_address='0.0.0.0', peer_port=0)
UDP53 = new_record(netid='udp', state='UNCONN', family='inet6', local_address='::', local_port=53,
                   peer_address='::', peer_port=0)
UNIX = new_record(netid='u_str', state='LISTEN', family='unix', local_address='/run/x.sock', local_port=None,
                  peer_address='', peer_port=None, inode=9)
RECORDS = [TCP22, UDP53, UNIX]


@pytest.mark.parametrize('expression, tables, expected', [
    ('', None, RECORDS),
    (None, None, RECORDS),
    ('state listening', None, [TCP22, UNIX]),
    ('sport = :ssh', None, [TCP22]),
    ('sport = :domain', ['udp'], [UDP53]),
    ('', ['tcp'], [TCP22]),
    ('', 'udp', [UDP53]),
    ('', ['unix'], [UNIX]),
    ('', ['u_str'], [UNIX]),
    ('', ['inet'], [TCP22, UDP53]),
    ('', ['all'], RECORDS),
    ('', ['TCP', ' udp '], [TCP22, UDP53]),
    ('src unix:/run/*', None, [UNIX]),
    ('state listening', ['tcp', 'unix'], [TCP22, UNIX]),
])
def test_ss_filter(expression, tables, expected):
    assert _ssfilter_fast.ss_filter(RECORDS, expression, tables) == expected
    assert _ssfilter_fast.ss_filter({'sockets': RECORDS, 'socket_meta': {}}, expression, tables) == expected


def test_ss_filter_is_compiled_once():
    assert _ssfilter_fast.compile_filter('sport = :22', None) is _ssfilter_fast.compile_filter('sport = :22', None)
    assert _ssfilter_fast.compile_filter('sport = :22', ('tcp',)) is not _ssfilter_fast.compile_filter('sport = :22', None)


@pytest.mark.parametrize('records, expression, tables, message', [
    (RECORDS, 'sport = :ssh2', None, 'expression "sport = :ssh2": expected a port after "sport =" at word 3: ":ssh2"'),
    (RECORDS, '( sport = :22', None, 'expression "( sport = :22": missing ")" for the "(" at word 1 at the end of the filter'),
    (RECORDS, 'sport = :22', ['tcp', 'bogus'], 'tables: unknown socket table "bogus"'),
    (RECORDS, 'sport = :22', [], 'tables: expected a list of table names (tcp, udp, unix ...), got a list'),
    (RECORDS, 'sport = :22', [5], 'tables: expected a list of table names (tcp, udp, unix ...), got a list'),
    (RECORDS, 22, None, 'expression: expected a string, got a value of type int'),
    ('tcp', 'sport = :22', None, 'sockets: expected a list of socket records, got a string'),
    ({'a': 1}, 'sport = :22', None, 'sockets: expected a list of socket records, or facts with a "sockets" key; got a '
                                    'dict with keys "a"'),
    ([TCP22, 'x'], 'sport = :22', None, 'sockets[1]: expected a socket record (a dict), got a string'),
    ([TCP22, {'family': 'inet', 'netid': 'tcp'}], 'sport = :22', None,
     'sockets[1]: not a socket record: no "local_address", "local_port", "peer_address", "peer_port"'),
    ([TCP22, {'netid': 'tcp'}], '', ['tcp'], 'sockets[1]: not a socket record: no "family"'),
    ([TCP22, {'netid': 'udp'}], '', ['tcp'], None),     # not a tcp record: nothing else is read
    ([TCP22, {'netid': 'udp', 'family': 'inet'}], '', ['tcp'], None),
    ([{'netid': 'tcp'}], 'state listening', None, 'sockets[0]: not a socket record: no "family", "state"'),
    ([dict(TCP22, local_port='22')], 'sport > 10', None, 'sockets[0]: "local_port" must be an integer or null, got a string'),
    ([dict((k, v) for k, v in TCP22.items() if k != 'mark')], 'fwmark 0x10', None,
     'expression "fwmark 0x10": "fwmark 0x10" (word 1) needs socket marks (mark), which the socket records do not carry'),
])
def test_ss_filter_errors(records, expression, tables, message):
    if message is None:
        _ssfilter_fast.ss_filter(records, expression, tables)
        return
    with pytest.raises(PolicyError) as caught:
        _ssfilter_fast.ss_filter(records, expression, tables)
    assert str(caught.value).startswith(message)


# --- autobound: the port lock from the facts, the ephemeral range from socket_meta or the argument ---------------

CLIENT = new_record(netid='tcp', state='ESTAB', family='inet', local_address='10.0.0.1', local_port=40000,
                    peer_address='10.0.0.2', peer_port=443, port_locked=False)
BOUND = new_record(netid='tcp', state='ESTAB', family='inet', local_address='10.0.0.1', local_port=40001,
                   peer_address='10.0.0.2', peer_port=443, port_locked=True)


@pytest.mark.parametrize('sockets, ephemeral_range, expected, negated', [
    # ss shows `autobound` when the kernel (no lock) and userspace (in the range) both say so, and `not autobound`
    # when both say it is not: a locked port inside the range is in neither answer.
    ([CLIENT, BOUND], [32768, 60999], [CLIENT], []),
    ([CLIENT, BOUND], '1024-4999', [], [BOUND]),
    ({'sockets': [CLIENT, BOUND], 'socket_meta': {'ephemeral_range': [40000, 40000]}}, None, [CLIENT], [BOUND]),
    ({'sockets': [CLIENT, BOUND], 'socket_meta': {'ephemeral_range': [1024, 4999]}}, None, [], [BOUND]),
    ({'sockets': [CLIENT, BOUND], 'socket_meta': {'ephemeral_range': [1024, 4999]}}, [40000, 40001], [CLIENT], []),
])
def test_autobound_uses_the_lock_and_the_hosts_range(sockets, ephemeral_range, expected, negated):
    assert _ssfilter_fast.ss_filter(sockets, 'autobound', ephemeral_range=ephemeral_range) == expected
    assert _ssfilter_fast.ss_filter(sockets, 'not autobound', ephemeral_range=ephemeral_range) == negated


@pytest.mark.parametrize('value, message', [
    ([1, 2, 3], 'ephemeral_range: expected two ports [LOW, HIGH] or "LOW-HIGH", got a list'),
    ('x', 'ephemeral_range: "x": expected a port number 1-65535 or a range LOW-HIGH'),
    ([5000, 1000], 'ephemeral_range: expected 1 <= LOW <= HIGH <= 65535, got 5000-1000'),
    ([0, 70000], 'ephemeral_range: expected 1 <= LOW <= HIGH <= 65535, got 0-70000'),
])
def test_bad_ephemeral_range_is_named(value, message):
    with pytest.raises(PolicyError) as caught:
        _ssfilter_fast.ss_filter([CLIENT], 'autobound', ephemeral_range=value)
    assert str(caught.value) == message
