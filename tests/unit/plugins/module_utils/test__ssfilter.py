# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: table-driven tests of the ss filter language (module_utils/_ssfilter/)."""

from __future__ import annotations

import os
import socket

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._records import ALL_STATES, STATE_NUMBERS, new_record
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import conditions, lexer, ssfilter, states, values
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from support.bytecode_audit import audit


def fake_resolver(name, family):
    table = {'localhost': ['127.0.0.1', '::1'], 'v6first': ['::1', '127.0.0.1'], 'onlyv4': ['10.1.2.3']}
    found = table.get(name, [])
    if family == 'inet':
        found = [a for a in found if ':' not in a]
    elif family == 'inet6':
        found = [a for a in found if ':' in a]
    return found


def parse(text, **kw):
    kw.setdefault('resolver', fake_resolver)
    kw.setdefault('ephemeral_range', (32768, 60999))
    return ssfilter.parse(text, **kw)


def bits(*names):
    out = 0
    for name in names:
        out |= 1 << STATE_NUMBERS[name]
    return out


def rec(local, lport, peer='0.0.0.0', pport=0, state='ESTAB', netid='tcp', **extra):
    family = 'inet6' if ':' in local else 'inet'
    fields = dict(netid=netid, state=state, family=family, local_address=local, local_port=lport,
                  peer_address=peer if family == 'inet' or ':' in peer else '::ffff:' + peer, peer_port=pport)
    private = dict((k, extra.pop(k)) for k in list(extra) if k.startswith('_'))
    fields.update(extra)
    record = new_record(**fields)
    record.update(private)
    return record


def unix(name, state='LISTEN', netid='u_str', inode=1000, peer=''):
    return new_record(netid=netid, state=state, family='unix', local_address=name, peer_address=peer, inode=inode)


# --- bytecode, byte for byte (spec 4.3 and strace of ss 6.1.0) ------------------------------------------

BYTECODE = [
    ('sport = :22 or dport = :22',
     '07 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00 01 04 14 00 08 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00'),
    ('src 10.0.0.0/8', '07 10 14 00 02 08 00 00 ff ff ff ff 0a 00 00 00'),
    ('not autobound and sport ge 1024', '06 04 08 00 01 04 10 00 02 08 0c 00 00 00 00 04'),
    ('sport = :22', '07 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00'),
    ('src *:22', '07 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00'),
    ('src inet:*:22', '07 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00'),
    ('sport = inet::22', '07 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00'),
    ('src default', '07 10 14 00 00 00 00 00 ff ff ff ff 00 00 00 00'),
    ('src any', '07 10 14 00 00 00 00 00 ff ff ff ff 00 00 00 00'),
    ('src inet:any', '07 10 14 00 02 00 00 00 ff ff ff ff 00 00 00 00'),
    ('src inet6:any', '07 1c 20 00 0a 00 00 00 ff ff ff ff' + ' 00' * 16),
    ('src ::/0', '07 1c 20 00 0a 00 00 00 ff ff ff ff' + ' 00' * 16),
    ('src 10', '07 10 14 00 02 20 00 00 ff ff ff ff 0a 00 00 00'),
    ('src 010.1/16', '07 10 14 00 02 10 00 00 ff ff ff ff 08 01 00 00'),
    ('src 10.0.0.0/255.0.0.0', '07 10 14 00 02 08 00 00 ff ff ff ff 0a 00 00 00'),
    ('src 127.1', '07 10 14 00 02 20 00 00 ff ff ff ff 7f 01 00 00'),
    ('src 0x7f.1', '07 10 14 00 02 20 00 00 ff ff ff ff 7f 01 00 00'),
    ('src +127.+1', '07 10 14 00 02 20 00 00 ff ff ff ff 7f 01 00 00'),
    ('src 127.0.0.1/0x20', '07 10 14 00 02 20 00 00 ff ff ff ff 7f 00 00 01'),
    ('src 127.0.0.1:ssh', '07 10 14 00 02 20 00 00 16 00 00 00 7f 00 00 01'),
    ('sport > 65558', '03 08 0c 00 00 00 16 00 01 04 08 00'),
    ('sport = 65558', '07 10 14 00 00 00 00 00 16 00 01 00 00 00 00 00'),
    ('sport = :', '07 10 14 00 00 00 00 00 ff ff ff ff 00 00 00 00'),
    ('src [::ffff:1.2.3.4]', '07 1c 20 00 0a 80 00 00 ff ff ff ff 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04'),
    ('src [::1/64]', '07 1c 20 00 0a 40 00 00 ff ff ff ff' + ' 00' * 15 + ' 01'),
    ('src inet6:[::1]', '07 1c 20 00 0a 80 00 00 ff ff ff ff' + ' 00' * 15 + ' 01'),
    ('autobound', '06 04 08 00'),
    ('fwmark 0x10/0xff', '0a 0c 10 00 10 00 00 00 ff 00 00 00'),
    ('fwmark 0x10junk', '0a 0c 10 00 10 00 00 00 ff ff ff ff'),
    ('not sport = 22', '07 10 14 00 00 00 00 00 16 00 00 00 00 00 00 00 01 04 08 00'),
    ('src 1.2.3.4 or src [::1]',
     '07 10 14 00 02 20 00 00 ff ff ff ff 01 02 03 04 01 04 20 00 '
     '07 1c 20 00 0a 80 00 00 ff ff ff ff' + ' 00' * 15 + ' 01'),
    ('dst 127.0.0.1', '08 10 14 00 02 20 00 00 ff ff ff ff 7f 00 00 01'),
    ('src fe80::/64', '07 1c 20 00 0a 40 00 00 ff ff ff ff fe 80' + ' 00' * 14),
    ('src fe80::/64:22', '07 1c 20 00 0a 40 00 00 16 00 00 00 fe 80' + ' 00' * 14),
]


