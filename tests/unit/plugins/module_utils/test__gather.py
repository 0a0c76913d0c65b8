# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of one gather run: real sockets of this process as the oracle, and the kernel's refusals simulated."""

import errno
import json
import os
import socket
import subprocess

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _owners
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet, transport


@pytest.fixture()
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(4)
    yield sock.getsockname()[1], os.fstat(sock.fileno()).st_ino, sock.fileno()
    sock.close()


INET = ['raw', 'udp', 'tcp', 'dccp', 'sctp', 'mptcp']
UNIX = ['unix_stream', 'unix_dgram', 'unix_seqpacket']


@pytest.mark.parametrize('names, expected', [
    (['tcp'], ['tcp']),
    (['tcp', 'udp'], ['udp', 'tcp']),
    (['tcp', 'udp', 'tcp'], ['udp', 'tcp']),
    (['inet'], INET),
    (['u_str', 'unix_dgram'], ['unix_stream', 'unix_dgram']),
    (['unix', 'tcp'], UNIX + ['tcp']),
    (['p_raw', 'netlink', 'v_dgr'], ['netlink', 'packet_raw', 'vsock_dgram']),
    (['ALL'], ['netlink', 'packet_raw', 'packet_dgram'] + UNIX + ['raw', 'udp', 'tcp', 'dccp', 'sctp', 'vsock_stream', 'vsock_dgram', 'mptcp']),
])
def test_resolve_tables(names, expected):
    assert _gather.resolve_tables(names) == expected


@pytest.mark.parametrize('names, message', [
    (['tcp', 'bogus'], 'tables: unknown socket table "bogus"'),
    ([], 'tables: the list is empty'),
])
def test_resolve_tables_errors(names, message):
    with pytest.raises(_gather.GatherError) as info:
        _gather.resolve_tables(names)
    assert str(info.value).startswith(message)


