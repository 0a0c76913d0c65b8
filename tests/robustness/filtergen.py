# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: a seeded generator of ss filters (grammar, mutations, hostile input) and the records they run on."""

# The generator is plain `random.Random(seed)`: the same seed gives the same filters on every machine and Python, and
# it is an order of magnitude faster than hypothesis for 100k inputs. NA_FUZZ_SEED overrides the default seed.

from __future__ import annotations

import json
import os
import random

from ansible_collections.netaudit.sockets.plugins.module_utils._records import FIELDS

DEFAULT_SEED = 20240607
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'unit', 'plugins', 'module_utils',
                        'fixtures')


def seed(offset=0):
    """The generator seed of one test part: NA_FUZZ_SEED (default DEFAULT_SEED) plus the part's offset."""
    return int(os.environ.get('NA_FUZZ_SEED', DEFAULT_SEED)) + offset


def describe(seed_value):
    return 'seed %d (NA_FUZZ_SEED=%d plus this part\'s offset %d; the default NA_FUZZ_SEED is %d)' % (
        seed_value, seed(), seed_value - seed(), DEFAULT_SEED)


# --- names the filter language knows ------------------------------------------------------------------------------

STATES = ['unknown', 'established', 'syn-sent', 'syn-recv', 'syn-rcv', 'fin-wait-1', 'fin-wait-2', 'time-wait',
          'unconnected', 'close', 'closed', 'close-wait', 'last-ack', 'listening', 'closing', 'all', 'connected',
          'synchronized', 'bucket', 'big']
BAD_STATES = ['listen', 'estab', 'time_wait', 'new-syn-recv', 'bound-inactive', 'LISTEN', '']
STATE_KEYWORDS = ['state', 'exclude', 'excl']
AND_WORDS = ['and', '&', '&&']
OR_WORDS = ['or', '|', '||']
NOT_WORDS = ['not', '!']
PORT_OPS = ['', '=', '==', 'eq', '!=', 'ne', 'neq', '<', 'lt', '>', 'gt', '<=', 'le', 'leq', '>=', 'ge', 'geq']
HOST_OPS = ['', '', '=', '==', 'eq']
TOGGLE_OPS = ['', '=', '==', 'eq', '!=', 'ne', 'neq']
SERVICES = ['ssh', 'http', 'https', 'domain', 'ntp', 'bootps', 'sunrpc', 'telnet', 'smtp', 'nosuchservice', 'SSH']
TABLE_CHOICES = [('tcp', 'udp'), ('tcp',), ('udp',), ('all',), ('unix',), ('inet',), ('tcp', 'udp', 'unix', 'packet', 'netlink'),
                 ('raw', 'mptcp'), ('u_str', 'p_raw', 'v_str')]
# Names the fake resolver knows; every other name resolves to nothing (no DNS traffic from the tests).
HOSTS = {'localhost': ['127.0.0.1', '::1'], 'ip6-localhost': ['::1'], 'example': ['192.0.2.1', '2001:db8::1', 'fe80::1%lo']}


def fake_resolver(name, family):
    found = HOSTS.get(name, [])
    if family == 'inet':
        return [a for a in found if ':' not in a]
    if family == 'inet6':
        return [a for a in found if ':' in a]
    return list(found)


# --- grammar ------------------------------------------------------------------------------------------------------

def _v4(rng):
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(['127.0.0.1', '0.0.0.0', '10.0.0.1', '192.0.2.7', '198.51.100.7', '127.0.0.2', '255.255.255.255'])
    if kind == 1:
        return rng.choice(['10', '127', '10.1', '193.233.7', '0', '1.2.3'])
    if kind == 2:
        return rng.choice(['0177.0.0.1', '0x7f.1', '010.1', '0x7f000001', '0xff.0xff.0xff.0xff', '08.1', '256.1.1.1'])
    return '.'.join(str(rng.randrange(256)) for _i in range(4))


def _v6(rng):
    return rng.choice(['::1', '::', 'fe80::1', '2001:db8::1', '2001:db8::', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
                       'fe80::5', '7f00:1::', '2001:db8:1::9', '1:2:3:4:5:6:7:8', 'gggg::1'])