@pytest.mark.parametrize('text,expected', BYTECODE)
def test_bytecode_matches_ss(text, expected):
    program = parse(text).bytecode(socket.AF_INET)
    assert program.hex(' ') == expected
    assert parse(text).bytecode(socket.AF_INET6) == program
    assert audit(program)


def test_bytecode_little_things():
    assert parse('').bytecode(socket.AF_INET) == b''
    assert parse(None).bytecode(socket.AF_INET6) == b''
    assert parse('state listening').bytecode(socket.AF_INET) == b''
    assert parse('dev lo or sport = 22').bytecode(socket.AF_INET) is None
    assert parse('src unix:/tmp/*').bytecode(socket.AF_INET) is None
    with pytest.raises(ValueError):
        parse('sport = 22').bytecode(socket.AF_UNIX)


def test_bytecode_cgroup_and_alternatives():
    flt = ssfilter.SSFilter('x', conditions.CgroupCond(0x1122334455, '/x'))
    assert flt.bytecode(socket.AF_INET).hex(' ') == '0d 0c 10 00 55 44 33 22 11 00 00 00'
    # Two addresses for one name: an OR of alternatives; every one gets room for an IPv6 address, so
    # the kernel accepts the program whichever family comes first.
    program = parse('dst localhost').bytecode(socket.AF_INET)
    assert program.hex(' ') == (
        '08 1c 20 00 02 20 00 00 ff ff ff ff 7f 00 00 01' + ' 00' * 12 + ' 01 04 20 00 '
        '08 1c 20 00 0a 80 00 00 ff ff ff ff' + ' 00' * 15 + ' 01')
    assert audit(program)
    assert audit(parse('dst v6first and not dst localhost or sport > 5').bytecode(socket.AF_INET))


# --- states ----------------------------------------------------------------------------------------------

