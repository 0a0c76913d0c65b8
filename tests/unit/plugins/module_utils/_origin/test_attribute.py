# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/attribute.py: the fields `cgroup`, `owner_cgroups`, `unit` and their `origin_unknown` entries.

Null with an entry means unknown (the policy fails closed), null without one means none. The cases here are /proc
trees written as the kernel writes them (mountinfo, PID/cgroup, PID/status, PID/environ) over cgroup folders made
in a temporary folder (an id is a folder's inode, as on a 64-bit kernel), so each reason can be forced; the live
tests in test_cgroups.py, test_units.py and test_socket_units.py hold the same code against the kernel and ss."""

import os

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import attribute
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.attribute import Attributor

from support.cgroup_lab import write_tree

MOUNTINFO = '41 31 0:38 / /cg rw,relatime - cgroup2 cgroup2 rw\n'


def host(tmp_path, cgroup_files, mountinfo=MOUNTINFO, cgroups=('/',)):
    """A /proc tree with self/mountinfo and PID/cgroup files, and a cgroup2 tree at cgroup_root/cg."""
    proc, top = tmp_path / 'proc', tmp_path / 'cgroot'
    files = {'/self/mountinfo': mountinfo}
    for pid, text in cgroup_files.items():
        files['/%d/cgroup' % pid] = text
        files['/%d/status' % pid] = 'Name:\tx\nUid:\t0\t0\t0\t0\n'
    write_tree(proc, files)
    for path in cgroups:
        (top / 'cg' / path.lstrip('/')).mkdir(parents=True, exist_ok=True)
    return str(proc), str(top)


def inode(top, path):
    return os.stat(os.path.join(top, 'cg', path.lstrip('/'))).st_ino


def tcp(inode_number=10, cgroup_id=None, processes=(), owner_unknown=None, state='LISTEN'):
    return {'netid': 'tcp', 'family': 'inet', 'state': state, 'local_address': '127.0.0.1', 'local_port': 80,
            'interface': None, 'v6only': None, 'inode': inode_number, 'cgroup_id': cgroup_id,
            'processes': [{'name': name, 'pid': pid, 'fd': 3} for name, pid in processes],
            'owner_unknown': owner_unknown}


def run(proc, top, records, **kwargs):
    attributor = Attributor(proc, '/nonexistent-root', ipv6=True, cgroup_root=top, **kwargs)
    attributor.attribute(records)
    return attributor


def test_a_socket_and_its_owners_in_units(tmp_path):
    proc, top = host(tmp_path, {100: '0::/system.slice/ssh.service\n', 200: '0::/system.slice/other.service\n'},
                     cgroups=('/system.slice/ssh.service', '/system.slice/other.service'))
    record = tcp(cgroup_id=inode(top, '/system.slice/ssh.service'), processes=[('sshd', 100), ('x', 200)])
    attributor = run(proc, top, [record])
    assert record['cgroup'] == '/system.slice/ssh.service'
    assert record['owner_cgroups'] == ['/system.slice/other.service']
    assert record['unit'] == {'name': 'ssh.service', 'manager': 'system', 'uid': None, 'service': None}
    assert record['origin_unknown'] == {}
    assert not attributor.index.walked          # the owners' cgroups named the socket's: no walk


@pytest.mark.parametrize('owner_unknown, expected', [
    ('not_visible', {'owner_cgroups': 'not_visible', 'unit': 'not_visible'}),
    ('not_gathered', {'owner_cgroups': 'not_gathered', 'unit': 'not_gathered'}),
    ('exited', {'owner_cgroups': 'exited', 'unit': 'exited'}),
    ('kernel', {}),
])
def test_without_owners_the_owner_fields_carry_the_owner_reason(tmp_path, owner_unknown, expected):
    proc, top = host(tmp_path, {})
    record = tcp(cgroup_id=inode(top, '/'), owner_unknown=owner_unknown)
    run(proc, top, [record])
    assert record['cgroup'] == '/' and record['unit'] is None and record['owner_cgroups'] == []
    assert record['origin_unknown'] == expected


def test_where_no_cgroup_id_applies_and_where_it_was_not_given(tmp_path):
    proc, top = host(tmp_path, {5: '0::/\n'})
    unix = dict(tcp(processes=[('a', 5)]), netid='u_str', family='unix', local_address='/run/a', local_port=None)
    time_wait = tcp(inode_number=0, state='TIME-WAIT', owner_unknown='kernel')
    from_proc = tcp(processes=[('a', 5)])
    attributor = run(proc, top, [unix, time_wait, from_proc])
    assert unix['cgroup'] is None and 'cgroup' not in unix['origin_unknown'] and unix['owner_cgroups'] == ['/']
    assert time_wait['cgroup'] is None and time_wait['origin_unknown'] == {}
    assert from_proc['cgroup'] is None and from_proc['origin_unknown']['cgroup'] == attribute.NO_CGROUP_ID
    assert attributor.index is None             # nothing needed an id: no index, no walk


@pytest.mark.parametrize('text, words', [
    (None, 'exited before its cgroup was read'),
    ('0::/a\n0::/system.slice/ssh.service\n', 'twice'),
    ('0::/../../system.slice/ssh.service\n', 'outside the cgroup namespace'),
    ('1:name=systemd:/\n', 'no cgroup v2 line'),
])
def test_an_owner_whose_cgroup_cannot_be_told(tmp_path, text, words):
    proc, top = host(tmp_path, {7: text} if text else {})
    record = tcp(cgroup_id=inode(top, '/'), processes=[('x', 7)])
    run(proc, top, [record])
    assert record['unit'] is None and words in record['origin_unknown']['unit']
    if 'outside' not in words:
        assert words in record['origin_unknown']['owner_cgroups']


def test_a_legacy_host_names_units_by_the_systemd_hierarchy(tmp_path):
    proc, top = host(tmp_path, {9: '1:name=systemd:/system.slice/cron.service\n2:cpu:/\n0::/\n'},
                     mountinfo='40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n')
    record = tcp(cgroup_id=12345, processes=[('cron', 9)])
    run(proc, top, [record])
    assert record['unit']['name'] == 'cron.service'
    assert record['cgroup'] is None and 'no cgroup2 file system is mounted' in record['origin_unknown']['cgroup']


def test_other_fields_entries_are_kept_and_own_stale_ones_dropped(tmp_path):
    proc, top = host(tmp_path, {3: '0::/\n'})
    record = tcp(cgroup_id=inode(top, '/'), processes=[('x', 3)])
    record['origin_unknown'] = {'container': 'not_visible', 'unit': 'stale'}
    run(proc, top, [record])
    assert record['origin_unknown'] == {'container': 'not_visible'}


def test_a_socket_of_a_cgroup_no_owner_is_in_is_found_by_the_walk(tmp_path):
    proc, top = host(tmp_path, {3: '0::/b\n'}, cgroups=('/a/deep/er', '/b'))
    record = tcp(cgroup_id=inode(top, '/a/deep/er'), processes=[('x', 3)])
    attributor = run(proc, top, [record])
    assert record['cgroup'] == '/a/deep/er' and record['owner_cgroups'] == ['/b'] and attributor.index.walked


def test_the_system_manager_gets_its_socket_unit_and_an_impostor_does_not(tmp_path):
    proc, top = host(tmp_path, {1: '0::/init.scope\n', 50: '0::/system.slice/fake.service\n'},
                     cgroups=('/init.scope', '/system.slice/fake.service'))
    root = tmp_path / 'root'
    write_tree(root, {'/usr/lib/systemd/system/web.socket': '[Socket]\nListenStream=127.0.0.1:80\n'})
    by_pid1 = tcp(cgroup_id=inode(top, '/init.scope'), processes=[('systemd', 1), ('nginx', 50)])
    impostor = tcp(inode_number=11, cgroup_id=inode(top, '/system.slice/fake.service'), processes=[('systemd', 50)])
    connection = tcp(inode_number=12, cgroup_id=inode(top, '/init.scope'), processes=[('systemd', 1)], state='ESTAB')
    attributor = Attributor(proc, str(root), ipv6=True, cgroup_root=top)
    attributor.attribute([by_pid1, impostor, connection])
    assert by_pid1['unit'] == {'name': 'web.socket', 'manager': 'system', 'uid': None, 'service': 'web.service'}
    assert impostor['unit'] == {'name': 'fake.service', 'manager': 'system', 'uid': None, 'service': None}
    assert connection['unit'] == {'name': 'init.scope', 'manager': 'system', 'uid': None, 'service': None}


def test_unit_files_are_read_only_when_a_manager_holds_a_listener(tmp_path, monkeypatch):
    proc, top = host(tmp_path, {1: '0::/init.scope\n', 8: '0::/\n'}, cgroups=('/init.scope',))
    from ansible_collections.netaudit.sockets.plugins.module_utils._origin import unit_files
    loads = []
    monkeypatch.setattr(unit_files.UnitFiles, 'load', lambda self: loads.append(1) or [])
    records = [tcp(processes=[('x', 8)]), tcp(inode_number=2, processes=[('systemd', 1)], state='ESTAB')]
    run(proc, top, records)
    assert loads == []
    records = [tcp(processes=[('systemd', 1)]), tcp(inode_number=2, processes=[('systemd', 1)])]
    run(proc, top, records)
    assert loads == [1]                      # once for the run, however many listeners
