# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the psutil reader, from a fake psutil and from the real one."""

from __future__ import annotations

import collections
import errno
import os
import socket
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source
from ansible_collections.netaudit.sockets.plugins.module_utils import _records

# The shapes psutil returns (psutil._common.sconn and addr).
sconn = collections.namedtuple('sconn', ['fd', 'family', 'type', 'laddr', 'raddr', 'status', 'pid'])
addr = collections.namedtuple('addr', ['ip', 'port'])
INET, INET6, UNIX = socket.AF_INET, socket.AF_INET6, socket.AF_UNIX
STREAM, DGRAM, SEQPACKET = socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET
COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(_psutil_source.__file__), *(['..'] * 5)))

CONNECTIONS = [
    sconn(3, INET, STREAM, addr('0.0.0.0', 22), (), 'LISTEN', 100),
    sconn(4, INET, STREAM, addr('10.0.0.5', 22), addr('10.0.0.9', 50000), 'ESTABLISHED', 100),
    sconn(-1, INET, STREAM, addr('10.0.0.5', 22), addr('10.0.0.9', 50001), 'TIME_WAIT', None),
    sconn(7, INET6, STREAM, addr('::', 80), (), 'LISTEN', 200),                                 # 200 has exited
    sconn(8, INET6, STREAM, addr('::ffff:7f00:1', 8080), addr('::ffff:127.0.0.1', 40000), 'ESTABLISHED', 300),
    sconn(9, INET6, STREAM, addr('fe80::1%lo0', 22), addr('fe80:0:0::2%lo0', 40001), 'SYN_RECV', 100),
    sconn(5, INET, DGRAM, addr('0.0.0.0', 53), (), 'NONE', 400),
    sconn(6, INET, DGRAM, addr('10.0.0.5', 40002), addr('10.0.0.1', 53), 'NONE', 400),
    sconn(5, INET6, DGRAM, addr('2001:0db8::0001', 123), (), 'NONE', 400),
    sconn(10, UNIX, STREAM, '/run/app.sock', '', 'NONE', 300),                                 # 300 is denied
    sconn(11, UNIX, STREAM, '@abstract', '', 'NONE', 100),
    sconn(12, UNIX, DGRAM, '', '', 'NONE', 100),
    sconn(13, UNIX, DGRAM, '\0kernel\0name', '/run/peer', 'NONE', 100),
    sconn(14, UNIX, SEQPACKET, '/run/seq', '', 'NONE', None),
]


class FakePsutil(object):
    """The parts of the psutil module that the reader uses."""

    class Error(Exception):
        pass

    class NoSuchProcess(Error):
        pass

    class ZombieProcess(NoSuchProcess):
        pass

    class AccessDenied(Error):
        pass

    def __init__(self, connections=None, names=None, refuse=False):
        self.connections = CONNECTIONS if connections is None else connections
        self.names = names if names is not None else {100: 'sshd', 200: self.NoSuchProcess, 300: self.AccessDenied,
                                                      400: 'named'}
        self.refuse = refuse
        self.kinds = []
        self.lookups = []

    def net_connections(self, kind='inet'):
        self.kinds.append(kind)
        if self.refuse:
            raise self.AccessDenied('refused')
        wanted = {'tcp': (STREAM,), 'udp': (DGRAM,), 'inet': (STREAM, DGRAM), 'unix': (), 'all': (STREAM, DGRAM)}[kind]
        return [c for c in self.connections
                if (c.family == UNIX and kind in ('unix', 'all')) or (c.family != UNIX and c.type in wanted)]

    def Process(self, pid):    # pylint: disable=invalid-name
        self.lookups.append(pid)
        fake = self

        class Process(object):
            def name(self):
                name = fake.names[pid]
                if isinstance(name, type):
                    raise name(pid)
                return name
        return Process()


def summary(records):
    return [(r['netid'], r['state'], r['family'], r['local_address'], r['local_port'], r['peer_address'],
             r['peer_port'], r['interface'], [(p['name'], p['pid'], p['fd']) for p in r['processes']]) for r in records]


ALL_TABLES = ['tcp', 'udp', 'unix_stream', 'unix_dgram', 'unix_seqpacket']


