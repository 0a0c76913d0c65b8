# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: raw sockets (and AF_VSOCK) through `_gather.gather()`, against the real ss.

A kernel without raw sock_diag (this one: the dump answers ENOENT) makes gather read /proc/net/raw and raw6, as
ss does. The test process stays in its own namespace: it makes `na-rw-...`, runs fixtures/raw_live_helper.py
there with `ip netns exec` (which opens IPv4 and IPv6 raw sockets of several protocols, bound, connected and with
queued packets, and AF_VSOCK listeners), and deletes the namespace afterwards whatever happens. The oracles are
the sockets the helper opened (inode, fd, what was bound and connected), `ss -w` in the same namespace, and the
kernel's answer to a raw sock_diag request the helper builds by hand.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import pytest

from support.procnet_trees import sstext
from support.scratch_netns import run_helper, scratch_namespace

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, 'fixtures', 'raw_live_helper.py')


pytestmark = pytest.mark.root

# The helper's sockets: protocols 1 (ICMP), 255 (IPPROTO_RAW), 58 (ICMPv6) and 253 (bound to 127.0.0.1 / ::1,
# connected to 127.0.0.2 / ::1, bound to lo). A raw socket's port is its protocol.
FILTERS = [
    'sport = :253', 'sport = :1', 'sport = :58', 'sport != 253', 'sport > 100', 'sport < 100', 'dport = :0',
    'src 127.0.0.1', 'src 127.0.0.0/8', 'dst 127.0.0.2', 'dst 127.0.0.0/8', 'not dst 127.0.0.2', 'src [::1]',
    'dst [::1]', 'src inet6:[::1]', 'src inet:127.0.0.1', 'state established', 'state unconnected', 'state connected',
    'exclude established', 'sport = :253 and dst [::1]', 'src 127.0.0.1 or src [::1]', '( sport = :1 or sport = :58 )',
    'autobound', 'not autobound', 'fwmark 0',
]
RAW_FROM_PROC = 'table raw: the kernel has no sock_diag support for it (%s); it was read from /proc/net'


@pytest.fixture(scope='module')
def live():
    with scratch_namespace('na-rw', 'it opens raw sockets in a network namespace') as namespace:
        with tempfile.NamedTemporaryFile('w', suffix='.json', prefix='na-rw-filters-', delete=False) as handle:
            json.dump(FILTERS, handle)
        try:
            return run_helper(namespace, HELPER, handle.name)
        finally:
            os.unlink(handle.name)


def identity(record):
    return (record['state'], record['local_address'], record['local_port'], record['peer_address'], record['peer_port'],
            record['recv_q'], record['send_q'])


def ss_rows(text):
    """`ss -w` rows (one table: no Netid column); `*` is the IPv6 wildcard (sstext)."""
    return sstext.inet_rows(text)


def ss_identities(text):
    return sorted(identity(row) for row in ss_rows(text))


def without_state(identities):
    """ss hides the State column when one state is selected."""
    return sorted(item[1:] for item in identities)


# --- the kernel, and what the facts say about it ------------------------------------------------------------

def test_raw_sockets_were_opened(live):
    """The helper's sockets, as it opened them: ten raw sockets of four protocols in both families."""
    assert len(live['raw']) == 10
    assert sorted(set((s['family'], s['protocol']) for s in live['raw'])) == [
        ('inet', 1), ('inet', 253), ('inet', 255), ('inet6', 58), ('inet6', 253)]


def test_meta_says_raw_was_read_from_proc_when_the_kernel_has_no_raw_diag(live):
    """socket_meta of gather(tables=[raw]) against the kernel's answer to a raw inet_diag dump built by hand."""
    meta = live['gather']['socket_meta']
    answers = live['raw_diag_errno']
    if not answers['inet'] and not answers['inet6']:
        pytest.skip('this kernel has raw sock_diag: gather reads raw sockets over netlink')
    assert meta['backend'] == 'netlink'
    assert meta['notes'][0] == RAW_FROM_PROC % os.strerror(answers['inet'] or answers['inet6'])
    assert meta['unsupported_tables'] == [] and meta['complete'] is False
    assert [reason for reason in meta['incomplete_reasons'] if reason.startswith('table raw read from /proc: ')] == [
        'table raw read from /proc: interface, v6only, mark, cgroup_id, port_locked are null, because /proc shows '
        'neither the bound device nor the IPv6 scope; /proc does not show IPV6_V6ONLY; /proc shows no socket marks; '
        '/proc shows no cgroups; /proc does not show whether a port was bound explicitly']


# --- records ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('run', ['gather', 'gather_proc'])
def test_raw_records_are_what_ss_lists(live, run):
    """gather(tables=[raw]) (auto, then backend proc) against `ss -H -w -a -n` in the same namespace:
    state, addresses, ports (the protocol), queues."""
    records = live[run]['sockets']
    assert set(r['netid'] for r in records) == {'raw'}
    assert sorted(identity(r) for r in records) == ss_identities(live['ss']['out'])
    assert any(r['recv_q'] for r in records) and any(r['state'] == 'ESTAB' for r in records)


