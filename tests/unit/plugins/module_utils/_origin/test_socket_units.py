# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/socket_units.py and managers.py: socket activation.

Oracles: the unit definitions the tests write (systemd's documented Listen*= forms, Service=, Accept=,
BindIPv6Only=, BindToDevice=, drop-ins, masking), and real sockets held by a real process standing for systemd:
PID 1 of a PID namespace of the test's own, named `systemd`, and a user's manager (a process of that uid named
`systemd` in `user@UID.service/init.scope`, a cgroup the test makes under the cgroup2 mount). Impostors (named
`systemd` but not PID 1, or in another cgroup, or of another uid) must not get a .socket unit."""

import os
import shutil
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import managers
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import socket_units
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.attribute import Attributor
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.managers import Manager
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.socket_units import (
    Listen, SocketUnits, expand_specifiers, parse_listen)
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.unit_files import SYSTEM_SEARCH_PATH, LoadedUnit

from support.cgroup_lab import Holder, holders, made_cgroups, run_pid1, write_tree


@pytest.fixture
def cgroup_lab():
    with made_cgroups() as lab:
        yield lab


LIB, ETC = '/usr/lib/systemd/system', '/etc/systemd/system'
SYSTEM = Manager('system', None, 1, list(SYSTEM_SEARCH_PATH), {'t': '/run', 'h': '/root'}, '/run', [])


@pytest.mark.parametrize('value, expected', [
    ('22', Listen('stream', None, 22, None, '22')),
    ('127.0.0.1:80', Listen('stream', '127.0.0.1', 80, None, '127.0.0.1:80')),
    ('[::1]:80', Listen('stream', '::1', 80, None, '[::1]:80')),
    ('[0:0::1]:80', Listen('stream', '::1', 80, None, '[0:0::1]:80')),
    ('[::ffff:10.0.0.1]:80', Listen('stream', '::ffff:10.0.0.1', 80, None, '[::ffff:10.0.0.1]:80')),
    ('[fe80::1]:80%eth0', Listen('stream', 'fe80::1', 80, 'eth0', '[fe80::1]:80%eth0')),
    ('[fe80::1%eth0]:80', Listen('stream', 'fe80::1', 80, 'eth0', '[fe80::1%eth0]:80')),
    ('/run/foo.sock', Listen('stream', '/run/foo.sock', None, None, '/run/foo.sock')),
    ('@foo/bar', Listen('stream', '@foo/bar', None, None, '@foo/bar')),
    ('vsock:2:1234', Listen('stream', '2', 1234, None, 'vsock:2:1234')),
    ('vsock::1234', Listen('stream', '*', 1234, None, 'vsock::1234')),
])
def test_listen_forms(value, expected):
    assert parse_listen('stream', value) == expected


@pytest.mark.parametrize('value', ['0', '65536', '::1:80', '127.0.0.1', '1.2.3:80', 'localhost:80', '[::1]',
                                   '[::1]:80#name', '127.0.0.1:80%bad/dev', '/' + 'x' * 108, 'vsock:x:1', ' 22'])
def test_listen_values_systemd_refuses(value):
    with pytest.raises(ValueError):
        parse_listen('stream', value)


def test_specifiers():
    table = {'t': '/run/user/1000', 'h': '/home/u'}
    assert expand_specifiers('%t/%p-%i.sock', 'echo@one.socket', table) == '/run/user/1000/echo-one.sock'
    assert expand_specifiers('%I %f %N %n %j %%', 'a-b@dev-sda.socket', table) == \
        'dev/sda /dev/sda a-b@dev-sda a-b@dev-sda.socket b %'
    with pytest.raises(ValueError, match='%H'):
        expand_specifiers('%H', 'a.socket', table)


def unit(name, text, where='x'):
    from ansible_collections.netaudit.sockets.plugins.module_utils._origin.unit_files import parse_unit_text
    return LoadedUnit(name, where, [s + (where,) for s in parse_unit_text(text.encode(), where)], False, None)


@pytest.mark.parametrize('name, text, service, listens', [
    ('ssh.socket', '[Socket]\nListenStream=22\n', 'ssh.service', ['22']),
    ('ssh.socket', '[Socket]\nListenStream=22\nAccept=yes\n', 'ssh@.service', ['22']),
    ('ssh.socket', '[Socket]\nListenStream=22\nService=other.service\n', 'other.service', ['22']),
    ('ssh.socket', '[Socket]\nListenStream=22\nListenStream=\nListenStream=2222\n', 'ssh.service', ['2222']),
    ('e@x.socket', '[Socket]\nListenStream=/run/e-%i.sock\n', 'e@x.service', ['/run/e-x.sock']),
    ('e@x.socket', '[Socket]\nListenStream=1\nAccept=true\n', 'e@.service', ['1']),
    ('a.socket', '[Service]\nListenStream=1\n[Socket]\nListenDatagram=%t/a\n', 'a.service', ['/run/a']),
])
def test_interpret(name, text, service, listens):
    found = socket_units.interpret(unit(name, text), SYSTEM)
    assert found.problem is None
    assert found.service == service and [listen.text for listen in found.listens] == listens


@pytest.mark.parametrize('text, words', [
    ('[Socket]\nListenStream=nonsense\n', 'ListenStream=nonsense'),
    ('[Socket]\nAccept=maybe\n', 'not a boolean'),
    ('[Socket]\nListenStream=%H:80\n', '%H'),
    ('[Socket]\nBindIPv6Only=sometimes\n', 'BindIPv6Only'),
    ('[Socket]\nService=not-a-service.socket\n', 'not a service name'),
])
def test_a_value_systemd_refuses_makes_the_unit_unknown(text, words):
    found = socket_units.interpret(unit('a.socket', text), SYSTEM)
    assert found.problem and words in found.problem and not found.listens


def record(netid, family, address, port, state='LISTEN', interface=None, v6only=None):
    return {'netid': netid, 'family': family, 'local_address': address, 'local_port': port, 'state': state,
            'interface': interface, 'v6only': v6only}


def matcher(tmp_path, files, ipv6=True):
    write_tree(tmp_path, files)
    return SocketUnits(SYSTEM, str(tmp_path), ipv6)


def test_matching_by_table_address_port_device_and_v6only(tmp_path):
    units = matcher(tmp_path, {
        LIB + '/dual.socket': '[Socket]\nListenStream=1001\n',
        LIB + '/v6.socket': '[Socket]\nListenStream=1002\nBindIPv6Only=ipv6-only\n',
        LIB + '/v4.socket': '[Socket]\nListenStream=0.0.0.0:1002\n',
        LIB + '/dev.socket': '[Socket]\nListenDatagram=127.0.0.1:1003\nBindToDevice=lo\n',
        LIB + '/sctp.socket': '[Socket]\nListenStream=1004\nSocketProtocol=sctp\n',
        LIB + '/a.socket': '[Socket]\nListenStream=1005\n', LIB + '/b.socket': '[Socket]\nListenStream=1005\n',
    })
    assert units.match(record('tcp', 'inet6', '::', 1001, v6only=False))[0].name == 'dual.socket'
    assert units.match(record('tcp', 'inet', '0.0.0.0', 1001))[0] is None        # systemd bound [::] here
    assert units.match(record('udp', 'inet6', '::', 1001, 'UNCONN'))[0] is None  # a datagram: another unit's
    assert units.match(record('tcp', 'inet6', '::', 1002, v6only=True))[0].name == 'v6.socket'
    assert units.match(record('tcp', 'inet', '0.0.0.0', 1002))[0].name == 'v4.socket'
    assert units.match(record('udp', 'inet', '127.0.0.1', 1003, 'UNCONN', 'lo'))[0].name == 'dev.socket'
    assert units.match(record('udp', 'inet', '127.0.0.1', 1003, 'UNCONN'))[0] is None
    assert units.match(record('sctp', 'inet6', '::', 1004))[0].name == 'sctp.socket'
    assert units.match(record('tcp', 'inet6', '::', 1004))[0] is None
    unit, why = units.match(record('tcp', 'inet6', '::', 1005))
    assert unit is None and 'more than one .socket unit' in why and 'a.socket, b.socket' in why


def test_a_port_alone_is_0_0_0_0_where_ipv6_is_off(tmp_path):
    units = matcher(tmp_path, {LIB + '/p.socket': '[Socket]\nListenStream=1001\n'}, ipv6=False)
    assert units.match(record('tcp', 'inet', '0.0.0.0', 1001))[0].name == 'p.socket'
    assert units.match(record('tcp', 'inet6', '::', 1001))[0] is None


def test_no_unit_names_the_unreadable_ones(tmp_path):
    units = matcher(tmp_path, {LIB + '/x.socket': ('fifo',), LIB + '/y.socket': '[Socket]\nListenStream=1\n'})
    unit, why = units.match(record('tcp', 'inet6', '::', 9))
    assert unit is None and 'the system manager (pid 1)' in why and 'no .socket unit' in why
    assert 'x.socket' in why and 'FIFO' in why


@pytest.mark.parametrize('pid, name, expected', [(1, 'systemd', True), (1, 'init', False), (2, 'systemd', False)])
def test_the_system_manager_is_pid_1_named_systemd(pid, name, expected):
    assert managers.is_system_manager(pid, name) is expected


@pytest.mark.parametrize('name, uid, path, expected', [
    ('systemd', 1000, '/user.slice/user-1000.slice/user@1000.service/init.scope', 1000),
    ('systemd', 1000, '/user.slice/user-1000.slice/user@1000.service', 1000),
    ('systemd', 1001, '/user.slice/user-1000.slice/user@1000.service/init.scope', None),     # another uid
    ('systemd', 0, '/user.slice/user-1000.slice/user@1000.service/init.scope', None),
    ('systemd', 1000, '/user.slice/user-1000.slice/user@1000.service/app.slice/x.service', None),
    ('systemd', 1000, '/user.slice/user-1000.slice/session-2.scope', None),
    ('sshd', 1000, '/user.slice/user-1000.slice/user@1000.service/init.scope', None),
    ('systemd', None, '/user.slice/user-1000.slice/user@1000.service/init.scope', None),
])
def test_a_user_manager_is_named_placed_and_credentialed(name, uid, path, expected):
    assert managers.user_manager_uid(name, uid, path) == expected


def test_a_user_managers_home_and_xdg_folders(tmp_path):
    write_tree(tmp_path, {'/etc/passwd': 'root:x:0:0::/root:/bin/sh\nu:x:4321:4321::/home/u:/bin/sh\n'})
    proc = tmp_path / 'proc'
    (proc / '77').mkdir(parents=True)
    (proc / '77' / 'environ').write_bytes(b'XDG_RUNTIME_DIR=/run/user/4321\0XDG_DATA_HOME=/data\0')
    found = managers.user_manager(str(proc), str(tmp_path), 77, 4321)
    assert found.search_path[4] == '/home/u/.config/systemd/user' and '/data/systemd/user' in found.search_path
    assert found.specifiers['h'] == '/home/u' and found.specifiers['u'] == 'u' and found.runtime_dir == '/run/user/4321'
    nobody = managers.user_manager(str(proc), str(tmp_path), 78, 999)
    assert nobody.notes and 'home folder of uid 999 is not known' in nobody.notes[0]


# --- real sockets, held by PID 1 of a namespace named systemd ----------------------------------------------------

def spec_socket(label, family, kind, address, v6only=None, device=None):
    return {'label': label, 'family': family, 'type': kind, 'address': address, 'port': 0, 'v6only': v6only,
            'device': device}


needs_pid_namespace = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare'),
                                         reason='needs root and unshare: a PID namespace of the test\'s own')


@needs_pid_namespace
def test_socket_activation_across_listen_forms(tmp_path):
    """The acceptance case: every Listen*= form, Service=, Accept=yes, BindIPv6Only=, BindToDevice=, drop-ins
    (the unit's, a dash prefix's, the type's), a unit overridden in /etc and a masked one, each maps to its unit."""
    run = tmp_path / 'run'
    run.mkdir()
    tag = uuid.uuid4().hex[:8]
    specs = [
        spec_socket('port-dual', 'inet6', 'stream', '::', v6only=False),
        spec_socket('port-v6only', 'inet6', 'stream', '::', v6only=True),
        spec_socket('v4', 'inet', 'stream', '127.0.0.1'),
        spec_socket('v6', 'inet6', 'stream', '::1'),
        spec_socket('dev', 'inet', 'stream', '127.0.0.1', device='lo'),
        spec_socket('udp-v4', 'inet', 'dgram', '127.0.0.1'),
        spec_socket('udp-v6', 'inet6', 'dgram', '::1'),
        spec_socket('udp-port', 'inet6', 'dgram', '::', v6only=False),
        spec_socket('path', 'unix', 'stream', str(run / 'stream.sock')),
        spec_socket('abstract', 'unix', 'stream', '@w1-%s' % tag),
        spec_socket('dgram-path', 'unix', 'dgram', str(run / 'dgram.sock')),
        spec_socket('seqpacket', 'unix', 'seqpacket', str(run / 'seq.sock')),
        spec_socket('dropin', 'inet', 'stream', '127.0.0.1'),
        spec_socket('overridden', 'inet', 'stream', '127.0.0.1'),
        spec_socket('masked', 'inet', 'stream', '127.0.0.1'),
        spec_socket('undeclared', 'inet', 'stream', '127.0.0.1'),
        spec_socket('own', 'unix', 'stream', '/run/systemd/private'),
    ]
    tree = tmp_path / 'tree'

    def write_units(sockets):
        port = dict((label, item['port']) for label, item in sockets.items())
        write_tree(tree, {
            LIB + '/dual.socket': '[Socket]\nListenStream=%d\n' % port['port-dual'],
            LIB + '/v6only.socket': '[Socket]\nListenStream=%d\nBindIPv6Only=ipv6-only\nService=six.service\n'
                                    % port['port-v6only'],
            LIB + '/v4.socket': '[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n' % port['v4'],
            LIB + '/v6.socket': '[Socket]\n# comment\nListenStream=[::1]:%d\n' % port['v6'],
            LIB + '/dev.socket': '[Socket]\nListenStream=127.0.0.1:%d\nBindToDevice=lo\n' % port['dev'],
            LIB + '/dgram.socket': '[Socket]\nListenDatagram=127.0.0.1:%d\nListenDatagram=[::1]:%d\n'
                                   'ListenDatagram=%d\n' % (port['udp-v4'], port['udp-v6'], port['udp-port']),
            LIB + '/paths.socket': '[Socket]\nListenStream=%s\nListenStream=@w1-%s\nListenDatagram=%s\n'
                                   'ListenSequentialPacket=%s\n' % (run / 'stream.sock', tag, run / 'dgram.sock',
                                                                    run / 'seq.sock'),
            LIB + '/web-front.socket': '[Socket]\nListenStream=1\n',
            LIB + '/web-front.socket.d/10-port.conf': '[Socket]\nListenStream=\nListenStream=127.0.0.1:%d\n'
                                                      % port['dropin'],
            LIB + '/web-.socket.d/20-service.conf': '[Socket]\nService=web-backend.service\n',
            LIB + '/socket.d/05-type.conf': '[Socket]\nBacklog=64\n',
            LIB + '/over.socket': '[Socket]\nListenStream=1\n',
            ETC + '/over.socket': '[Socket]\nListenStream=127.0.0.1:%d\n' % port['overridden'],
            LIB + '/gone.socket': '[Socket]\nListenStream=127.0.0.1:%d\n' % port['masked'],
            ETC + '/gone.socket': ('link', '/dev/null'),
        })
    spec = {'name': 'systemd', 'uid': None, 'root': str(tree), 'ipv6': None, 'sockets': specs,
            'tmpfs': ['/run/systemd']}
    sockets, records, notes = run_pid1(spec, write_units)

    def unit(label):
        found = records[label]
        assert found is not None, label
        assert [owner['pid'] for owner in found['processes']] == [1]
        return found['unit'], found['origin_unknown'].get('unit')

    expected = {
        'port-dual': ('dual.socket', 'dual.service'), 'port-v6only': ('v6only.socket', 'six.service'),
        'v4': ('v4.socket', 'v4@.service'), 'v6': ('v6.socket', 'v6.service'), 'dev': ('dev.socket', 'dev.service'),
        'udp-v4': ('dgram.socket', 'dgram.service'), 'udp-v6': ('dgram.socket', 'dgram.service'),
        'udp-port': ('dgram.socket', 'dgram.service'), 'path': ('paths.socket', 'paths.service'),
        'abstract': ('paths.socket', 'paths.service'), 'dgram-path': ('paths.socket', 'paths.service'),
        'seqpacket': ('paths.socket', 'paths.service'), 'dropin': ('web-front.socket', 'web-backend.service'),
        'overridden': ('over.socket', 'over.service'),
    }
    for label, (name, service) in expected.items():
        assert unit(label) == ({'name': name, 'manager': 'system', 'uid': None, 'service': service}, None), label
    for label in ('masked', 'undeclared'):
        found, why = unit(label)
        assert found is None and 'no .socket unit' in why and 'the system manager (pid 1)' in why
    # the manager's own socket in its runtime folder (a tmpfs of its own mount namespace here) is the manager's:
    # the unit of its cgroup, which is the test's, made by no systemd (so none), and not unknown
    assert records['own']['unit'] is None and 'unit' not in records['own']['origin_unknown']
    assert notes == []


@needs_pid_namespace
def test_hostile_unit_files_leave_the_unit_unknown_with_the_reason(tmp_path):
    specs = [spec_socket(label, 'inet', 'stream', '127.0.0.1') for label in ('clean', 'other')]
    tree = tmp_path / 'tree'

    def write_units(sockets):
        write_tree(tree, {
            LIB + '/clean.socket': '[Socket]\nListenStream=127.0.0.1:%d\n' % sockets['clean']['port'],
            LIB + '/fifo.socket': ('fifo',),
            LIB + '/huge.socket': b'[Socket]\n' + b'#' * (2 << 20),
            LIB + '/utf.socket': b'[Socket]\nListenStream=127.0.0.1:%d\xff\n' % sockets['other']['port'],
            ETC + '/loop.socket': ('link', 'loop2.socket'), ETC + '/loop2.socket': ('link', 'loop.socket'),
            LIB + '/dropfile.socket': '[Socket]\nListenStream=127.0.0.1:%d\n' % sockets['other']['port'],
            ETC + '/dropfile.socket.d': 'a file where a folder should be',
        })
    spec = {'name': 'systemd', 'uid': None, 'root': str(tree), 'ipv6': None, 'sockets': specs}
    _sockets, records, notes = run_pid1(spec, write_units, timeout=30)
    assert records['clean']['unit']['name'] == 'clean.socket'
    assert records['other']['unit'] is None
    why = records['other']['origin_unknown']['unit']
    assert 'no .socket unit' in why and 'could not be read' in why
    joined = ' '.join(notes)
    for words in ('FIFO', 'larger than', 'not UTF-8', 'symbolic link loop', 'dropfile.socket.d'):
        assert words in joined, words


# --- a user's manager, real, and impostors ---------------------------------------------------------------------

def test_a_user_manager_and_its_impostors(cgroup_lab, tmp_path):
    uid = 61000 + os.getpid() % 1000
    tree = tmp_path / 'tree'
    home = '/home/w1user'
    manager_place = cgroup_lab.make('/user.slice/user-%d.slice/user@%d.service/init.scope' % (uid, uid))
    session = cgroup_lab.make('/user.slice/user-%d.slice/session-%d.scope' % (uid, 4000 + os.getpid() % 1000))
    listener = [{'label': 'l', 'family': 'inet', 'type': 'stream', 'address': '127.0.0.1', 'port': 0}]
    env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR='/run/user/%d' % uid)
    cases = [('manager', uid, manager_place, True), ('wrong-uid', uid + 1, manager_place, False),
             ('elsewhere', uid, session, False)]
    with holders() as made:
        for _label, owner_uid, place, _ok in cases:
            holder = Holder(listener, name='systemd', uid=owner_uid, env=env)
            made.append(holder)
            cgroup_lab.place(holder.pid, place)
            holder.open()
        ports = [holder.sockets['l']['port'] for holder in made]
        # every holder's port is declared, so only the trust rules tell them apart
        write_tree(tree, dict(('%s/.config/systemd/user/u%d.socket' % (home, n), '[Socket]\nListenStream=127.0.0.1:%d\n'
                               % port) for n, port in enumerate(ports)))
        inodes = dict((holder.sockets['l']['inode'], case) for holder, case in zip(made, cases))
        facts = _gather.gather(tables=['tcp'], listening=True, summary=False)
        records = [record for record in facts['sockets'] if record['inode'] in inodes]
        Attributor(root=str(tree)).attribute(records)
        for found in records:
            label, owner_uid, _place, ok = inodes[found['inode']]
            if ok:
                assert found['unit'] == {'name': 'u0.socket', 'manager': 'user', 'uid': uid, 'service': 'u0.service'}
            else:
                assert found['unit'] is None or not found['unit']['name'].endswith('.socket'), label
        by_label = dict((inodes[found['inode']][0], found) for found in records)
        assert by_label['elsewhere']['unit']['name'].startswith('session-')
        assert by_label['wrong-uid']['unit'] == {'name': 'user@%d.service' % uid, 'manager': 'system', 'uid': None,
                                                 'service': None}


def test_an_impostor_named_systemd_outside_pid_1_gets_its_cgroups_unit(cgroup_lab, tmp_path):
    place = cgroup_lab.make('/system.slice/w1-impostor-%s.service' % uuid.uuid4().hex[:8])
    with holders() as made:
        holder = Holder([{'label': 'l', 'family': 'inet', 'type': 'stream', 'address': '127.0.0.1', 'port': 0}],
                        name='systemd')
        made.append(holder)
        cgroup_lab.place(holder.pid, place)
        holder.open()
        write_tree(tmp_path, {LIB + '/claim.socket': '[Socket]\nListenStream=127.0.0.1:%d\n' % holder.sockets['l']['port']})
        facts = _gather.gather(tables=['tcp'], listening=True, summary=False)
        found = [r for r in facts['sockets'] if r['inode'] == holder.sockets['l']['inode']]
        Attributor(root=str(tmp_path)).attribute(found)
        assert found[0]['processes'][0]['name'] == 'systemd'
        assert found[0]['unit'] == {'name': place.rpartition('/')[2], 'manager': 'system', 'uid': None, 'service': None}
