# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: `gather(proc_root=TREE)`, the module's whole path over a foreign /proc tree.

test__procnet.py tests the reader (`_procnet.reader.read_table`) on the trees under fixtures/procnet/; here the
same trees go through `_gather.gather()`: backend choice, table selection, states, filters, summary and owners.
The oracles are the real ss reading the same tree (PROC_ROOT=TREE, ss's own /proc path), the hand-written tree's
expected records and the captured tree's expected.json (the sockets that were opened when it was copied).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from support.procnet_trees import (CAPTURED, CAPTURED_EXPECTED, HAND, HAND_EXPECTED, NOIPV6, PROCESSES, SS_USERS, as_proc_shows,
                                   as_ss_prints_inet, compare_rows, filters, inet_identity, needs_ss, public, ss_unix_state,
                                   sstext, table_of, tree_with_processes)

ROOTS = {'captured': CAPTURED, 'hand': HAND}
PRIVATE = ('_ifindex',)

# Filters on the hand-written tree (its sockets are listed in support/procnet_trees.HAND_EXPECTED), where ss's /proc path
# and our semantics agree: v4-mapped addresses (an IPv4 condition also matches ::ffff:a.b.c.d), link-local
# addresses whose scope /proc does not keep, TIME-WAIT and SYN-RECV sockets (inode 0), state groups.
HAND_FILTERS = [
    'src [::ffff:10.0.0.1]', 'src [::ffff:10.0.0.1]:443', 'dst [::ffff:192.0.2.0/120]', 'dst [::ffff:192.0.2.10]',
    'src [::ffff:10.0.0.0/104]', 'src inet6:[::ffff:10.0.0.1]', 'src 10.0.0.1', 'src inet:10.0.0.1',
    'dst 192.0.2.10', 'dst 192.0.2.0/24', 'src [fe80::1]', 'src [fe80::/10]', 'src [fe80::1]:22',
    'dst [fe80::2]:40000', 'dev lo', 'state time-wait', 'state time-wait dport = :51001', 'state time-wait src [::1]',
    'exclude time-wait', 'exclude listening exclude time-wait', 'state syn-recv', 'state syn-recv sport = :22',
    'state connected', 'state synchronized', 'state bucket', 'state big', 'state close-wait', 'state listening',
    'state established', 'sport = :22', 'sport = :5353', 'dport > 50000', 'dport = :0', 'sport >= 443 and sport <= 8080',
    'sport = :443 or sport = :8080', 'src 127.0.0.53', 'not src 127.0.0.53', 'src [2001:db8::/32]', 'src [::1]',
    'autobound', 'not autobound',
]
STATE_CLAUSES_ONLY = re.compile(r'((state|exclude) [a-z0-9-]+ ?)+\Z')
CASES = [('hand', text) for text in HAND_FILTERS] + [('captured', text) for text in filters.FILTERS]


def gather(root, **options):
    options.setdefault('processes', False)
    return _gather.gather(proc_root=root, **options)


def port_range(root):
    with open(os.path.join(root, 'sys', 'net', 'ipv4', 'ip_local_port_range')) as handle:
        return [int(word) for word in handle.read().split()]


def without_private(record):
    return dict((key, value) for key, value in record.items() if key not in PRIVATE)


# Where a socket comes from is not read from a foreign tree: its cgroups, unit files and runtimes' state are the live
# host's (docs/records.md, "Where a socket comes from"); every origin key but owner_cgroups is unknown with this reason.
ORIGIN_NOT_READ = 'not read from a proc_root tree (cgroups, unit files and runtime state belong to the live host)'
ORIGIN_UNKNOWN = dict((key, ORIGIN_NOT_READ) for key in ('cgroup', 'unit', 'container', 'package', 'security_context'))


def not_gathered(record):
    """The record as gather(processes=False) returns it from a tree: owner_unknown not_gathered, or kernel for what
    no process can hold (inode 0, a netlink socket with portid 0), and the origin keys null, each but owner_cgroups
    (none differ: []) with the proc_root reason in origin_unknown, docs/records.md."""
    kernel = record['inode'] == 0 or (record['family'] == 'netlink' and record['local_port'] == 0)
    return dict(record, owner_unknown='kernel' if kernel else 'not_gathered', cgroup=None, owner_cgroups=[], unit=None,
                container=None, package=None, security_context=None, origin_unknown=dict(ORIGIN_UNKNOWN))