def _prefix(rng, limit):
    roll = rng.randrange(10)
    if roll < 6:
        return '/%d' % rng.randrange(limit + 1)
    return rng.choice(['/%d' % (limit + 1), '/0x10', '/010', '/255.255.0.0', '/255.0.255.0', '/', '/-1', '/99999999999'])


def _port(rng, colon=True):
    roll = rng.randrange(12)
    if roll < 4:
        text = str(rng.choice([0, 1, 22, 53, 80, 443, 1023, 1024, 4999, 5000, 8080, 20001, 32768, 44307, 60999, 65535,
                               rng.randrange(65536)]))
    elif roll == 4:
        text = rng.choice(['0x16', '026', '08', '-1', '65536', '65558', '4294967318', '-2147483649', '0x', '00'])
    elif roll < 7:
        text = rng.choice(SERVICES)
    elif roll == 7:
        text = '*'
    elif roll == 8:
        text = rng.choice(['inet::22', 'inet6::80', 'link:lo', 'link:5', 'link:', 'netlink::4242', 'netlink:kernel',
                           'netlink:-1', 'vsock:1024', 'vsock:*', 'vsock:0xffffffff', 'unix:/tmp/*', 'link:nosuchdev0'])
        return text
    else:
        text = str(rng.randrange(-5, 70000))
    if colon and rng.random() < 0.4:
        text = ':' + text
    return text


def _unix_glob(rng):
    return rng.choice(['/tmp/*', '@*', '*', '', '/run/[a-z]*', '/tmp/na-tb-*/Stream.sock', '?', '[!a]*', '\\\\*', '*.sock',
                       '/TMP/*', '[', '[]]', '*[0-9]', '@eeee?', '/run/*/*', '**'])


def _inet_host(rng):
    roll = rng.randrange(16)
    if roll < 4:
        host = _v4(rng) + (_prefix(rng, 32) if rng.random() < 0.4 else '')
    elif roll < 6:
        inner = _v6(rng) + (_prefix(rng, 128) if rng.random() < 0.3 else '')
        host = '[%s]' % inner if rng.random() < 0.8 else inner
    elif roll == 6:
        host = rng.choice(['fe80::/64', '2001:db8::/32', '::/0', '[fe80::]/32', '[::1', '::1]'])
    elif roll == 7:
        host = '*'
    elif roll == 8:
        host = rng.choice(['all', 'any', 'default'])
    elif roll == 9:
        host = rng.choice(['localhost', 'example', 'ip6-localhost', 'nosuchhost', 'a.b', 'Localhost'])
    else:
        host = rng.choice([_v4(rng), '[%s]' % _v6(rng), '*', 'localhost'])
    if rng.random() < 0.35:
        host += ':' + _port(rng, colon=False)
    if rng.random() < 0.15:
        host = rng.choice(['inet:', 'inet6:']) + host
    return host


def _host(rng):
    roll = rng.randrange(20)
    if roll < 13:
        return _inet_host(rng)
    if roll < 16:
        return 'unix:' + _unix_glob(rng)
    if roll == 16:
        return 'link:' + rng.choice(['ip:lo', '*', 'all:1', 'ipv6:*', '0x800:', 'bogus', ':lo', 'ip', 'arp:2', 'ALL:*',
                                     'ip:nosuchdev0', ':99999999999'])
    if roll == 17:
        return 'netlink:' + rng.choice(['rtnl:kernel', '*:*', '16', 'audit:-1', '0x10:32276', 'uevent:', 'bogus:1', ':0',
                                        'genl:4294967296', 'route'])
    if roll == 18:
        return 'vsock:' + rng.choice(['3:*', '*:1024', '2:0xffffffff', '-1:5', 'x', '1:', ':', '4294967296:1'])
    return rng.choice(['', ':', '[]', '[:]', '*:*', '::', '/', '/8'])