def test_kernel_filter_selects_our_listener(listener):
    port, inode, fd = listener
    facts = _gather.gather(filter_text='sport = :%d' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    record = facts['sockets'][0]
    assert set(record) == set(_records.FIELDS)
    assert {'name': record['processes'][0]['name'], 'pid': os.getpid(), 'fd': fd} in record['processes']
    meta = facts['socket_meta']
    assert meta['kernel_filtered'] is True
    assert meta['complete'] is True
    assert meta['count'] == 1
    assert meta['states'] == [name for number, name in sorted(_records.STATE_NAMES.items())]


def test_dev_term_runs_in_userspace(listener):
    port, inode, _fd = listener
    facts = _gather.gather(filter_text='sport = :%d and not dev lo' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    assert facts['socket_meta']['kernel_filtered'] is False


def test_listening_and_state_clause(listener):
    port, inode, _fd = listener
    listening = _gather.gather(listening=True, processes=False)
    assert inode in [r['inode'] for r in listening['sockets']]
    assert set(r['state'] for r in listening['sockets']) <= {'LISTEN', 'UNCONN'}
    established = _gather.gather(listening=True, filter_text='state established sport = :%d' % port)
    assert established['sockets'] == []
    assert established['socket_meta']['states'] == ['ESTAB']


def test_bad_filter_is_a_gather_error():
    with pytest.raises(_gather.GatherError) as info:
        _gather.gather(filter_text='sport = :ssh2')
    assert str(info.value) == 'filter: expected a port after "sport =" at word 3: ":ssh2"'


def test_refused_program_falls_back_to_userspace(monkeypatch, listener):
    port, inode, _fd = listener
    real = inet.dump_inet

    def refusing(protocol, family, states, bytecode=None):
        if bytecode:
            raise transport.SockDiagError(errno.EINVAL, 'the kernel rejected the filter bytecode')
        return real(protocol, family, states, bytecode)

    monkeypatch.setattr(inet, 'dump_inet', refusing)
    facts = _gather.gather(filter_text='sport = :%d' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    meta = facts['socket_meta']
    assert meta['kernel_filtered'] is False
    assert meta['notes'][0] == 'the kernel refused the filter program (Invalid argument); it was evaluated in userspace'
    assert meta['complete'] is True


def _without(monkeypatch, protocol):
    real = inet.dump_inet

    def lacking(proto, family, states, bytecode=None):
        if proto == protocol:
            raise transport.SockDiagError(errno.ENOENT, 'no diag module for protocol %d' % protocol)
        return real(proto, family, states, bytecode)

    monkeypatch.setattr(inet, 'dump_inet', lacking)


def test_table_missing_through_a_group_is_incomplete(monkeypatch, listener):
    port, inode, _fd = listener
    _without(monkeypatch, 132)       # sctp, which /proc cannot stand in for
    facts = _gather.gather(tables=['inet'], filter_text='sport = :%d' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert [reason for reason in meta['incomplete_reasons'] if reason.startswith('table sctp')]
    assert meta['unsupported_tables'] == []


def test_table_missing_when_named_is_unsupported(monkeypatch, listener):
    port, inode, _fd = listener
    _without(monkeypatch, 132)
    facts = _gather.gather(tables=['tcp', 'sctp'], filter_text='sport = :%d' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    meta = facts['socket_meta']
    assert meta['unsupported_tables'] == ['sctp']
    assert meta['complete'] is False
    assert [reason for reason in meta['incomplete_reasons'] if reason.startswith('table sctp could not be read')]


def test_table_missing_falls_back_to_proc_like_ss(monkeypatch):
    _without(monkeypatch, 17)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    try:
        port = sock.getsockname()[1]
        facts = _gather.gather(tables=['udp'], filter_text='sport = :%d' % port)
        assert [(r['netid'], r['inode']) for r in facts['sockets']] == [('udp', os.fstat(sock.fileno()).st_ino)]
        meta = facts['socket_meta']
        assert any(note.startswith('table udp: the kernel has no sock_diag support') for note in meta['notes'])
        assert any(reason.startswith('table udp read from /proc') for reason in meta['incomplete_reasons'])
        assert meta['kernel_filtered'] is False
    finally:
        sock.close()


def test_netlink_unusable_falls_back_to_proc_unless_asked_for(monkeypatch, listener):
    port, inode, _fd = listener

    def broken(protocol, family, states, bytecode=None):
        raise transport.SockDiagError(errno.EPROTONOSUPPORT + 1000, 'netlink is gone')

    monkeypatch.setattr(inet, 'dump_inet', broken)
    with pytest.raises(transport.SockDiagError):
        _gather.gather(backend='netlink')
    facts = _gather.gather(filter_text='sport = :%d' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    meta = facts['socket_meta']
    assert meta['backend'] == 'proc'
    assert meta['complete'] is False
    assert meta['incomplete_reasons'][0].startswith('netlink sock_diag is not usable')


def test_proc_backend_and_proc_root(listener):
    port, inode, _fd = listener
    facts = _gather.gather(backend='proc', filter_text='sport = :%d' % port)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    assert facts['socket_meta']['backend'] == 'proc'
    assert facts['sockets'][0]['v6only'] is None
    with pytest.raises(_gather.GatherError) as info:
        _gather.gather(backend='netlink', proc_root='/srv/host-proc')
    assert str(info.value).startswith('proc_root:')


def test_summary_is_returned_and_optional():
    facts = _gather.gather(tables=['tcp'])
    assert set(facts['socket_summary']) >= {'total', 'tcp', 'transport'}
    assert 'socket_summary' not in _gather.gather(tables=['tcp'], summary=False)


@pytest.mark.parametrize('owned, expect_complete', [(True, True), (False, False)])
def test_unreadable_processes_matter_only_for_unowned_sockets(monkeypatch, listener, owned, expect_complete):
    port, inode, fd = listener
    problem = 'the file descriptors of 1 process could not be read'

    def fake_owners(inodes, proc_root='/proc', look_again=()):
        assert set(look_again) == {inode}
        owners = {inode: [{'name': 'python', 'pid': os.getpid(), 'fd': fd}]} if owned else {}
        return owners, [problem]

    monkeypatch.setattr(_owners, 'find_owners', fake_owners)
    facts = _gather.gather(filter_text='sport = :%d' % port)
    meta = facts['socket_meta']
    assert meta['complete'] is expect_complete
    assert meta['owners_visible'] is False
    if owned:
        assert meta['notes'] == ['every socket returned has a known owner, so this does not affect these facts: ' + problem]
        assert meta['owners_unknown'] == {} and facts['sockets'][0]['owner_unknown'] is None
    else:
        assert meta['incomplete_reasons'] == [problem, '1 listening socket shows no owner (owner_unknown): 1 not visible to the module']
        assert meta['owners_unknown'] == {'not_visible': 1} and facts['sockets'][0]['owner_unknown'] == 'not_visible'


GATHER_AS_NOBODY = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
print(json.dumps(_gather.gather(filter_text=sys.argv[2])))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to run a gather as another user')
def test_fwmark_without_cap_net_admin_is_incomplete(listener):
    port, inode, _fd = listener
    collections = os.path.abspath(os.path.join(os.path.dirname(_gather.__file__), '..', '..', '..', '..', '..'))
    proc = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c',
                           GATHER_AS_NOBODY, collections, 'fwmark 0 and sport = :%d' % port],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert [r['inode'] for r in facts['sockets']] == [inode]
    assert facts['sockets'][0]['processes'] == []
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert meta['kernel_filtered'] is False
    assert any(reason.startswith('fwmark: the kernel shows socket marks only') for reason in meta['incomplete_reasons'])
    assert any(reason.startswith('not root:') for reason in meta['incomplete_reasons'])
    assert meta['notes'][0] == 'the kernel refused the filter program (Operation not permitted); it was evaluated in userspace'