def ss_inet(root, *args):
    """ss's rows for `ss -H -n ARGS` on the tree, the netid filled in when ss hides the column (one table)."""
    rows = sstext.inet_rows(sstext.run(root, '-H', '-n', *args))
    for flag, table in (('-t', 'tcp'), ('-u', 'udp'), ('-w', 'raw')):
        if [arg for arg in args if arg in ('-t', '-u', '-w')] == [flag]:
            for row in rows:
                row['netid'] = table
    return rows


# --- the backend and the meta -------------------------------------------------------------------------------

@pytest.mark.parametrize('name', sorted(ROOTS))
def test_a_foreign_tree_is_read_by_the_proc_backend(name):
    """socket_meta of gather(proc_root=TREE) against the tree itself: its port range file, the files it lacks."""
    root = ROOTS[name]
    meta = gather(root, tables=['all'])['socket_meta']
    assert meta['backend'] == 'proc'
    assert meta['ephemeral_range'] == port_range(root)
    assert meta['notes'] == [] and meta['unsupported_tables'] == []
    assert meta['complete'] is False
    # /proc/net has no file for these tables: each is named as missing, with the tree's path.
    for table in ('dccp', 'sctp', 'vsock_stream', 'vsock_dgram', 'mptcp'):
        assert 'table %s could not be read: %s/net has no file for it' % (table, root) in meta['incomplete_reasons']
    assert any(reason.startswith('table tcp read from /proc: ') for reason in meta['incomplete_reasons'])


def test_a_table_named_one_by_one_that_proc_lacks_is_unsupported():
    """tables: [sctp] on a tree: no records, the table in unsupported_tables (the tree has no net/sctp)."""
    assert not os.path.exists(os.path.join(HAND, 'net', 'sctp'))
    facts = gather(HAND, tables=['sctp', 'tcp'])
    assert facts['socket_meta']['unsupported_tables'] == ['sctp']
    assert set(r['netid'] for r in facts['sockets']) == {'tcp'}


def test_the_tree_without_ipv6_says_so():
    """noipv6/ has no tcp6, udp6, raw6, sockstat6: each missing file is a reason, and only IPv4 records come back."""
    facts = gather(NOIPV6, tables=['tcp', 'udp'])
    reasons = facts['socket_meta']['incomplete_reasons']
    assert '%s is missing: the kernel has no IPv6, so no IPv6 TCP sockets were read' % os.path.join(NOIPV6, 'net', 'tcp6') \
        in reasons
    assert facts['sockets'] and set(r['family'] for r in facts['sockets']) == {'inet'}


# --- records: the trees' own sockets, and ss reading the same tree -----------------------------------------

@pytest.mark.parametrize('table', sorted(HAND_EXPECTED))
def test_hand_written_tree_records_through_gather(table):
    """Every table of the hand-written tree through gather(tables=[all]) against the records written by hand."""
    records = [r for r in gather(HAND, tables=['all'])['sockets'] if table_of(r) == table]
    assert sorted(records, key=repr) == sorted((not_gathered(without_private(r)) for r in HAND_EXPECTED[table]), key=repr)


def test_captured_tree_records_through_gather():
    """gather(tables=[all]) on the captured tree against expected.json: the sockets opened when it was copied."""
    records = gather(CAPTURED, tables=['all'])['sockets']
    for want in CAPTURED_EXPECTED:
        assert not_gathered(without_private(public(as_proc_shows(want)))) in records, want
    # The namespace held nothing else, the kernel's own netlink sockets aside.
    assert len([r for r in records if r['family'] != 'netlink']) == \
        len([r for r in CAPTURED_EXPECTED if r['family'] != 'netlink'])


@needs_ss
@pytest.mark.parametrize('name', sorted(ROOTS))
@pytest.mark.parametrize('table, flag', [('tcp', '-t'), ('udp', '-u'), ('raw', '-w')])
def test_inet_records_equal_ss_reading_the_same_tree(name, table, flag):
    """gather(tables=[TABLE]) against `ss -H -a -n -e FLAG` with PROC_ROOT=TREE: identities, queues (tcp: inode, uid)."""
    root = ROOTS[name]
    records = gather(root, tables=[table])['sockets']
    rows = ss_inet(root, '-a', '-e', flag)
    assert rows
    assert sorted(inet_identity(r) + (r['recv_q'], r['send_q']) for r in rows) == sorted(as_ss_prints_inet(r) for r in records)
    if table == 'tcp':
        assert sorted((r['local_port'], r['peer_port'], r['inode'], r['uid']) for r in rows) == \
            sorted((r['local_port'], r['peer_port'], r['inode'], r['uid']) for r in records)