def term(rng):
    """One condition of the grammar, as a list of words."""
    roll = rng.randrange(20)
    if roll < 5:
        return [rng.choice(['src', 'dst'])] + ([rng.choice(HOST_OPS)] if rng.random() < 0.3 else []) + [_host(rng)]
    if roll < 12:
        op = rng.choice(PORT_OPS)
        return [rng.choice(['sport', 'dport'])] + ([op] if op else []) + [_port(rng)]
    if roll == 12:
        op = rng.choice(TOGGLE_OPS)
        return ['dev'] + ([op] if op else []) + [rng.choice(['lo', '1', '0', '0x1', 'eth0', 'ifb0', 'nosuchdev0',
                                                             'abcdefghijklmnopq', '/x', '2', '-1'])]
    if roll == 13:
        op = rng.choice(TOGGLE_OPS)
        return ['fwmark'] + ([op] if op else []) + [rng.choice(['0', '0x10', '42', '0x10/0xff', '1/', '/1', '0x1/0x1',
                                                                '-1', '4294967296', 'x', '0x2a/0xffffffff'])]
    if roll == 14:
        op = rng.choice(TOGGLE_OPS)
        return ['cgroup'] + ([op] if op else []) + [rng.choice(['/', '.', '/system.slice', '/nonexistent', '/init.scope',
                                                                '..', '/sys', '//'])]
    if roll == 15:
        return ['autobound']
    if roll == 16:
        # an operator or value where a condition belongs: the parser must say where
        return [rng.choice(['>', '=', 'eq', '22', 'src=', 'state', 'SPORT', ')', '(', '!='])]
    if roll == 17:
        return [rng.choice(['sport', 'dport']), rng.choice(PORT_OPS[1:]), rng.choice(SERVICES)]
    return [rng.choice(['src', 'dst']), _inet_host(rng)]


def expression(rng, depth=0):
    """A list of words: an exprlist of 1 to 4 exprs joined by and/or/juxtaposition."""
    words = _expr(rng, depth)
    for _i in range(rng.choice([0, 0, 1, 1, 2, 3])):
        joiner = rng.random()
        if joiner < 0.4:
            words.append(rng.choice(AND_WORDS))
        elif joiner < 0.8:
            words.append(rng.choice(OR_WORDS))
        words += _expr(rng, depth)
    return words


def _expr(rng, depth):
    roll = rng.random()
    if roll < 0.15 and depth < 4:
        return ['('] + expression(rng, depth + 1) + [')']
    if roll < 0.27 and depth < 6:
        return [rng.choice(NOT_WORDS)] + _expr(rng, depth + 1)
    return term(rng)


def state_clauses(rng):
    words = []
    for _i in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        name = rng.choice(STATES) if rng.random() < 0.9 else rng.choice(BAD_STATES)
        if rng.random() < 0.1:
            name = name.upper()
        words += [rng.choice(STATE_KEYWORDS), name]
    return words


def _glue(rng, words):
    """Join words the ways people type them: blanks of every kind, parentheses and operators glued on."""
    out = []
    for word in words:
        if out and rng.random() < 0.12 and (word == ')' or out[-1] in ('(', '!')):
            out[-1] += word
        elif out and rng.random() < 0.05 and word in ('=', '==', '!=', '<', '>', '<=', '>=') and out[-1] in ('sport', 'dport'):
            out[-1] += word
        elif out and rng.random() < 0.05 and out[-1].endswith(('=', '<', '>')) and out[-1][:5] in ('sport', 'dport'):
            out[-1] += word
        else:
            out.append(word)
    text = ''
    for index, word in enumerate(out):
        if index:
            text += ' ' if rng.random() < 0.9 else rng.choice(['  ', '\t', '\n', ' \t '])
        text += word
    if rng.random() < 0.05:
        text = rng.choice([' ', '\t']) + text + rng.choice([' ', '\n'])
    return text


def grammar_filter(rng):
    words = state_clauses(rng)
    if not words or rng.random() < 0.9:
        words += expression(rng)
    return _glue(rng, words)


# --- mutations ------------------------------------------------------------------------------------------------------