STATES = [
    ('', False, ALL_STATES), ('', True, bits('LISTEN', 'UNCONN')), ('sport = 22', True, bits('LISTEN', 'UNCONN')),
    ('state listening', True, bits('LISTEN')), ('state LISTENING', False, bits('LISTEN')),
    ('state established', False, bits('ESTAB')), ('state syn-rcv', False, bits('SYN-RECV')),
    ('state closed', False, bits('UNCONN')), ('state close', False, bits('UNCONN')),
    ('state unconnected', False, bits('UNCONN')), ('state unknown', False, bits('UNKNOWN')),
    ('state all', False, ALL_STATES),
    ('state connected', False, ALL_STATES & ~bits('LISTEN', 'UNCONN')),
    ('state synchronized', False, ALL_STATES & ~bits('LISTEN', 'UNCONN', 'SYN-SENT')),
    ('state bucket', False, bits('SYN-RECV', 'TIME-WAIT')),
    ('state big', False, ALL_STATES & ~bits('SYN-RECV', 'TIME-WAIT')),
    ('exclude listening', False, ALL_STATES & ~bits('LISTEN')),
    ('excl bucket', False, ALL_STATES & ~bits('SYN-RECV', 'TIME-WAIT')),
    ('state listening state established', False, bits('LISTEN', 'ESTAB')),
    ('state connected exclude time-wait', False, ALL_STATES & ~bits('LISTEN', 'UNCONN', 'TIME-WAIT')),
    ('exclude all', True, states.SS_CONN),
    ('state established exclude established sport = 22', False, states.SS_CONN),
]


@pytest.mark.parametrize('text,listening,mask', STATES)
def test_state_mask(text, listening, mask):
    flt = parse(text)
    assert flt.state_mask(listening=listening) == mask
    assert flt.has_state_clause == text.startswith(('state', 'exclude', 'excl'))


@pytest.mark.parametrize('tables,mask', [
    (('tcp', 'udp'), states.SS_CONN), (('udp',), bits('ESTAB')), (('raw',), bits('ESTAB')),
    (('u_dgr',), bits('UNCONN')), (('udp', 'unix_dgram'), bits('ESTAB', 'UNCONN')),
    (('packet', 'netlink'), bits('UNCONN')), (('all',), states.SS_CONN | bits('UNCONN')),
])
def test_empty_state_set_falls_back_to_table_defaults(tables, mask):
    assert parse('exclude all', tables=tables).state_mask() == mask


def test_state_clause_filters_records():
    flt = parse('state listening')
    assert flt.match(rec('0.0.0.0', 22, state='LISTEN'))
    assert not flt.match(rec('127.0.0.1', 22, state='ESTAB'))


# --- families forced by prefixes ------------------------------------------------------------------------

@pytest.mark.parametrize('text,families', [
    ('sport = 22', None), ('src 10.0.0.1', None), ('src [::1]', None), ('src unix:/tmp/*', {'unix'}),
    ('src inet:10.0.0.1', {'inet'}), ('sport = inet6::22', {'inet6'}), ('src netlink:rtnl', {'netlink'}),
    ('src link:ip', {'link'}), ('src vsock:3:1024', {'vsock'}), ('src inet:1.2.3.4 or src unix:*', {'unix'}),
    ('src unix:* or src inet6:[::1] or sport = 22', {'inet6'}),
])
def test_families(text, families):
    flt = parse(text)
    assert flt.families == (frozenset(families) if families else None)


# --- grammar: precedence, synonyms, parentheses, glued tokens ------------------------------------------

P22 = rec('127.0.0.1', 22, '127.0.0.1', 1000)
P80, P443 = rec('127.0.0.1', 80, '127.0.0.1', 22), rec('127.0.0.1', 443, '127.0.0.1', 22)
SOCKS = {'p22': P22, 'p80': P80, 'p443': P443}