@needs_ss
@pytest.mark.parametrize('name', sorted(ROOTS))
def test_default_tables_equal_ss_t_u_reading_the_same_tree(name):
    """gather() with its default tables (tcp, udp) and all states against `ss -H -a -n -t -u` on the tree."""
    root = ROOTS[name]
    records = gather(root)['sockets']
    rows = ss_inet(root, '-a', '-t', '-u')
    assert set(r['netid'] for r in records) == {'tcp', 'udp'}
    assert sorted(inet_identity(r) + (r['recv_q'], r['send_q']) for r in rows) == sorted(as_ss_prints_inet(r) for r in records)


@needs_ss
@pytest.mark.parametrize('name', sorted(ROOTS))
def test_listening_equals_ss_l_reading_the_same_tree(name):
    """gather(listening=True) against `ss -H -l -n -t -u -w` on the tree: listeners and unconnected sockets."""
    root = ROOTS[name]
    records = gather(root, tables=['tcp', 'udp', 'raw'], listening=True)['sockets']
    rows = ss_inet(root, '-l', '-t', '-u', '-w')
    assert records and set(r['state'] for r in records) == {'LISTEN', 'UNCONN'}
    theirs, ours = compare_rows(rows, records)
    assert theirs == ours


@needs_ss
@pytest.mark.parametrize('name', sorted(ROOTS))
def test_other_tables_equal_ss_reading_the_same_tree(name):
    """unix, packet and netlink records of gather() against ss -x, -0 and -f netlink on the tree (with the
    normalisation test__procnet.py explains: ss's /proc path cuts names at a blank, lists unaccepted connections,
    calls St 4 CLOSING and cannot tell an unconnected dgram socket from a connected one)."""
    root = ROOTS[name]
    records = gather(root, tables=['unix', 'packet', 'netlink'])['sockets']
    unix = [r for r in records if r['family'] == 'unix']
    theirs = sorted((r['netid'], ss_unix_state(r), r['local_address'], r['inode'])
                    for r in sstext.unix_rows(sstext.run(root, '-H', '-a', '-n', '-x')) if r['inode'])
    assert theirs == sorted((r['netid'], None if r['netid'] == 'u_dgr' else r['state'], r['local_address'].split(' ')[0],
                             r['inode']) for r in unix)
    packet = [r for r in records if r['family'] == 'link']
    rows = sstext.packet_rows(sstext.run(root, '-H', '-a', '-n', '-e', '-0'))
    keys = ('netid', 'local_address', 'local_port', 'recv_q', 'send_q', 'inode', 'uid')
    assert sorted(tuple(r[key] for key in keys) for r in rows) == sorted(tuple(r[key] for key in keys) for r in packet)
    netlink = [r for r in records if r['family'] == 'netlink']
    rows = sstext.netlink_rows(sstext.run(root, '-H', '-a', '-n', '-f', 'netlink'))
    keys = ('local_address', 'local_port', 'recv_q', 'send_q')
    assert sorted(tuple(r[key] for key in keys) for r in rows) == sorted(tuple(r[key] for key in keys) for r in netlink)


# --- filters ------------------------------------------------------------------------------------------------

@needs_ss
@pytest.mark.parametrize('name, text', CASES)
def test_filter_selects_what_ss_selects_from_the_same_tree(name, text):
    """gather(proc_root=TREE, filter_text=F) against `ss -H -a -n -t -u F` with PROC_ROOT=TREE."""
    root = ROOTS[name]
    facts = gather(root, filter_text=text)
    rows = ss_inet(root, '-a', '-t', '-u', *text.split())
    theirs, ours = compare_rows(rows, facts['sockets'])
    assert theirs == ours
    meta = facts['socket_meta']
    assert meta['backend'] == 'proc' and meta['filter'] == text
    if not STATE_CLAUSES_ONLY.match(text):
        assert meta['kernel_filtered'] is False          # an expression: evaluated in userspace, never the kernel


