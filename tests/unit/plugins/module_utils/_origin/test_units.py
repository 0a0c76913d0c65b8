# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/units.py: a cgroup path -> the systemd unit.

Oracles: systemd's documented naming (slices nested by their dashes, one cgroup per service or scope inside its
slice, `user@UID.service` holding a user's manager and units, `\\x2d` escapes kept in names, `_` before a name
that could clash with the kernel's files), as string cases; and real processes the test places in cgroups it makes
under this machine's cgroup2 mount, named and nested exactly so, read back through gather() and the Attributor."""

import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import units
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.attribute import Attributor

from support.cgroup_lab import Holder, holders, made_cgroups


@pytest.fixture
def cgroup_lab():
    with made_cgroups() as lab:
        yield lab


def system(name):
    return {'name': name, 'manager': 'system', 'uid': None, 'service': None}


def user(name, uid):
    return {'name': name, 'manager': 'user', 'uid': uid, 'service': None}


PLACES = [
    ('/system.slice/ssh.service', system('ssh.service')),
    ('/system.slice/system-getty.slice/getty@tty1.service', system('getty@tty1.service')),
    ('/init.scope', system('init.scope')),
    ('/machine.slice/machine-web.scope', system('machine-web.scope')),
    ('/machine.slice/systemd-nspawn@web.service/payload', system('systemd-nspawn@web.service')),
    ('/user.slice/user-1000.slice/session-3.scope', system('session-3.scope')),
    ('/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service', user('foo.service', 1000)),
    ('/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-x.slice/app-x@1.service',
     user('app-x@1.service', 1000)),
    ('/user.slice/user-1000.slice/user@1000.service/init.scope', system('user@1000.service')),
    ('/user.slice/user-1000.slice/user@1000.service', system('user@1000.service')),
]

STRINGS = PLACES + [
    # escapes are part of the name systemd gives
    ('/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-disk-by\\x2duuid-0a1b.service',
     system('systemd-fsck@dev-disk-by\\x2duuid-0a1b.service')),
    # a unit whose name could clash with a controller's files gets a leading '_' in its cgroup
    ('/system.slice/_cpu.service', system('cpu.service')),
    ('/_io.slice/_io.service', system('io.service')),
    # a delegated service's own subtree belongs to the service
    ('/system.slice/docker.service/inner/deeper', system('docker.service')),
    ('/system.slice/containerd.service/k8s.io/abc', system('containerd.service')),
    # mounts and sockets have cgroups too
    ('/system.slice/var-lib-docker.mount', system('var-lib-docker.mount')),
    ('/system.slice/ssh.socket', system('ssh.socket')),
    ('//system.slice//ssh.service/', system('ssh.service')),
    # a user manager's tree made by hand below it still belongs to user@1000.service
    ('/user.slice/user-1000.slice/user@1000.service/handmade', system('user@1000.service')),
    ('/user.slice/user-1000.slice/user@1000.service/app.slice', system('user@1000.service')),
    # not units: the root, slices alone, hand-made cgroups, templates, names systemd refuses
    ('/', None),
    ('/system.slice', None),
    ('/user.slice/user-1000.slice', None),
    ('/handmade/ssh.service', None),
    ('/w1test/nested', None),
    ('/system.slice/getty@.service', None),
    ('/system.slice/foo.notatype', None),
    ('/system.slice/@x.service', None),
    ('/system.slice/sp ace.service', None),
    ('/system.slice/new\nline.service', None),
    ('/system.slice/' + 'a' * 250 + '.service', None),
    ('/system.slice/caf\u00e9.service', None),
    # user@ with what systemd does not take as a uid is an ordinary system unit name
    ('/user.slice/user@x.service/foo.service', system('user@x.service')),
    ('/user.slice/user@65535.service/foo.service', system('user@65535.service')),
    ('/user.slice/user@0.service/foo.service', user('foo.service', 0)),
]


@pytest.mark.parametrize('path, expected', STRINGS)
def test_the_unit_of_a_cgroup_path(path, expected):
    assert units.unit_of_cgroup(path) == expected


@pytest.mark.parametrize('path', ['/../../system.slice/ssh.service', 'system.slice/ssh.service', '/a/./b'])
def test_a_path_outside_the_namespace_is_unknown_not_none(path):
    with pytest.raises(units.CgroupPathError, match='outside the cgroup namespace'):
        units.unit_of_cgroup(path)


@pytest.mark.parametrize('path, uid', [
    ('/user.slice/user-1000.slice/user@1000.service/init.scope', 1000),
    ('/user.slice/user-1000.slice/user@1000.service', 1000),
    ('/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service', None),
    ('/user.slice/user-1000.slice/user@1000.service/init.scope/x', None),
    ('/user.slice/user-1000.slice/session-3.scope', None),
    ('/system.slice/user@1000.service', 1000),
    ('/init.scope', None),
    ('/../user@1000.service/init.scope', None),
])
def test_the_place_of_a_user_manager(path, uid):
    assert units.user_manager_uid(path) == uid


@pytest.mark.parametrize('name, kinds, valid', [
    ('ssh.service', {}, True), ('getty@tty1.service', {}, True), ('getty@.service', {}, False),
    ('getty@.service', {'template': True}, True), ('getty@tty1.service', {'instance': False}, False),
    ('a.b.c.socket', {}, True), ('-.slice', {}, True), ('.service', {}, False), ('x.Service', {}, False),
    ('a@b@c.service', {}, True), ('a' * 247 + '.service', {}, True), ('a' * 248 + '.service', {}, False),
])
def test_unit_names(name, kinds, valid):
    assert units.valid_unit_name(name, **kinds) is valid


def test_name_parts_and_unescaping():
    assert units.unit_prefix('foo-bar@x.socket') == 'foo-bar'
    assert units.unit_instance('foo@x.socket') == 'x' and units.unit_instance('foo.socket') is None
    assert units.template_of('foo@x.socket') == 'foo@.socket'
    assert units.unescape_instance('dev-disk-by\\x2duuid-1') == 'dev/disk/by-uuid/1'
    assert units.unescape_instance('\\xff') == '\\xff'


def test_processes_placed_as_systemd_places_them(cgroup_lab):
    """A real process in each cgroup of PLACES (and in one made by hand) holds a socket; gather() finds it as the
    owner, and the Attributor names the unit of its cgroup."""
    handmade = '/w1-handmade-%s/inner' % uuid.uuid4().hex[:8]
    cases = PLACES + [(handmade, None)]
    with holders() as made:
        for place, _expected in cases:
            cgroup_lab.make(place)
            holder = Holder([{'label': 'l', 'family': 'inet', 'type': 'stream', 'address': '127.0.0.1', 'port': 0}])
            made.append(holder)
            cgroup_lab.place(holder.pid, place)
            holder.open()
        by_inode = dict((holder.sockets['l']['inode'], expected) for holder, (_p, expected) in zip(made, cases))
        facts = _gather.gather(tables=['tcp'], summary=False, listening=True)
        records = [record for record in facts['sockets'] if record['inode'] in by_inode]
        assert len(records) == len(cases)
        Attributor().attribute(records)
        for record in records:
            assert record['unit'] == by_inode[record['inode']]
            assert 'unit' not in record['origin_unknown']