def test_raw_records_are_the_sockets_that_were_opened(live):
    """Each record against the socket the helper opened with that inode: family, protocol, bound and connected
    addresses, state, uid, owner (pid, fd)."""
    records = dict((r['inode'], r) for r in live['gather']['sockets'])
    assert sorted(records) == sorted(s['inode'] for s in live['raw'])
    for opened in live['raw']:
        record = records[opened['inode']]
        wildcard = '::' if opened['family'] == 'inet6' else '0.0.0.0'
        assert (record['family'], record['local_port']) == (opened['family'], opened['protocol'])
        assert record['local_address'] == (opened['bind'] or wildcard)
        assert (record['peer_address'], record['peer_port']) == (opened['connect'] or wildcard, 0)
        assert record['state'] == ('ESTAB' if opened['connect'] else 'UNCONN')
        assert record['uid'] == live['euid'] and record['interface'] is None and record['v6only'] is None
        assert [(p['pid'], p['fd']) for p in record['processes']] == [(live['pid'], opened['fd'])]


_USERS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')


def test_raw_owners_are_what_ss_p_lists(live):
    """The processes of gather(tables=[raw]) against `ss -H -w -a -n -p` (name, pid, fd) in the same namespace."""
    text = live['ss_processes']['out']
    lines = [line for line in text.splitlines() if line.strip()]
    theirs = sorted(identity(row) + (tuple(sorted(_USERS.findall(line))),) for line, row in zip(lines, ss_rows(text)))
    ours = sorted(identity(r) + (tuple(sorted((p['name'], str(p['pid']), str(p['fd'])) for p in r['processes'])),)
                  for r in live['gather']['sockets'])
    assert theirs == ours


def test_listening_is_what_ss_l_lists(live):
    """gather(tables=[raw], listening=True) against `ss -H -w -l -n`: the unconnected raw sockets."""
    records = live['gather_listening']['sockets']
    assert records and set(r['state'] for r in records) == {'UNCONN'}
    assert sorted(identity(r) for r in records) == ss_identities(live['ss_listening']['out'])


def test_summary_raw_row_is_what_ss_s_counts(live):
    """socket_summary's RAW row against `ss -s` in the same namespace, and against the sockets opened."""
    raw = live['gather']['socket_summary']['transport']['raw']
    assert raw == sstext.summary(live['ss_summary']['out'])['transport']['raw']
    opened = [s['family'] for s in live['raw']]
    assert raw == {'total': len(opened), 'ip': opened.count('inet'), 'ipv6': opened.count('inet6')}


# --- filters ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('index', range(len(FILTERS)), ids=FILTERS)
def test_filter_selects_what_ss_selects(live, index):
    """gather(tables=[raw], filter_text=F) against `ss -H -w -a -n F` on the same raw sockets (ss reading /proc)."""
    entry = live['filters'][index]
    assert entry['filter'] == FILTERS[index]
    assert 'error' not in entry, entry['error']
    assert entry['ss']['rc'] == 0 and not entry['ss']['err'], entry['ss']
    rows = ss_rows(entry['ss']['out'])
    ours = sorted(identity(r) for r in entry['gather']['sockets'])
    theirs = sorted(identity(row) for row in rows)
    if rows and rows[0]['state'] is None:
        ours, theirs = without_state(ours), without_state(theirs)
    assert ours == theirs


def test_filters_select_something_and_not_everything(live):
    """A differential test where every filter selects all or nothing would prove little."""
    everything = len(live['gather']['sockets'])
    sizes = [len(entry['gather']['sockets']) for entry in live['filters'] if 'gather' in entry]
    assert sum(1 for size in sizes if 0 < size < everything) >= len(FILTERS) * 2 // 3


# --- AF_VSOCK: sockets the kernel makes but sock_diag cannot list -------------------------------------------

def test_vsock_sockets_are_listed_like_ss_or_named_missing(live):
    """gather(tables=[vsock_stream, v_dgr]) against `ss --vsock` while the helper holds listening AF_VSOCK stream
    and seqpacket sockets: ss has no /proc fallback for vsock, so when it lists nothing the kernel has no
    vsock_diag, and the facts must name both tables as missing rather than return an empty list."""
    stream = live['vsock']['stream']
    if 'inode' not in stream or 'errno' in stream:
        pytest.skip('this kernel cannot make a listening AF_VSOCK stream socket: %s' % stream)
    facts, listed = live['gather_vsock'], live['ss_vsock']['out'].splitlines()
    meta = facts['socket_meta']
    if listed:
        assert len(facts['sockets']) == len(listed)
        assert stream['inode'] in [r['inode'] for r in facts['sockets']]
        return
    assert live['ss_vsock']['rc'] == 0
    assert facts['sockets'] == [] and meta['complete'] is False
    assert meta['unsupported_tables'] == ['vsock_stream', 'vsock_dgram']
    for table in ('vsock_stream', 'vsock_dgram'):
        prefix = 'table %s could not be read: the kernel has no sock_diag support for it (' % table
        assert [reason for reason in meta['incomplete_reasons'] if reason.startswith(prefix)], (table, meta)