@pytest.mark.parametrize('text', ['state time-wait', 'exclude listening'])
def test_state_clauses_read_from_a_tree_are_not_kernel_filtered(text):
    """socket_meta.kernel_filtered against the module's RETURN docs: true when the kernel applied the whole filter,
    false when part of it ran in userspace, null without a filter. A tree is filtered in userspace only."""
    facts = gather(HAND, filter_text=text)
    assert facts['socket_meta']['filter'] == text
    assert facts['socket_meta']['kernel_filtered'] is False


def test_the_hand_filters_are_not_trivial():
    """A differential test where every filter selects all or nothing would prove little."""
    everything = len(gather(HAND)['sockets'])
    sizes = [len(gather(HAND, filter_text=text)['sockets']) for text in HAND_FILTERS]
    assert sum(1 for size in sizes if 0 < size < everything) >= 30


@needs_ss
@pytest.mark.parametrize('text', ['src 0.0.0.0', 'src [::]'])
def test_family_rule_filters_differ_from_ss_proc_path_as_documented(text):
    """On the hand-written tree too, ss's /proc path adds sockets of the other family (fixtures/procnet/filters.py
    FAMILY_RULE); gather keeps a live ss's family rule, so it returns a strict subset of ss's rows."""
    rows = ss_inet(HAND, '-a', '-t', '-u', *text.split())
    theirs, ours = compare_rows(rows, gather(HAND, filter_text=text)['sockets'])
    assert set(ours) < set(theirs)


@needs_ss
@pytest.mark.parametrize('text', ['autobound', 'not autobound'])
def test_autobound_uses_the_port_range_of_the_tree(tmp_path, text):
    """The hand-written tree with ip_local_port_range 20-30 (so that its port 22 sockets are autobound): gather
    against ss reading the same tree, which takes the range from PROC_ROOT/sys/net/ipv4/ip_local_port_range."""
    root = str(tmp_path / 'proc')
    shutil.copytree(HAND, root)
    with open(os.path.join(root, 'sys', 'net', 'ipv4', 'ip_local_port_range'), 'w') as handle:
        handle.write('20\t30\n')
    facts = gather(root, filter_text=text)
    assert facts['socket_meta']['ephemeral_range'] == [20, 30]
    rows = ss_inet(root, '-a', '-t', '-u', *text.split())
    assert {r['local_port'] for r in rows if text == 'autobound'} <= {22}
    theirs, ours = compare_rows(rows, facts['sockets'])
    assert theirs == ours


# --- socket_summary -----------------------------------------------------------------------------------------

@needs_ss
@pytest.mark.parametrize('name', ['captured', 'hand', 'noipv6'])
def test_summary_equals_ss_s_reading_the_same_tree(name):
    """gather(proc_root=TREE)['socket_summary'] against `ss -s` with PROC_ROOT=TREE (sockstat, sockstat6, snmp)."""
    root = dict(ROOTS, noipv6=NOIPV6)[name]
    summary = gather(root)['socket_summary']
    assert dict((key, summary[key]) for key in ('total', 'tcp', 'transport')) == sstext.summary(sstext.run(root, '-s'))


# --- owners: /proc/PID/fd of the tree -----------------------------------------------------------------------

@needs_ss
def test_owners_come_from_the_trees_processes_like_ss_p(tmp_path):
    """gather(processes=True) on a tree with /proc/PID/fd links against `ss -p -e` with PROC_ROOT on that tree,
    and against the links written here."""
    root = tree_with_processes(tmp_path)
    records = _gather.gather(proc_root=root, processes=True)['sockets']
    text = sstext.run(root, '-H', '-a', '-n', '-p', '-t', '-u')
    theirs = []
    for line, row in zip([line for line in text.splitlines() if line.strip()], sstext.inet_rows(text)):
        owners = sorted((name, int(pid), int(fd)) for name, pid, fd in SS_USERS.findall(line))
        theirs.append(inet_identity(row) + (tuple(owners),))
    ours = [inet_identity(r) + (tuple(sorted((p['name'], p['pid'], p['fd']) for p in r['processes'])),) for r in records]
    assert sorted(theirs) == sorted(ours)
    written = {}
    for pid, (name, fds) in PROCESSES.items():
        for fd, inode in fds.items():
            if inode:
                written.setdefault(inode, []).append({'name': name, 'pid': pid, 'fd': fd})
    assert dict((r['inode'], r['processes']) for r in records if r['processes']) == written
