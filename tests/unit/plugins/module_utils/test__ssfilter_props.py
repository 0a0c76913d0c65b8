# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: property tests of the ss filter language (hypothesis)."""

from __future__ import annotations

import ipaddress
import socket

from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.netaudit.sockets.plugins.module_utils import _ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter_bytecode import audit

EPHEMERAL = (32768, 60999)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def no_dns(name, family):
    return []


def parse(text):
    return _ssfilter.parse(text, resolver=no_dns, ephemeral_range=EPHEMERAL)


# --- records ---------------------------------------------------------------------------------------------

V4 = ['127.0.0.1', '10.1.2.3', '198.51.100.7', '192.0.2.1', '127.0.0.2']
V6 = ['::1', '2001:db8::1', 'fe80::5', '2001:db8:1::9']
DEVICES = {0: None, 1: 'lo', 2: 'eth0'}


@st.composite
def records(draw):
    kind = draw(st.sampled_from(['v4', 'mapped', 'v6']))

    def address():
        if kind == 'v6':
            return draw(st.sampled_from(V6))
        ip = draw(st.sampled_from(V4))
        return ip if kind == 'v4' else '::ffff:' + ip
    ifindex = draw(st.sampled_from(sorted(DEVICES)))
    record = new_record(
        netid=draw(st.sampled_from(['tcp', 'udp'])),
        state=draw(st.sampled_from(['ESTAB', 'LISTEN', 'UNCONN', 'TIME-WAIT', 'SYN-SENT'])),
        family='inet' if kind == 'v4' else 'inet6', local_address=address(),
        local_port=draw(st.integers(0, 65535)), peer_address=address(), peer_port=draw(st.integers(0, 65535)),
        interface=DEVICES[ifindex])
    record.update(_ifindex=ifindex, mark=draw(st.integers(0, 0x3ff)), cgroup_id=0,
                  port_locked=draw(st.booleans()))
    return record


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
    except _ssfilter.FilterError:
        return
    assert isinstance(flt.state_mask(), int)
    for family in (socket.AF_INET, socket.AF_INET6):
        program = flt.bytecode(family)
        assert program is None or program == b'' or audit(program), text
    for record in SAMPLE:
        try:
            assert flt.match(record) in (True, False)
        except _ssfilter.FilterError:
            pass


@SETTINGS
@given(st.text(max_size=40))
def test_random_text_raises_only_filter_errors(text):
    try:
        parse(text)
    except _ssfilter.FilterError:
        pass


# --- 2. valid expressions against a reference written side by side -------------------------------------

def _port_text(draw, port):
    style = draw(st.sampled_from(['dec', 'colon', 'hex', 'oct']))
    if style == 'hex':
        return hex(port)
    if style == 'oct':
        return '0%o' % port if port else '0'
    return (':' if style == 'colon' else '') + str(port)


def _in(address, network):
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None and network.version == 4:
        ip = ip.ipv4_mapped
    return ip.version == network.version and ip in network


# An expression is (text, kernel, user, has_dev): live ss keeps a socket when the kernel's program and its own
# userspace check both accept it (only userspace when `dev` is in the expression). The two views differ here only
# for autobound: the kernel sees the port lock, userspace the ephemeral range.

def _same(text, pred):
    return text, pred, pred, False