GRAMMAR = [
    ('sport = :22 or sport = :80 and dport = :22', {'p80'}),           # (a or b) and c
    ('sport = :22 and dport = :22 or sport = :80', {'p80'}),
    ('sport = :443 dport = :22 or sport = :22', {'p22', 'p443'}),
    ('! sport = :22 or sport = :22', {'p22', 'p80', 'p443'}),
    ('not ( sport = :22 or sport = :80 )', {'p443'}),
    ('not not sport = :22', {'p22'}), ('! ! ! sport = :22', {'p80', 'p443'}),
    ('sport = 22 & dport = 1000', {'p22'}), ('sport = 22 && dport = 1000', {'p22'}),
    ('sport = 22 | sport = 80', {'p22', 'p80'}), ('sport = 22 || sport = 80', {'p22', 'p80'}),
    ('sport == 22', {'p22'}), ('sport eq 22', {'p22'}), ('sport 22', {'p22'}), ('sport :22', {'p22'}),
    ('sport != 22', {'p80', 'p443'}), ('sport ne 22', {'p80', 'p443'}), ('sport neq 22', {'p80', 'p443'}),
    ('sport > 80', {'p443'}), ('sport gt 80', {'p443'}), ('sport < 80', {'p22'}), ('sport lt 80', {'p22'}),
    ('sport >= 80', {'p80', 'p443'}), ('sport ge 80', {'p80', 'p443'}), ('sport geq 80', {'p80', 'p443'}),
    ('sport <= 80', {'p22', 'p80'}), ('sport le 80', {'p22', 'p80'}), ('sport leq 80', {'p22', 'p80'}),
    ('sport = 0x16', {'p22'}), ('sport = 026', {'p22'}), ('sport = :ssh', {'p22'}), ('sport = *', set(SOCKS)),
    ('( sport = 22 )', {'p22'}), ('(sport = 22)', {'p22'}), ('((sport = 22))', {'p22'}),
    ('!(sport = 22)', {'p80', 'p443'}), ('(sport = 22 or sport = 80) and dport = 22', {'p80'}),
    ('sport=22', {'p22'}), ('sport!=22', {'p80', 'p443'}), ('sport>=80', {'p80', 'p443'}),
    ('!sport = 22', {'p80', 'p443'}), ('(autobound)', set()), ('sport\\ =\\ 22', set()),
    ('src 127.0.0.1:22', {'p22'}), ('src = 127.0.0.1', set(SOCKS)), ('dst 127.0.0.1:22', {'p80', 'p443'}),
    ('( ( sport = 22 ) or ( sport = 80 ) ) ( dport = 22 )', {'p80'}),
    ('state established sport = 22', {'p22'}),
]


@pytest.mark.parametrize('text,expected', GRAMMAR)
def test_grammar(text, expected):
    if '\\ ' in text:
        with pytest.raises(FilterError):
            parse(text)
        return
    flt = parse(text)
    assert set(name for name, r in SOCKS.items() if flt.match(r)) == expected


def test_tree_nodes_and_their_one_flatten():
    # ss reads and/or left to right with equal precedence: a run of them is left-deep, walked by Junction.chain().
    tree = parse('sport = 22 or sport = 80 dport = 22 ! autobound').tree
    assert isinstance(tree, conditions.And)
    first, steps = tree.chain()
    assert isinstance(first, conditions.HostCond) and first.port == 22
    assert [(op, type(right).__name__) for op, right in steps] == [('or', 'HostCond'), ('and', 'HostCond'), ('and', 'Not')]
    assert isinstance(steps[-1][1].inner, conditions.AutoBound)
    assert [term.text for term in tree.leaves()] == ['sport = 22', 'sport = 80', 'dport = 22', 'autobound']
    # != > < are negations of the condition written
    assert isinstance(parse('sport != 22').tree, conditions.Not)
    assert parse('sport > 22').tree.inner.op == 'le' and parse('sport < 22').tree.inner.op == 'ge'


