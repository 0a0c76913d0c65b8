# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the `ss -s` figures from /proc trees, with ss reading the same trees as oracle."""

from __future__ import annotations

import os

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _summary
from support.procnet_trees import FIXTURES, needs_ss, sstext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOTS = dict((name, os.path.join(FIXTURES, name)) for name in ('captured', 'hand', 'noipv6', 'malformed'))


SOCKSTAT = ('sockets: used 290\nTCP: inuse 5 orphan 1 tw 3 alloc 12 mem 4\nUDP: inuse 2 mem 1\nUDPLITE: inuse 0\n'
            'RAW: inuse 1\nFRAG: inuse 2 memory 8192\n')
SOCKSTAT6 = 'TCP6: inuse 4\nUDP6: inuse 2\nUDPLITE6: inuse 0\nRAW6: inuse 1\nFRAG6: inuse 1 memory 4096\n'


def figures(summary):
    return dict((key, summary[key]) for key in ('total', 'tcp', 'transport'))


def test_hand_written_tree():
    summary = _summary.read_summary(ROOTS['hand'])
    # Worked out from the files: TCP total = alloc 12 + tw 3; closed = 12 - (5 + 4 - 3).
    assert figures(summary) == {
        'total': 290,
        'tcp': {'total': 15, 'estab': 2, 'closed': 6, 'orphaned': 1, 'timewait': 3},
        'transport': {
            'raw': {'total': 2, 'ip': 1, 'ipv6': 1}, 'udp': {'total': 4, 'ip': 2, 'ipv6': 2},
            'tcp': {'total': 9, 'ip': 5, 'ipv6': 4}, 'inet': {'total': 15, 'ip': 8, 'ipv6': 7},
            'frag': {'total': 3, 'ip': 2, 'ipv6': 1},
        },
    }
    assert summary['problems'] == []
    assert summary['counters']['sockstat']['TCP'] == {'inuse': 5, 'orphan': 1, 'tw': 3, 'alloc': 12, 'mem': 4}
    assert summary['counters']['sockstat6']['FRAG6'] == {'inuse': 1, 'memory': 4096}
    assert list(summary['transport']) == ['raw', 'udp', 'tcp', 'inet', 'frag']      # ss's row order


def test_without_ipv6_the_ipv6_figures_are_zero_and_the_file_is_named():
    summary = _summary.read_summary(ROOTS['noipv6'])
    assert all(row['ipv6'] == 0 for row in summary['transport'].values())
    assert summary['transport']['udp'] == {'total': 2, 'ip': 2, 'ipv6': 0}
    assert summary['problems'] == ['%s is missing: the kernel has no IPv6; IPv6 counts are 0'
                                   % os.path.join(ROOTS['noipv6'], 'net', 'sockstat6')]


def test_missing_files_count_as_zero_and_are_named():
    summary = _summary.read_summary(ROOTS['malformed'])
    assert summary['total'] == 0 and summary['tcp'] == dict.fromkeys(('total', 'estab', 'closed', 'orphaned', 'timewait'), 0)
    assert [problem.split(' is missing')[0] for problem in summary['problems']] == [
        os.path.join(ROOTS['malformed'], 'net', name) for name in ('sockstat', 'sockstat6', 'snmp')]


def test_missing_counters_are_named(tmp_path):
    (tmp_path / 'net').mkdir()
    (tmp_path / 'net' / 'sockstat').write_text('sockets: used 3\nTCP: inuse 1 orphan 0 alloc 2 mem 1\n')
    (tmp_path / 'net' / 'sockstat6').write_text(SOCKSTAT6)
    (tmp_path / 'net' / 'snmp').write_text('Tcp: RtoAlgorithm RtoMin\nTcp: 1 200\n')
    summary = _summary.read_summary(str(tmp_path))
    # closed = alloc 2 - (inuse 1 + inuse6 4 - tw 0)
    assert summary['tcp'] == {'total': 2, 'estab': 0, 'closed': -3, 'orphaned': 0, 'timewait': 0}
    sockstat, snmp = tmp_path / 'net' / 'sockstat', tmp_path / 'net' / 'snmp'
    assert summary['problems'] == [
        '%s has no "RAW inuse" counter; it counts as 0' % sockstat, '%s has no "UDP inuse" counter; it counts as 0' % sockstat,
        '%s has no "FRAG inuse" counter; it counts as 0' % sockstat, '%s has no "TCP tw" counter; it counts as 0' % sockstat,
        '%s has no "Tcp CurrEstab" counter; it counts as 0' % snmp]


@pytest.mark.parametrize('root, message', [
    ('/nonexistent/proc', 'proc_root "/nonexistent/proc" does not exist'),
    (HERE, 'proc_root "%s" has no usable net/ directory (%s/net does not exist), so it is not a /proc tree' % (HERE, HERE)),
])
def test_unusable_proc_root_raises(root, message):
    with pytest.raises(ValueError) as caught:
        _summary.read_summary(root)
    assert str(caught.value) == message


def test_parsers_take_what_they_can():
    assert _summary.parse_sockstat('TCP: inuse 1 orphan x tw\ngarbage\n: 1 2\nRAW: inuse 4\n') == {
        'TCP': {'inuse': 1}, 'RAW': {'inuse': 4}}
    snmp = _summary.parse_snmp('Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: CurrEstab MaxConn\nTcp: 7 -1\n'
                               'Udp: InDatagrams\nUdp: x\n')
    assert snmp == {'Ip': {'Forwarding': 1, 'DefaultTTL': 64}, 'Tcp': {'CurrEstab': 7, 'MaxConn': -1}}


# --- differential: ss -s reading the same trees -------------------------------------------------------------

@needs_ss
@pytest.mark.parametrize('name', sorted(ROOTS))
def test_figures_equal_ss_reading_the_same_tree(name):
    assert figures(_summary.read_summary(ROOTS[name])) == sstext.summary(sstext.run(ROOTS[name], '-s'))


@needs_ss
@pytest.mark.parametrize('sockstat', [
    # closed is negative when alloc (the whole host's) is below this namespace's hashed sockets
    'sockets: used 1\nTCP: inuse 9 orphan 0 tw 2 alloc 3 mem 0\nUDP: inuse 0 mem 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n',
    # big numbers, and an extra counter ss does not know
    'sockets: used 123456\nTCP: inuse 70000 orphan 12 tw 40000 alloc 90000 mem 5 extra 1\nUDP: inuse 1 mem 2\n'
    'RAW: inuse 3\nFRAG: inuse 4 memory 5\n',
])
def test_edge_figures_equal_ss(tmp_path, sockstat):
    (tmp_path / 'net').mkdir()
    (tmp_path / 'net' / 'sockstat').write_text(sockstat)
    (tmp_path / 'net' / 'sockstat6').write_text(SOCKSTAT6)
    (tmp_path / 'net' / 'snmp').write_text('Tcp: RtoAlgorithm CurrEstab\nTcp: 1 5\n')
    assert figures(_summary.read_summary(str(tmp_path))) == sstext.summary(sstext.run(str(tmp_path), '-s'))