VOCABULARY = (['src', 'dst', 'sport', 'dport', 'dev', 'fwmark', 'cgroup', 'autobound', '(', ')', '!', 'not', 'and', 'or',
               '&', '|', '&&', '||', 'state', 'exclude', 'excl'] + PORT_OPS[1:] + STATES[:6] + SERVICES[:4]
              + ['22', ':22', '*', '127.0.0.1', '[::1]', 'unix:*', 'link:*', 'netlink:*', 'vsock:*', 'inet:', '0x10/0xff'])
CHARS = '()[]:/*!=<>\\ &|.-0123456789abcfx@?\t,;\'"#%' + '\u00e9\u0661\uff11\u2003\u00a0\u202e\ufeff\u0301'


def mutate(rng, text):
    """One to three edits of a valid filter: words deleted, inserted, swapped, repeated; characters changed; a cut."""
    for _i in range(rng.choice([1, 1, 2, 3])):
        words = text.split()
        roll = rng.randrange(11)
        if roll < 5 and words:
            index = rng.randrange(len(words))
            if roll == 0:
                del words[index]
            elif roll == 1:
                words.insert(rng.randrange(len(words) + 1), rng.choice(VOCABULARY))
            elif roll == 2 and len(words) > 1:
                other = rng.randrange(len(words))
                words[index], words[other] = words[other], words[index]
            elif roll == 3:
                words.insert(index, words[index])
            else:
                words[index] = rng.choice(VOCABULARY)
            text = ' '.join(words)
        elif text:
            pos = rng.randrange(len(text) + 1)
            if roll == 5:
                text = text[:pos] + text[pos + 1:]
            elif roll == 6:
                text = text[:pos] + rng.choice(CHARS) + text[pos:]
            elif roll == 7 and pos + 1 < len(text):
                text = text[:pos] + text[pos + 1] + text[pos] + text[pos + 2:]
            elif roll == 8:
                text = text[:pos]
            elif roll == 9:
                end = min(len(text), pos + rng.randrange(1, 12))
                text = text[:end] + text[pos:end] + text[end:]
            else:
                text = text[:pos] + text[pos:pos + 1].swapcase() + text[pos + 1:]
    return text


# --- hostile input that stays small enough for the in-process loop ----------------------------------------------------

UNICODE_SAMPLES = ['\u00e9', '\u0661\u0662', '\uff11\uff12', '\u2003', '\u00a0', '\u3000', '\u202e', '\ufeff', '\u0301',
                   '\U0001f600', '\u2028', '\x85', '\u0130', '\u212a', '\ud800', '\udfff', '\udc80', '\ud83d']


def hostile(rng, base):
    # the costly kinds (huge numbers, deep nesting, long chains: 3, 4, 6) come a third as often as the others
    roll = rng.choice([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 5, 5, 5, 6, 7, 7, 7, 8, 8, 8])
    if roll == 0:
        pos = rng.randrange(len(base) + 1)
        return base[:pos] + '\x00' * rng.randrange(1, 4) + base[pos:]
    if roll == 1:
        pos = rng.randrange(len(base) + 1)
        return base[:pos] + ''.join(rng.choice(UNICODE_SAMPLES) for _i in range(rng.randrange(1, 4))) + base[pos:]
    if roll == 2:
        return ''.join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0x80, 0x3000), rng.randrange(0xd800, 0xe000),
                                       rng.randrange(0x10000, 0x110000), 0])) for _i in range(rng.randrange(1, 30)))
    if roll == 3:
        digits = rng.choice([20, 40, 300, 4000, 4301, 6000])
        number = rng.choice(['', '-', '0x', '0', '-0x']) + ''.join(rng.choice('0123456789') for _i in range(digits))
        return rng.choice(['sport = %s', 'dport > %s', 'src 10.0.0.1/%s', 'fwmark %s', 'fwmark 1/%s', 'dev %s', 'src vsock:%s:1',
                           'src netlink:1:%s', 'sport = link:%s', 'src %s', 'src 1.%s']) % number
    if roll == 4:
        depth = rng.choice([50, 150, 199, 200, 201, 400])
        kind = rng.randrange(4)
        if kind == 0:
            return '( ' * depth + 'sport = 22' + ' )' * depth
        if kind == 1:
            return 'not ' * depth + 'autobound'
        if kind == 2:
            return '!' * depth + '(dport = 1)'
        return '! ( ' * depth + 'src 10/8' + ' )' * depth
    if roll == 5:
        return rng.choice(['', ' ', '\t\n', '\x0b\x0c\r', '\u3000', '\u2003 \u2003', '\\', '\\ ', ' \\', '"', "'", '#', '0'])
    if roll == 6:
        count = rng.choice([50, 200, 600])
        joiner = rng.choice([' or ', ' and ', ' ', ' | '])
        return joiner.join(term_text(rng) for _i in range(count))
    if roll == 7:
        return base + ' ' + ')' * rng.randrange(1, 5)
    return base.replace(' ', rng.choice(['\\ ', '\t', '\u00a0', '\x00', '\\']))