@pytest.mark.parametrize('text, user, kernel', [
    ('src *', True, True), ('sport = 22', True, True), ('src inet:any', True, False), ('src 0.0.0.0/0', True, False),
    ('src 10.0.0.0/8', False, False), ('dst [::1]:22', False, False),
])
def test_host_conditions_say_what_they_read(text, user, kernel):
    # The public interface the controller's compiler (plugin_utils/_ssfilter_fast.py) reads instead of internals.
    term = parse(text).tree
    assert (term.passes_any_address('user'), term.passes_any_address('kernel')) == (user, kernel)
    side = 'local' if text.startswith(('src', 'sport')) else 'peer'
    assert term.is_inet and (term.address_key, term.port_key) == (side + '_address', side + '_port')
    assert not parse('src unix:/run/*').tree.is_inet


def test_split_words():
    assert lexer.split_words(' a\tb\\ c  d\\\\ ') == ['a', 'b c', 'd\\']
    assert lexer.split_words('') == []
    assert parse(['sport', '=', '22']).match(P22)


# --- userspace and kernel rules together --------------------------------------------------------------

V4_ANY = rec('0.0.0.0', 80, state='LISTEN')
V4_LO = rec('127.0.0.1', 22, '127.0.0.1', 40000)
V6_ANY = rec('::', 80, '::', 0, state='LISTEN', v6only=False)
V6_LO = rec('::1', 22, '::1', 40000)
MAPPED = rec('::ffff:127.0.0.1', 8080, '127.0.0.1', 40000)
EPH = rec('127.0.0.1', 40001, '127.0.0.1', 22)
LOCKED = rec('127.0.0.1', 40002, '127.0.0.1', 22, port_locked=True)
HIGH = rec('127.0.0.1', 65535, '127.0.0.1', 22)
POP = {'v4any': V4_ANY, 'v4lo': V4_LO, 'v6any': V6_ANY, 'v6lo': V6_LO, 'mapped': MAPPED, 'eph': EPH,
       'locked': LOCKED, 'high': HIGH}

SEMANTICS = [
    ('src 0.0.0.0', {'v4any'}),                                    # the kernel keeps families apart
    ('not src 0.0.0.0', {'v4lo', 'eph', 'locked', 'high'}),   # ...userspace does not: [::], [::1], [::ffff:..] go
    ('src [::]', {'v6any'}), ('not src [::]', {'v4lo', 'v6lo', 'mapped', 'eph', 'locked', 'high'}),
    ('src 0.0.0.0/0', {'v4any', 'v4lo', 'mapped', 'eph', 'locked', 'high'}),
    ('src ::/0', {'v6any', 'v6lo', 'mapped'}), ('src [::/0]', {'v6any', 'v6lo', 'mapped'}),
    ('src 127.0.0.1', {'v4lo', 'mapped', 'eph', 'locked', 'high'}),   # a v4 rule matches v4-mapped sockets
    ('src [::ffff:127.0.0.1]', {'mapped'}),                          # a v4-mapped rule only mapped ones
    ('src [::ffff:127.0.0.0/104]', {'mapped'}),
    ('src [::1/64]', {'v6any', 'v6lo', 'mapped'}), ('src 127/8', {'v4lo', 'mapped', 'eph', 'locked', 'high'}),
    ('src 127', set()),                                              # a partial address without /len is /32
    ('dst localhost', {'v4lo', 'v6lo', 'mapped', 'eph', 'locked', 'high'}),
    ('sport = 80', {'v4any', 'v6any'}), ('src *:80', {'v4any', 'v6any'}),
    ('autobound', {'eph'}), ('not autobound', {'v4any', 'v4lo', 'v6any', 'v6lo', 'mapped', 'high'}),
    ('sport <= 65558', {'v4lo', 'v6lo'}),                            # the kernel's u16 makes it <= 22
    ('sport >= 65558', set()), ('sport > 65558', set()), ('sport = 65558', set()),
    ('sport ge *', {'high'}),                                        # -1 in userspace, 65535 in the kernel
    ('sport = -1', set(POP)), ('sport = -5', set()),
    ('dev lo or src 0.0.0.0', {'v4any', 'v6any', 'v6lo', 'mapped'}),  # with dev, only userspace rules apply
]


