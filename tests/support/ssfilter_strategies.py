# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: hypothesis strategies for the ss filter language: inet records, and valid expressions drawn
together with a reference predicate written side by side (what the kernel's program and ss's userspace check keep)."""

import ipaddress

from hypothesis import strategies as st

from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record

# The ephemeral port range the expressions' `autobound` is judged against (parse them with it).
EPHEMERAL = (32768, 60999)

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
