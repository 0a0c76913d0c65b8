# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts (issue 14, the origin fields) on real listeners in cgroups this test makes.

The listeners are held by fixtures/holder.py run with this machine's own python3 (a file a package installed), placed
in a nested cgroup named as systemd names a service's before they open their sockets. The oracles are independent of
the module: `ss --cgroup` (the real ss) for `cgroup`, `dpkg -S` for `package` (of the file /proc/PID/exe resolves to),
/proc/PID/cgroup read here for `owner_cgroups`; the module runs with the default interpreter and with pyenv's 3.8."""

import os
import shutil
import subprocess

import pytest

from support.cgroup_lab import Holder, holders, made_cgroups, ss_cgroups
from support.natest import pyenv_python, run_adhoc

SYSTEM_PYTHON = '/usr/bin/python3'
# Where the holders make their sockets, and where one of them is moved to afterwards; the service's name is one
# systemd would give (the module names its unit from the path), below a slice, with a cgroup of its own inside.
SERVICE = '/netaudit-w14.slice/netaudit-w14-origin.service'
MADE_IN = SERVICE + '/listener'
MOVED_TO = '/netaudit-w14.slice/netaudit-w14-moved.scope'

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root: cgroups are made under the cgroup2 mount'),
    pytest.mark.skipif(not shutil.which('ss'), reason='needs ss'),
    pytest.mark.skipif(not shutil.which('dpkg'), reason='needs dpkg (the package oracle)'),
    pytest.mark.skipif(not os.path.isfile(SYSTEM_PYTHON), reason='needs %s' % SYSTEM_PYTHON),
]

INTERPRETERS = [pytest.param(None, id='default')] + [
    pytest.param(path, id='pyenv-3.8', marks=pytest.mark.skipif(path is None, reason='no pyenv Python 3.8'))
    for path in [pyenv_python('3.8')]]


def dpkg_package(path):
    """The package `dpkg -S PATH` names (without a multi-arch qualifier such as `:amd64`, which the module's
    `package.name` leaves out), or None when no package lists the path."""
    proc = subprocess.run(['dpkg', '-S', path], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    lines = [line for line in proc.stdout.splitlines() if line.endswith(': ' + path)]
    assert len(lines) == 1, proc.stdout
    return lines[0][:-len(': ' + path)].split(':', 1)[0]


def own_cgroup(pid):
    """The process's cgroup v2 path from its /proc/PID/cgroup, relative to the cgroup2 mount (the test's view is
    the root cgroup namespace)."""
    with open('/proc/%d/cgroup' % pid) as handle:
        return [line.split(':', 2)[2].strip() for line in handle if line.startswith('0::')][0]


@pytest.fixture()
def lab():
    with made_cgroups() as made:
        yield made


@pytest.fixture()
def listeners(lab):
    """Two holders run by the system python3, each with a TCP listener on 127.0.0.1 made in MADE_IN; the second is
    moved to MOVED_TO after its socket was made (a socket stays in the cgroup it was made in)."""
    lab.make(MADE_IN)
    lab.make(MOVED_TO)
    spec = [{'label': 'tcp', 'family': 'inet', 'type': 'stream', 'address': '127.0.0.1', 'port': 0}]
    with holders() as made:
        stays = Holder(spec, name='na-w14-stays', python=SYSTEM_PYTHON)
        made.append(stays)
        moves = Holder(spec, name='na-w14-moves', python=SYSTEM_PYTHON)
        made.append(moves)
        for holder in (stays, moves):
            lab.place(holder.pid, MADE_IN)
            holder.open()
        lab.place(moves.pid, MOVED_TO)
        yield stays, moves


def gathered(holders_, interpreter):
    ports = ' or '.join('sport = :%d' % holder.sockets['tcp']['port'] for holder in holders_)
    extra = ['-c', 'local']
    if interpreter:
        extra += ['-e', 'ansible_python_interpreter=%s' % interpreter]
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts',
                              'filter="%s" listening=true packages=true' % ports, extra=extra, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    by_inode = dict((record['inode'], record) for record in facts['sockets'])
    return [by_inode[holder.sockets['tcp']['inode']] for holder in holders_]


@pytest.mark.parametrize('interpreter', INTERPRETERS)
def test_cgroup_unit_and_package_of_real_listeners(listeners, interpreter):
    stays, moves = listeners
    ss = ss_cgroups()
    exe = os.path.realpath('/proc/%d/exe' % stays.pid)
    package = dpkg_package(exe)
    assert package, '%s (the system python3) is no package file: the oracle is missing' % exe
    assert os.path.realpath('/proc/%d/exe' % moves.pid) == exe
    first, second = gathered(listeners, interpreter)
    for holder, record in ((stays, first), (moves, second)):
        inode = holder.sockets['tcp']['inode']
        # ss names the socket's cgroup: the one it was made in, for the holder that moved too.
        assert ss[inode] == MADE_IN
        assert record['cgroup'] == ss[inode]
        assert [owner['pid'] for owner in record['processes']] == [holder.pid]
        assert record['package'] == {'name': package, 'manager': 'dpkg', 'path': exe}
        assert record['container'] is None and record['origin_unknown'] == {}
    # The owner that moved is in another cgroup now: owner_cgroups names it, as its /proc/PID/cgroup does.
    assert own_cgroup(stays.pid) == MADE_IN and first['owner_cgroups'] == []
    assert own_cgroup(moves.pid) == MOVED_TO and second['owner_cgroups'] == [MOVED_TO]
    # The unit is the first owner's, from its cgroup as systemd names them (the service below the slice; a cgroup
    # below the service is the service's; a scope is a unit too).
    assert first['unit'] == {'name': 'netaudit-w14-origin.service', 'manager': 'system', 'uid': None, 'service': None}
    assert second['unit'] == {'name': 'netaudit-w14-moved.scope', 'manager': 'system', 'uid': None, 'service': None}


def test_packages_false_leaves_package_not_gathered(listeners):
    stays, _moves = listeners
    port = stays.sockets['tcp']['port']
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :%d"' % port,
                              extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = [r for r in results['localhost']['ansible_facts']['sockets'] if r['inode'] == stays.sockets['tcp']['inode']]
    assert len(record) == 1
    assert record[0]['package'] is None and record[0]['origin_unknown'] == {'package': 'not_gathered'}
    assert record[0]['cgroup'] == MADE_IN