@pytest.mark.parametrize('text,expected', SEMANTICS)
def test_live_semantics(text, expected):
    flt = parse(text)
    assert set(name for name, r in POP.items() if flt.match(r)) == expected


def test_kernel_filtered_select_rechecks_userspace():
    flt = parse('autobound')
    # The kernel let every unlocked socket through; the ephemeral range is only known in userspace.
    assert flt.select([V4_LO, EPH], kernel_filtered=True) == [EPH]
    assert parse('sport <= 65558').select([V4_LO, HIGH], kernel_filtered=True) == [V4_LO, HIGH]
    assert parse('autobound', ephemeral_range=(1024, 4999)).select([V4_LO, EPH]) == []


def test_autobound_other_families():
    flt = parse('autobound', tables=('unix',))
    assert flt.match(unix(''))
    assert flt.match(unix('@0001f'))
    assert not flt.match(unix('@abstract'))
    assert not flt.match(unix('/run/x.sock'))


def test_dev_fwmark_cgroup():
    bound = rec('127.0.0.1', 22, interface='lo', _ifindex=1, mark=0x10, cgroup_id=77)
    free = rec('127.0.0.1', 23, _ifindex=0, mark=0, cgroup_id=78)
    assert parse('dev lo').select([bound, free]) == [bound]
    assert parse('dev 1').select([bound, free]) == [bound]
    assert parse('dev 0').select([bound, free]) == [free]
    assert parse('dev != lo').select([bound, free]) == [free]
    assert parse('dev nosuchdev0').select([bound, free]) == []
    assert parse('fwmark 0x10').select([bound, free]) == [bound]
    assert parse('fwmark 0/0x10').select([bound, free]) == [free]
    assert parse('fwmark != 16').select([bound, free]) == [free]
    flt = ssfilter.SSFilter('cgroup', conditions.CgroupCond(77, '/x', text='cgroup /x', word=1))
    assert flt.select([bound, free]) == [bound]
    # Records by name only (a filter plugin on the controller): matched by interface name.
    assert parse('dev lo').match(rec('127.0.0.1', 22, interface='lo'))


@pytest.mark.parametrize('text', ['fwmark 1', 'not fwmark 1/0xff'])
def test_marks_needed(text):
    record = rec('127.0.0.1', 22)
    del record['mark']      # records from elsewhere than socket_facts may lack it
    with pytest.raises(FilterError, match=r'"fwmark .*" \(word \d\) needs socket marks \(mark\)'):
        parse(text).match(record)


def test_cgroup_needs_ids():
    flt = ssfilter.SSFilter('cgroup /x', conditions.CgroupCond(77, '/x', text='cgroup /x', word=1))
    record = rec('127.0.0.1', 22)
    del record['cgroup_id']
    with pytest.raises(FilterError, match=r'"cgroup /x" \(word 1\) needs cgroup ids \(cgroup_id\)'):
        flt.match(record)


def test_cgroup_path_is_the_inode(tmp_path, monkeypatch):
    (tmp_path / 'svc').mkdir()
    monkeypatch.setattr(values, 'cgroup2_mount', lambda: str(tmp_path))
    assert parse('cgroup /svc').tree.cgroup_id == os.stat(str(tmp_path / 'svc')).st_ino
    assert parse('cgroup svc/').tree.cgroup_id == os.stat(str(tmp_path / 'svc')).st_ino
    assert parse('cgroup /').tree.cgroup_id == os.stat(str(tmp_path)).st_ino
    with pytest.raises(FilterError, match='expected a cgroup path after "cgroup" at word 2: "/nope"'):
        parse('cgroup /nope')


