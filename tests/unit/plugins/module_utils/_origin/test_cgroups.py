# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/cgroups.py: the cgroup2 mount, cgroup id -> path, /proc/PID/cgroup.

Oracles: the real `ss --cgroup` on sockets that real processes open in cgroups the tests make under this machine's
cgroup2 mount (nested, moved, removed); the kernel's own file handles (name_to_handle_at) for the id of a directory;
mount tables and /proc/PID/cgroup texts as the kernel writes them (the hybrid ones captured on this machine)."""

import os
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import cgroups
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.attribute import Attributor

from support.cgroup_lab import Holder, holders, made_cgroups, ss_cgroups


@pytest.fixture
def cgroup_lab():
    with made_cgroups() as lab:
        yield lab


# /proc/self/mountinfo of this machine (the hybrid layout: v1 controllers, name=systemd, cgroup2 at .../unified).
HYBRID_MOUNTINFO = b'''\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
'''
# /proc/PID/cgroup on this machine, a process in a cgroup of the v2 hierarchy.
HYBRID_CGROUP = b'''\
9:name=systemd:/
8:pids:/
4:memory:/process_api/41c1c73e
1:cpu:/
0::/w1test/nested
'''


def mountinfo_tree(tmp_path, data):
    (tmp_path / 'self').mkdir()
    (tmp_path / 'self' / 'mountinfo').write_bytes(data)
    return str(tmp_path)


@pytest.mark.parametrize('data, expected', [
    (HYBRID_MOUNTINFO, ('/sys/fs/cgroup/unified', '/')),
    (b'30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n', ('/sys/fs/cgroup', '/')),
    # a subtree (a container's view), and a mount point with a space, as the kernel escapes it
    (b'30 1 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', ('/sys/fs/cgroup', '/kubepods/pod1')),
    (b'30 1 0:26 / /mnt/cg\\040two rw - cgroup2 none rw\n', ('/mnt/cg two', '/')),
    # the first cgroup2 mount is the one ss takes
    (b'30 1 0:26 / /a rw - cgroup2 none rw\n31 1 0:26 / /b rw - cgroup2 none rw\n', ('/a', '/')),
    # optional fields before the separator; a cgroup v1 named "cgroup2" is not one
    (b'30 1 0:26 / /c rw master:1 shared:2 - cgroup cgroup2 rw\n31 1 0:26 / /d rw - cgroup2 x rw\n', ('/d', '/')),
])
def test_the_first_cgroup2_mount(tmp_path, data, expected):
    mount, problem = cgroups.find_cgroup2_mount(mountinfo_tree(tmp_path, data), '/')
    assert problem is None
    assert (mount.point, mount.root) == expected
    assert mount.path == expected[0]


def test_no_cgroup2_mount_and_a_hostile_mount_table_say_why(tmp_path):
    mount, problem = cgroups.find_cgroup2_mount(mountinfo_tree(tmp_path, HYBRID_MOUNTINFO.replace(b'cgroup2', b'tmpfs')))
    assert mount is None and 'no cgroup2 file system is mounted' in problem
    fifo = tmp_path / 'fifo'
    (fifo / 'self').mkdir(parents=True)
    os.mkfifo(str(fifo / 'self' / 'mountinfo'))
    mount, problem = cgroups.find_cgroup2_mount(str(fifo))
    assert mount is None and 'FIFO' in problem


def test_the_mount_path_is_under_root(tmp_path):
    mount, _problem = cgroups.find_cgroup2_mount(mountinfo_tree(tmp_path, HYBRID_MOUNTINFO), '/srv/copy')
    assert mount.path == '/srv/copy/sys/fs/cgroup/unified'


@pytest.mark.parametrize('root, proc_path, expected', [
    ('/', '/system.slice/ssh.service', '/system.slice/ssh.service'),
    ('/kubepods/pod1', '/kubepods/pod1/ctr', '/ctr'),
    ('/kubepods/pod1', '/kubepods/pod1', '/'),
    ('/kubepods/pod1', '/kubepods/pod10', None),
    ('/kubepods/pod1', '/system.slice', None),
])
def test_proc_paths_written_as_ss_writes_them(root, proc_path, expected):
    assert cgroups.mount_relative(cgroups.CgroupMount('/m', root, '/m'), proc_path) == expected


def test_proc_cgroup_hybrid_and_unified():
    assert cgroups.parse_proc_cgroup(HYBRID_CGROUP) == cgroups.ProcessCgroups('/w1test/nested', '/')
    assert cgroups.parse_proc_cgroup(b'0::/system.slice/a:b.service\n') == cgroups.ProcessCgroups(
        '/system.slice/a:b.service', None)
    assert cgroups.parse_proc_cgroup(b'1:name=systemd:/user.slice\n2:cpu,cpuacct:/\n') == cgroups.ProcessCgroups(
        None, '/user.slice')
    assert cgroups.parse_proc_cgroup(b'0::/caf\xc3\xa9/\xff\n').v2 == '/caf\u00e9/\\xff'


@pytest.mark.parametrize('data, words', [
    # a cgroup named "x\n0::/system.slice/ssh.service" (a user can make one in a delegated tree)
    (b'0::/user.slice/user-1000.slice/user@1000.service/x\n0::/system.slice/ssh.service\n', 'twice'),
    (HYBRID_CGROUP + b'9:name=systemd:/system.slice/ssh.service\n', 'twice'),
    (b'0::/a\nnot a line\n', 'not ID:CONTROLLERS:PATH'),
    (b'0::relative\n', 'not ID:CONTROLLERS:PATH'),
])
def test_a_faked_line_refuses_the_file(data, words):
    with pytest.raises(cgroups.CgroupFileError, match=words):
        cgroups.parse_proc_cgroup(data, '/proc/7/cgroup')


def test_a_process_that_is_gone(tmp_path):
    with pytest.raises(cgroups.CgroupFileError) as caught:
        cgroups.read_process_cgroups(str(tmp_path), 99999)
    assert caught.value.missing


def fake_tree(tmp_path, paths):
    for path in paths:
        (tmp_path / path.lstrip('/')).mkdir(parents=True, exist_ok=True)
    return cgroups.CgroupMount('/fake', '/', str(tmp_path))


def test_ids_are_directory_inodes_and_the_walk_happens_once(tmp_path, monkeypatch):
    mount = fake_tree(tmp_path, ['/a/b/c', '/a/d', '/e'])
    index = cgroups.CgroupIndex(mount)
    walks = []
    original = cgroups.CgroupIndex._walk
    monkeypatch.setattr(cgroups.CgroupIndex, '_walk', lambda self: walks.append(1) or original(self))
    # an expected path is checked by one stat, without a walk
    assert index.path_of(os.stat(str(tmp_path / 'a' / 'd')).st_ino, ['/a/d']) == ('/a/d', None)
    assert walks == []
    for relative in ('a/b/c', 'e', 'a'):
        assert index.path_of(os.stat(str(tmp_path / relative)).st_ino) == ('/' + relative, None)
    assert index.path_of(os.stat(str(tmp_path)).st_ino) == ('/', None)
    assert walks == [1]
    # a cgroup made after the walk: found by a second one (once a run), as ss asks the kernel for an id it missed
    (tmp_path / 'later').mkdir()
    assert index.path_of(os.stat(str(tmp_path / 'later')).st_ino) == ('/later', None)
    assert walks == [1, 1]
    path, why = index.path_of(123456789)
    assert path is None and 'unreachable:75bcd15' in why and 'removed' in why
    assert walks == [1, 1]


def test_an_expected_path_that_climbs_out_is_not_taken(tmp_path):
    mount = fake_tree(tmp_path / 'mount', ['/a'])
    outside = os.stat(str(tmp_path)).st_ino
    path, _why = cgroups.CgroupIndex(mount).path_of(outside, ['/..', '/a/../..'])
    assert path is None


def test_the_walk_is_cut_short_by_count_and_by_time(tmp_path):
    mount = fake_tree(tmp_path, ['/d%03d' % number for number in range(200)])
    index = cgroups.CgroupIndex(mount, limit=50)
    path, why = index.path_of(1)
    assert path is None and 'stopped at 50 cgroups, its limit' in why and index.cut_short
    ticks = iter(range(0, 1000000, 10))
    index = cgroups.CgroupIndex(mount, seconds=5.0, clock=lambda: next(ticks))
    path, why = index.path_of(1)
    assert path is None and 'stopped after 5.0 s' in why


def test_ids_of_32_bit_kernels_are_confirmed_by_file_handle(tmp_path):
    """A 32-bit kernel's id is generation << 32 | inode: the inode finds the candidate, the handle confirms it."""
    mount = fake_tree(tmp_path, ['/a', '/b'])
    inode_a = os.stat(str(tmp_path / 'a')).st_ino
    handles = {os.fsencode(str(tmp_path / 'a')).decode(): (7 << 32) | inode_a}
    index = cgroups.CgroupIndex(mount, handle_id=handles.get)
    assert index.path_of((7 << 32) | inode_a) == ('/a', None)
    assert index.path_of((8 << 32) | inode_a)[0] is None      # same inode, another generation: a removed cgroup