@st.composite
def atoms(draw):
    kind = draw(st.sampled_from(['port', 'port', 'cmp', 'v4', 'v6', 'hostport', 'auto', 'mark', 'dev']))
    side = draw(st.sampled_from(['src', 'dst']))
    addr_key, port_key = ('local_address', 'local_port') if side == 'src' else ('peer_address', 'peer_port')
    if kind == 'port':
        port = draw(st.integers(0, 65535))
        word = draw(st.sampled_from(['=', '==', 'eq', '', '!=', 'ne', 'neq']))
        text = '%s %s %s' % ('sport' if side == 'src' else 'dport', word, _port_text(draw, port))
        if word in ('!=', 'ne', 'neq'):
            return _same(text, lambda r: r[port_key] != port)
        return _same(text, lambda r: r[port_key] == port)
    if kind == 'cmp':
        port = draw(st.integers(0, 65535))
        word = draw(st.sampled_from(['<', 'lt', '>', 'gt', '<=', 'le', 'leq', '>=', 'ge', 'geq']))
        ops = {'<': lambda a: a < port, 'lt': lambda a: a < port, '>': lambda a: a > port,
               'gt': lambda a: a > port, '<=': lambda a: a <= port, 'le': lambda a: a <= port,
               'leq': lambda a: a <= port, '>=': lambda a: a >= port, 'ge': lambda a: a >= port,
               'geq': lambda a: a >= port}
        test = ops[word]
        return _same('%s %s %s' % ('sport' if side == 'src' else 'dport', word, _port_text(draw, port)),
                     lambda r: test(r[port_key]))
    if kind in ('v4', 'hostport'):
        base = draw(st.sampled_from(V4))
        length = draw(st.integers(8, 32))
        network = ipaddress.ip_network('%s/%d' % (base, length), strict=False)
        text = '%s/%d' % (base, length) if length != 32 or draw(st.booleans()) else base
        if kind == 'hostport':
            port = draw(st.integers(0, 65535))
            return _same('%s %s:%d' % (side, text, port),
                         lambda r: _in(r[addr_key], network) and r[port_key] == port)
        return _same('%s %s' % (side, text), lambda r: _in(r[addr_key], network))
    if kind == 'v6':
        text = draw(st.sampled_from(['::1', '2001:db8::/32', 'fe80::/10', '2001:db8::1', '2001:db8:1::/48']))
        network = ipaddress.ip_network(text)
        return _same('%s [%s]' % (side, text), lambda r: _in(r[addr_key], network))
    if kind == 'auto':
        return ('autobound', lambda r: not r['port_locked'],
                lambda r: EPHEMERAL[0] <= r['local_port'] <= EPHEMERAL[1], False)
    if kind == 'mark':
        mark, mask = draw(st.integers(0, 0x3ff)), draw(st.sampled_from([0xffffffff, 0xff, 0x10, 0x300, 0]))
        mark &= mask
        text = 'fwmark %#x' % mark if mask == 0xffffffff else 'fwmark %#x/%#x' % (mark, mask)
        return _same(text, lambda r: (r['mark'] & mask) == mark)
    index = draw(st.sampled_from(sorted(DEVICES)))
    name = DEVICES[index]
    word = draw(st.sampled_from(['', '=', '!=']))
    ref = str(index) if name is None or draw(st.booleans()) else name
    if ref == 'eth0':
        ref = '2'    # no such device here: by index only
    if word == '!=':
        return 'dev != %s' % ref, None, lambda r: r['_ifindex'] != index, True
    return ('dev %s %s' % (word, ref)).replace('  ', ' '), None, lambda r: r['_ifindex'] == index, True


def _not(pred):
    return None if pred is None else (lambda r: not pred(r))


def _join(a, b, is_or):
    if a is None or b is None:
        return None
    return (lambda r: a(r) or b(r)) if is_or else (lambda r: a(r) and b(r))


@st.composite
def expressions(draw, depth=3):
    """(text, kernel, user, has_dev); a list joined by and/or is wrapped in parentheses wherever the grammar
    takes a single expression (after `not`, and as the right operand of a join)."""
    roll = draw(st.integers(0, 9))
    if depth == 0 or roll < 4:
        return draw(atoms())
    if roll < 5:
        text, kernel, user, dev = _single(draw, draw(expressions(depth - 1)))
        word = draw(st.sampled_from(['not ', '! ', '!']))
        return word + text, _not(kernel), _not(user), dev
    if roll < 6:
        text, kernel, user, dev = draw(expressions(depth - 1))
        return (draw(st.sampled_from(['( %s )', '(%s)'])) % text), kernel, user, dev
    items = [draw(expressions(depth - 1)) for _i in range(draw(st.integers(2, 4)))]
    text, kernel, user, dev = items[0]
    for item in items[1:]:
        right_text, right_kernel, right_user, right_dev = _single(draw, item)
        word = draw(st.sampled_from(['and', '&', '&&', '', 'or', '|', '||']))
        is_or = word in ('or', '|', '||')
        text = text + (' %s ' % word if word else ' ') + right_text
        kernel, user, dev = _join(kernel, right_kernel, is_or), _join(user, right_user, is_or), dev or right_dev
    return JOINED + text, kernel, user, dev


JOINED = '\x00'


def _single(draw, expression):
    text, kernel, user, dev = expression
    if text.startswith(JOINED):
        text = draw(st.sampled_from(['( %s )', '(%s)'])) % text[1:]
    return text, kernel, user, dev


def reference(expression, record):
    kernel, user, dev = expression[1:]
    return user(record) and (dev or kernel(record))


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
@given(st.sampled_from(sorted(_ssfilter.STATE_WORDS)), st.sampled_from(sorted(_ssfilter.STATE_WORDS)),
       st.booleans(), records())
def test_state_clauses(first, second, exclude, record):
    text = 'state %s %s %s' % (first.upper() if exclude else first, 'exclude' if exclude else 'state', second)
    flt = parse(text)
    words = _ssfilter.STATE_WORDS
    mask = (words[first] & ~words[second]) if exclude else (words[first] | words[second])
    mask = mask or _ssfilter.SS_CONN
    assert flt.state_mask() == mask
    bit = 1 << _ssfilter.STATE_NUMBERS[record['state']]
    assert flt.match(record) == bool(mask & bit)