def test_unix_globs():
    flt = parse('src unix:/RUN/*.sock')
    assert flt.match(unix('/run/a.sock'))
    assert not flt.match(unix('/tmp/a.sock'))
    assert not flt.match(rec('127.0.0.1', 22))                     # the prefix restricts families to unix
    assert parse('src unix:@na*').match(unix('@name'))
    assert parse('src unix:').match(unix(''))
    # ss never learns a peer's name: `dst unix:` globs see "", whatever peer_address says.
    assert not parse('dst unix:/peer').match(unix('', peer='/peer'))
    assert parse('dst unix:').match(unix('', peer='/peer'))
    assert parse('src unix:[!a]*').match(unix('b'))
    # A port condition compares a unix socket's inode, as ss does.
    assert parse('sport = 1000').match(unix('/x', inode=1000))


def test_service_names_depend_on_tables(monkeypatch):
    def getservbyname(name, proto):
        table = {('both', 'tcp'): 10, ('both', 'udp'): 10, ('split', 'tcp'): 11, ('split', 'udp'): 12,
                 ('udponly', 'udp'): 13}
        if (name, proto) in table:
            return table[(name, proto)]
        raise OSError('not found')
    monkeypatch.setattr(values.socket, 'getservbyname', getservbyname)
    assert parse('sport = both').tree.port == 10
    assert parse('sport = udponly').tree.port == 13
    assert parse('sport = split', tables=('tcp',)).tree.port == 11
    assert parse('sport = split', tables=('udp',)).tree.port == 12
    with pytest.raises(FilterError, match=r'ambiguous port "split" \(tcp 11, udp 12\)'):
        parse('sport = split')
    with pytest.raises(FilterError, match='expected a port'):
        parse('sport = both', tables=('raw',))


# --- errors ---------------------------------------------------------------------------------------------