def test_records_from_every_kind_of_entry():
    fake = FakePsutil()
    records, _lost, _problems = _psutil_source.gather_psutil(ALL_TABLES, psutil_module=fake)
    assert sorted(summary(records)) == sorted([
        ('tcp', 'LISTEN', 'inet', '0.0.0.0', 22, '0.0.0.0', 0, None, [('sshd', 100, 3)]),
        ('tcp', 'ESTAB', 'inet', '10.0.0.5', 22, '10.0.0.9', 50000, None, [('sshd', 100, 4)]),
        ('tcp', 'TIME-WAIT', 'inet', '10.0.0.5', 22, '10.0.0.9', 50001, None, []),
        ('tcp', 'LISTEN', 'inet6', '::', 80, '::', 0, None, []),
        ('tcp', 'ESTAB', 'inet6', '::ffff:127.0.0.1', 8080, '::ffff:127.0.0.1', 40000, None, [('?', 300, 8)]),
        ('tcp', 'SYN-RECV', 'inet6', 'fe80::1', 22, 'fe80::2', 40001, 'lo0', [('sshd', 100, 9)]),
        ('udp', 'UNCONN', 'inet', '0.0.0.0', 53, '0.0.0.0', 0, None, [('named', 400, 5)]),
        ('udp', 'ESTAB', 'inet', '10.0.0.5', 40002, '10.0.0.1', 53, None, [('named', 400, 6)]),
        ('udp', 'UNCONN', 'inet6', '2001:db8::1', 123, '::', 0, None, [('named', 400, 5)]),
        ('u_str', 'UNKNOWN', 'unix', '/run/app.sock', None, '', None, None, [('?', 300, 10)]),
        ('u_str', 'UNKNOWN', 'unix', '@abstract', None, '', None, None, [('sshd', 100, 11)]),
        ('u_dgr', 'UNCONN', 'unix', '', None, '', None, None, [('sshd', 100, 12)]),
        ('u_dgr', 'ESTAB', 'unix', '@kernel@name', None, '/run/peer', None, None, [('sshd', 100, 13)]),
        ('u_seq', 'UNKNOWN', 'unix', '/run/seq', None, '', None, None, []),
    ])
    assert fake.kinds == ['all']


def test_every_record_has_every_field_and_psutil_leaves_the_rest_null():
    records, lost, _problems = _psutil_source.gather_psutil(ALL_TABLES, psutil_module=FakePsutil())
    for record in records:
        assert tuple(record) == _records.FIELDS
        for field in ('recv_q', 'send_q', 'inode', 'uid', 'user', 'v6only', 'netns', 'mark', 'cgroup_id', 'port_locked'):
            assert record[field] is None
    assert lost == ['state', 'interface', 'v6only', 'recv_q', 'send_q', 'inode', 'uid', 'user', 'mark', 'cgroup_id', 'port_locked']


def test_the_records_are_in_a_stable_order():
    first = _psutil_source.gather_psutil(ALL_TABLES, psutil_module=FakePsutil())[0]
    second = _psutil_source.gather_psutil(ALL_TABLES, psutil_module=FakePsutil(list(reversed(CONNECTIONS))))[0]
    assert first == second


def test_process_names_are_looked_up_once_per_pid():
    fake = FakePsutil()
    _psutil_source.gather_psutil(ALL_TABLES, psutil_module=fake)
    assert sorted(fake.lookups) == [100, 200, 300, 400]


def test_without_processes_no_process_is_looked_at():
    fake = FakePsutil()
    records, _lost, problems = _psutil_source.gather_psutil(['tcp'], processes=False, psutil_module=fake)
    assert fake.lookups == [] and all(r['processes'] == [] for r in records)
    assert not any('owner' in problem for problem in problems)


def test_problems_say_what_is_partial():
    _records_found, _lost, problems = _psutil_source.gather_psutil(ALL_TABLES + ['raw', 'packet'],
                                                                   psutil_module=FakePsutil())
    text = '\n'.join(problems)
    assert 'table raw: psutil cannot list these sockets' in text
    assert 'table packet: psutil cannot list these sockets' in text
    assert 'state of unix stream and seqpacket sockets' in text
    assert 'one owner per entry' in text
    assert 'the names of 1 processes could not be read (access denied)' in text


def test_not_root_sockets_without_owner_are_a_problem(monkeypatch):
    monkeypatch.setattr(_psutil_source.os, 'geteuid', lambda: 1000)
    problems = _psutil_source.gather_psutil(['tcp'], psutil_module=FakePsutil())[2]
    # TIME-WAIT has no owner anyway; the listener of the exited process 200 counts.
    assert any(p.startswith('not root: psutil could not tell the owner of 1 sockets') for p in problems)


@pytest.mark.parametrize('tables, netids, kinds', [
    (['tcp'], ['tcp'], ['tcp']),
    (['udp'], ['udp'], ['udp']),
    (['tcp', 'udp'], ['tcp', 'udp'], ['inet']),
    (['inet'], ['udp', 'tcp'], ['inet']),
    (['u_str'], ['u_str'], ['unix']),
    (['unix'], ['u_str', 'u_dgr', 'u_seq'], ['unix']),
    (['tcp', 'unix_dgram'], ['tcp', 'u_dgr'], ['tcp', 'unix']),
    (['udp', 'tcp', 'unix_seqpacket'], ['udp', 'tcp', 'u_seq'], ['all']),
    (['raw'], [], []),
])
def test_plan_asks_psutil_as_little_as_possible(tables, netids, kinds):
    assert _psutil_source.plan(tables)[:2] == (netids, kinds)