@pytest.mark.skipif(not os.path.isdir('/sys/fs/cgroup/unified') and not os.path.isfile('/sys/fs/cgroup/cgroup.procs'),
                    reason='no cgroup2 mount')
def test_the_file_handle_of_a_real_cgroup_is_its_inode_here(cgroup_lab):
    """On this 64-bit kernel the kernel's id (the handle ss asks for) is the inode the module reads."""
    path = cgroup_lab.make('/w1-handle-%s/inner' % uuid.uuid4().hex[:8])
    assert cgroups.kernfs_handle_id(cgroup_lab.host(path)) == cgroup_lab.inode(path)
    assert cgroups.kernfs_handle_id('/nonexistent-w1') is None


def gathered(inodes, processes=True):
    facts = _gather.gather(tables=['tcp', 'udp'], processes=processes, summary=False)
    return dict((record['inode'], record) for record in facts['sockets'] if record['inode'] in inodes)


SOCKETS = [{'label': 'tcp', 'family': 'inet', 'type': 'stream', 'address': '127.0.0.1', 'port': 0},
           {'label': 'udp6', 'family': 'inet6', 'type': 'dgram', 'address': '::1', 'port': 0}]


def test_cgroup_is_what_ss_prints_for_nested_cgroups(cgroup_lab):
    base = '/w1-ss-%s' % uuid.uuid4().hex[:8]
    places = [base, base + '/system.slice/nested.service', base + '/a/b/c/d/e']
    with holders() as made:
        for place in places:
            cgroup_lab.make(place)
            holder = Holder(SOCKETS)
            made.append(holder)
            cgroup_lab.place(holder.pid, place)
            holder.open()
        inodes = dict((item['inode'], place) for holder, place in zip(made, places) for item in holder.sockets.values())
        printed = ss_cgroups()
        for processes in (True, False):       # without owners the tree is walked
            records = gathered(set(inodes), processes)
            Attributor().attribute(list(records.values()))
            for inode, place in inodes.items():
                assert printed[inode] == place
                assert records[inode]['cgroup'] == printed[inode]
                assert 'cgroup' not in records[inode]['origin_unknown']
                assert records[inode]['owner_cgroups'] == []