ERRORS = [
    ('sport = ssh2', 'filter: expected a port after "sport =" at word 3: "ssh2"'),
    ('sport eq 08', 'filter: expected a port after "sport eq" at word 3: "08"'),
    ('sport = 4294967318', 'filter: expected a port after "sport =" at word 3: "4294967318"'),
    ('sport = 1/2', 'filter: expected a port after "sport =" at word 3: "1/2"'),
    ('sport', 'filter: expected a port after "sport" at the end of the filter'),
    ('sport = and', 'filter: expected a port after "sport =" at word 3: "and"'),
    ('src 127.0.0.1:ssh2', 'filter: expected a port after "src" at word 2: "127.0.0.1:ssh2"'),
    ('src [::1]/64', 'filter: expected a port after "src" at word 2: "[::1]/64"'),
    ('src ::1', 'filter: expected an address after "src" at word 2: "::1" (write IPv6 addresses in brackets: "[::1]")'),
    ('src fe80::1', 'filter: expected an address after "src" at word 2: "fe80::1" '
                    '(write IPv6 addresses in brackets: "[fe80::1]")'),
    ('src ::ffff:10.0.0.2', 'filter: expected a port after "src" at word 2: "::ffff:10.0.0.2" '
                            '(write IPv6 addresses in brackets: "[::ffff:10.0.0.2]")'),
    ('src 127.0.0.1/33', 'filter: expected an address after "src" at word 2: "127.0.0.1/33"'),
    ('src 127.0.0.1/', 'filter: expected an address after "src" at word 2: "127.0.0.1/"'),
    ('src 1.2.3.4.5', 'filter: expected an address after "src" at word 2: "1.2.3.4.5"'),
    ('src 256.1.1.1', 'filter: expected an address after "src" at word 2: "256.1.1.1"'),
    ('src inet6:127.0.0.1', 'filter: expected an address after "src" at word 2: "inet6:127.0.0.1" '
                            '(not an inet6 address or a host name that resolves to one)'),
    ('src inet:[::1]', 'filter: expected an address after "src" at word 2: "inet:[::1]" '
                       '(not an inet address or a host name that resolves to one)'),
    ('dst [::1', 'filter: expected an address after "dst" at word 2: "[::1" (missing "]")'),
    ('src != 1.2.3.4', 'filter: operator not allowed after "src" at word 2: "!=" (use "not src ...")'),
    ('dst > 1.2.3.4', 'filter: operator not allowed after "dst" at word 2: ">" ("dst" takes "=")'),
    ('dev < lo', 'filter: operator not allowed after "dev" at word 2: "<" ("dev" takes "=" or "!=")'),
    ('state listen', 'filter: unknown state name after "state" at word 2: "listen" (ss spells it "listening")'),
    ('state', 'filter: expected a state name after "state" at the end of the filter'),
    ('sport = 22 state listening', 'filter: "state" clauses must come before the expression at word 4: "state"'),
    ('sport = 22 or 80', 'filter: expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound, '
                         '"(" or "not") at word 5: "80"'),
    ('10.0.0.1', 'filter: expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound, '
                 '"(" or "not") at word 1: "10.0.0.1"'),
    ('SPORT = 22', 'filter: expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound, '
                   '"(" or "not") at word 1: "SPORT" (keywords are lower case)'),
    ('( )', 'filter: expected a condition inside "( )" at word 2: ")"'),
    ('( sport = 22', 'filter: missing ")" for the "(" at word 1 at the end of the filter'),
    ('sport = 22 )', 'filter: unmatched ")" at word 4: ")"'),
    ('sport = 22 and', 'filter: expected a condition after "and" at the end of the filter'),
    ('not', 'filter: expected a condition after "not" at the end of the filter'),
    ('fwmark 1/', 'filter: expected a mark[/mask] after "fwmark" at word 2: "1/"'),
    ('fwmark junk', 'filter: expected a mark[/mask] after "fwmark" at word 2: "junk"'),
    ('dev no/such', 'filter: expected a device after "dev" at word 2: "no/such"'),
    ('src link:nosuchproto', 'filter: expected an address after "src" at word 2: "link:nosuchproto" '
                             '(unknown link address "nosuchproto")'),
    ('src nosuchhost.invalid', 'filter: expected an address after "src" at word 2: "nosuchhost.invalid"'),
]


@pytest.mark.parametrize('text,message', ERRORS)
def test_errors(text, message):
    with pytest.raises(FilterError) as info:
        parse(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_unknown_table():
    with pytest.raises(FilterError, match='unknown socket table "tcpx"'):
        parse('', tables=('tcpx',))


# --- the convenience function ---------------------------------------------------------------------------

def test_filter_records():
    records = [V4_ANY, V4_LO, V6_LO]
    assert ssfilter.filter_records(records, 'state listening') == [V4_ANY]
    assert ssfilter.filter_records(records, '') == records
    assert ssfilter.filter_records(records, None, tables=['tcp']) == records
    assert ssfilter.filter_records(records, 'sport = :22 and src [::1]') == [V6_LO]
    with pytest.raises(FilterError):
        ssfilter.filter_records(records, 'sport = nope-nope')


def test_every_compiled_program_passes_the_audit():
    for text in [case[0] for case in GRAMMAR + SEMANTICS + BYTECODE]:
        try:
            program = parse(text).bytecode(socket.AF_INET)
        except FilterError:
            continue
        if program:
            assert audit(program), text


def test_long_lists_and_deep_nesting():
    flt = parse(' or '.join('sport = %d' % port for port in range(1, 2001)))
    assert flt.match(rec('127.0.0.1', 2000)) and not flt.match(rec('127.0.0.1', 2001))
    assert audit(flt.bytecode(socket.AF_INET))
    assert parse('(' * 150 + 'sport = 22' + ')' * 150).match(P22)
    with pytest.raises(FilterError, match='nested too deeply'):
        parse('! ' * 500 + 'autobound')