def term_text(rng):
    return ' '.join(term(rng))


def filters(seed_value, count, kinds=('grammar', 'mutation', 'hostile')):
    """`count` filters: (kind, text, tables) tuples, reproducible from the seed."""
    rng = random.Random(seed_value)
    for _i in range(count):
        kind = rng.choice(kinds)
        text = grammar_filter(rng)
        if kind == 'mutation':
            text = mutate(rng, text)
        elif kind == 'hostile':
            text = hostile(rng, text)
        yield kind, text, rng.choice(TABLE_CHOICES)


def has_surrogate(text):
    return any(0xd800 <= ord(char) <= 0xdfff for char in text)


def ansible_safe(seed_value, count, kind):
    """`count` filters of one kind without lone surrogates: ansible-core refuses those before any plugin or module code
    runs (from_json, AnsibleModule's argument log), so runs through ansible leave them to the in-process fuzzing."""
    kept = []
    for _kind, text, tables in filters(seed_value, 4 * count, kinds=(kind,)):
        if not has_surrogate(text):
            kept.append((text, tables))
        if len(kept) == count:
            break
    return kept


# --- records of real shape: the captured sock_diag dumps of the unit tests -------------------------------------------

def _complete(record, interfaces):
    """A record as a gather run holds it before its private keys (`_ifindex`) go: every public key, and `_ifindex`."""
    out = dict.fromkeys(FIELDS)
    out['processes'] = []
    out.update(record)
    if out.get('_ifindex') is None:
        names = dict((name, int(index)) for index, name in interfaces.items())
        out['_ifindex'] = names.get(out.get('interface'), 0)
    if out['family'] in ('inet', 'inet6'):
        for key in ('mark', 'cgroup_id'):
            if out.get(key) is None:
                out[key] = 0
    return out


def dump_records():
    """Every record of the captured dumps (tcp, udp, mptcp, unix, packet, netlink) with `_ifindex`; autobound's port
    lock (`port_locked`) alternates over the inet ones."""
    records = []
    for name in ('sockdiag_expected.json', 'sockdiag_other_expected.json'):
        with open(os.path.join(FIXTURES, name)) as handle:
            data = json.load(handle)
        for dump in data['dumps'].values():
            records.extend(_complete(record, data.get('interfaces', {})) for record in dump['records'])
    for index, record in enumerate(records):
        if record['family'] in ('inet', 'inet6'):
            record['port_locked'] = bool(index % 2)
    # Two vsock sockets in the shape _netlink.families gives them (this kernel has no vsock_diag to capture from).
    for local, lport, peer, rport, state in (('*', 1024, '*', -1, 'LISTEN'), ('3', 5000, '2', 1234, 'ESTAB')):
        records.append(_complete(dict(netid='v_str', state=state, family='vsock', local_address=local, local_port=lport,
                                      peer_address=peer, peer_port=rport, inode=900000 + lport), {}))
    return records


def facts_records():
    """The same records as socket_facts returns them (and ss_filter receives them): without the private keys."""
    return [dict((key, value) for key, value in record.items() if not key.startswith('_')) for record in dump_records()]