def test_a_socket_keeps_the_cgroup_it_was_made_in(cgroup_lab):
    """ss prints the creator's cgroup: the holder moved after opening is listed in owner_cgroups, and the walk
    finds the first cgroup (it is no owner's)."""
    base = '/w1-move-%s' % uuid.uuid4().hex[:8]
    first, second = cgroup_lab.make(base + '/first'), cgroup_lab.make(base + '/second')
    with holders() as made:
        holder = Holder(SOCKETS)
        made.append(holder)
        cgroup_lab.place(holder.pid, first)
        holder.open()
        cgroup_lab.place(holder.pid, second)
        inodes = set(item['inode'] for item in holder.sockets.values())
        printed = ss_cgroups()
        records = gathered(inodes)
        attributor = Attributor()
        attributor.attribute(list(records.values()))
        assert attributor.index.walked
        for inode in inodes:
            assert records[inode]['cgroup'] == printed[inode] == first
            assert records[inode]['owner_cgroups'] == [second]


def test_a_removed_cgroup_is_unknown_where_ss_prints_unreachable(cgroup_lab):
    base = '/w1-gone-%s' % uuid.uuid4().hex[:8]
    first, second = cgroup_lab.make(base + '/first'), cgroup_lab.make(base + '/second')
    with holders() as made:
        holder = Holder(SOCKETS[:1])
        made.append(holder)
        cgroup_lab.place(holder.pid, first)
        holder.open()
        cgroup_lab.place(holder.pid, second)
        cgroup_lab.remove(first)
        inode = holder.sockets['tcp']['inode']
        assert ss_cgroups()[inode].startswith('unreachable:')
        record = gathered({inode})[inode]
        Attributor().attribute([record])
        assert record['cgroup'] is None
        assert 'unreachable:%x' % record['cgroup_id'] in record['origin_unknown']['cgroup']
        assert record['owner_cgroups'] == [second]