def test_only_the_tables_asked_for_are_returned():
    fake = FakePsutil()
    records = _psutil_source.gather_psutil(['udp', 'unix_dgram'], psutil_module=fake)[0]
    assert sorted(set(r['netid'] for r in records)) == ['u_dgr', 'udp']
    assert sorted(fake.kinds) == ['udp', 'unix']


def test_an_unknown_table_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match='unknown socket table "tcpp"'):
        _psutil_source.gather_psutil(['tcpp'], psutil_module=FakePsutil())


@pytest.mark.parametrize('status, state', sorted(_psutil_source.STATES.items()) + [('DELETE_TCB', 'UNKNOWN')])
def test_tcp_states_are_named_as_ss_names_them(status, state):
    fake = FakePsutil([sconn(3, INET, STREAM, addr('127.0.0.1', 1), addr('127.0.0.1', 2), status, None)])
    assert _psutil_source.gather_psutil(['tcp'], psutil_module=fake)[0][0]['state'] == state


def test_access_denied_for_the_whole_list_is_an_error():
    with pytest.raises(_psutil_source.PsutilError, match='needs root') as caught:
        _psutil_source.gather_psutil(['tcp'], psutil_module=FakePsutil(refuse=True))
    assert caught.value.errno == errno.EACCES


def test_missing_psutil_is_an_error_that_says_so(monkeypatch):
    monkeypatch.setattr(_psutil_source, '_LOADED', {'module': None, 'error': 'Traceback ...\nImportError: no psutil\n'})
    assert _psutil_source.HAS_PSUTIL is False
    assert 'ImportError' in _psutil_source.PSUTIL_IMPORT_ERROR
    with pytest.raises(_psutil_source.PsutilError, match='needs the Python library psutil.*no psutil'):
        _psutil_source.gather_psutil(['tcp'])


def run_python(code):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_PATH)
    run = subprocess.run([sys.executable, '-c', code], env=env, check=False, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


IMPORT = 'from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source as m; import sys; '


def test_importing_the_reader_does_not_import_psutil():
    assert run_python(IMPORT + 'print("psutil" in sys.modules)') == ['False']


def test_psutil_is_imported_on_first_use():
    pytest.importorskip('psutil')
    assert run_python(IMPORT + 'print(m.HAS_PSUTIL, m.PSUTIL_IMPORT_ERROR is None, "psutil" in sys.modules)') == \
        ['True', 'True', 'True']


def test_without_psutil_the_flags_say_why():
    code = 'import sys; sys.modules["psutil"] = None; ' + IMPORT + \
        'print(m.HAS_PSUTIL, "Traceback" in m.PSUTIL_IMPORT_ERROR, "psutil" in m.PSUTIL_IMPORT_ERROR)'
    assert run_python(code) == ['False', 'True', 'True']


def test_other_attributes_are_still_attribute_errors():
    with pytest.raises(AttributeError):
        getattr(_psutil_source, 'NO_SUCH_THING')


# ------------------------------------------------------------ the real psutil


def test_real_psutil_sees_sockets_this_test_opens(tmp_path):
    pytest.importorskip('psutil')
    listener = socket.socket(INET, STREAM)
    bound = socket.socket(INET, DGRAM)
    unix = socket.socket(UNIX, STREAM)
    try:
        listener.bind(('127.0.0.1', 0))
        listener.listen(4)
        bound.bind(('127.0.0.1', 0))
        unix.bind(str(tmp_path / 'na.sock'))
        unix.listen(1)
        records, lost, _problems = _psutil_source.gather_psutil(['tcp', 'udp', 'unix_stream'])
        mine = [(r['netid'], r['state'], r['local_address'], r['local_port'], r['processes'])
                for r in records if any(p['pid'] == os.getpid() for p in r['processes'])]
        me = os.path.basename(sys.executable)
        name = [p['name'] for r in records for p in r['processes'] if p['pid'] == os.getpid()][0]
        assert me.startswith(name) or name.startswith('python')
        owner = [{'name': name, 'pid': os.getpid(), 'fd': None}]
        for sock in (listener, bound, unix):
            owner[0]['fd'] = sock.fileno()
            port = sock.getsockname()[1] if sock.family == INET else None
            address = sock.getsockname()[0] if sock.family == INET else str(tmp_path / 'na.sock')
            netid = {listener: 'tcp', bound: 'udp', unix: 'u_str'}[sock]
            state = {listener: 'LISTEN', bound: 'UNCONN', unix: 'UNKNOWN'}[sock]
            assert (netid, state, address, port, owner) in mine
        assert 'inode' in lost
    finally:
        for sock in (listener, bound, unix):
            sock.close()
