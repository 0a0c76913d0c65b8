# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Owner visibility is known, never assumed: gather() run where processes are out of its sight (a PID namespace of
its own, a hidepid /proc, another user) and against a listener that keeps changing its pid. The oracles are real
processes, namespaces and mounts that the tests create; the collection under test is NETAUDIT_COLLECTIONS when set
(to show that these tests fail on an older tree), else this repository's."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather

from support.natest import assert_owner_not_visible

HELPER = os.path.join(os.path.dirname(__file__), 'fixtures', 'owners_visibility_helper.py')
COLLECTIONS = os.environ.get('NETAUDIT_COLLECTIONS') or os.path.abspath(
    os.path.join(os.path.dirname(_gather.__file__), '..', '..', '..', '..', '..'))
INITIAL_PID_NAMESPACE = 0xEFFFFFFC

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root: PID and mount namespaces, another user'),
    pytest.mark.skipif(not shutil.which('unshare') or not shutil.which('setpriv'), reason='needs unshare and setpriv'),
]


# The interpreter of runs as another user: the test's own may live under /root (a pyenv build of the 2.20/2.21
# stages), which the user nobody cannot reach; the system's Python is what a managed host runs the module with.
SYSTEM_PYTHON = '/usr/bin/python3' if os.access('/usr/bin/python3', os.X_OK) else sys.executable


def run_helper(prefix, *args, timeout=120, python=sys.executable):
    proc = subprocess.run(prefix + [python, HELPER, COLLECTIONS] + [str(arg) for arg in args],
                          capture_output=True, text=True, check=False, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture()
def listener():
    """A listener of this test process, in the initial PID namespace: the socket whose owner must not be lost."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(4)
    yield sock.getsockname()[1], os.fstat(sock.fileno()).st_ino
    sock.close()


def test_the_initial_pid_namespace_has_the_fixed_inode():
    """The constant the module compares with is this kernel's: the test runs in the initial PID namespace, whose
    init (pid 1 here) is not the module's business; a child namespace has another inode."""
    assert os.readlink('/proc/self/ns/pid') == 'pid:[%d]' % INITIAL_PID_NAMESPACE
    child = subprocess.run(['unshare', '-pf', '--mount-proc', 'readlink', '/proc/self/ns/pid'],
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    assert child.startswith('pid:[') and child != 'pid:[%d]' % INITIAL_PID_NAMESPACE


def only(facts, inode):
    found = [record for record in facts['sockets'] if record['inode'] == inode]
    assert len(found) == 1, facts['sockets']
    return found[0]


def test_a_pid_namespace_of_its_own_hides_owners_and_says_so(listener):
    """Issue item 1: gather() under `unshare -pf --mount-proc` sees the host's network but not the process that
    listens: the record says not_visible, the facts are incomplete and name the PID namespace."""
    port, inode = listener
    facts = run_helper(['unshare', '-pf', '--mount-proc'], 'gather', 'sport = :%d' % port)
    record = only(facts, inode)
    assert_owner_not_visible(facts, record)


def test_the_same_listener_seen_from_the_initial_namespace_has_its_owner(listener):
    """The control: gathered from the test's own namespace, the listener has this process as owner, no reason."""
    port, inode = listener
    facts = run_helper([], 'gather', 'sport = :%d' % port)
    record = only(facts, inode)
    assert os.getpid() in [process['pid'] for process in record['processes']]
    assert record['owner_unknown'] is None
    assert facts['socket_meta']['owners_unknown'] == {}
    assert not any('listening socket' in reason for reason in facts['socket_meta']['incomplete_reasons'])


def test_an_unprivileged_run_under_hidepid_marks_the_owner_not_visible(listener):
    """hidepid=invisible on a /proc the test mounts: the user nobody sees none of root's processes, cannot even count
    them; the listener is not_visible and the facts say hidepid."""
    port, inode = listener
    prefix = ['unshare', '-m', 'sh', '-c', 'mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 '
              '--regid=65534 --clear-groups "$@"', 'sh']
    facts = run_helper(prefix, 'gather', 'sport = :%d' % port, python=SYSTEM_PYTHON)
    record = only(facts, inode)
    assert record['processes'] == [] and record.get('owner_unknown') == 'not_visible'
    meta = facts['socket_meta']
    assert meta['complete'] is False and meta.get('owners_visible') is False
    assert any('hidepid' in reason for reason in meta['incomplete_reasons']), meta['incomplete_reasons']
    assert meta.get('owners_unknown') == {'not_visible': 1}


def test_hidepid_limits_root_too():
    """As root with hidepid=invisible (in a PID namespace taken as the initial one): the processes root may not
    trace would be hidden, not counted, so owners are not known to be visible; an owned listener only notes it."""
    prefix = ['unshare', '-pf', '--mount-proc', 'sh', '-c', 'mount -o remount,hidepid=2 /proc && exec "$@"', 'sh']
    facts = run_helper(prefix, 'own-listener')
    meta = facts['socket_meta']
    [record] = facts['sockets']
    assert record['processes'] and record['owner_unknown'] is None
    assert meta.get('owners_visible') is False
    assert meta['complete'] is True, meta['incomplete_reasons']
    assert any('hidepid' in note for note in meta['notes']), meta['notes']


def test_a_pid_namespace_taken_as_initial_is_fully_visible():
    """The seam the hopper test uses: with its namespace taken as the initial one, an own listener is owned and
    owners_visible is true (no hidepid, every fd readable)."""
    facts = run_helper(['unshare', '-pf', '--mount-proc'], 'own-listener')
    [record] = facts['sockets']
    assert [process['pid'] for process in record['processes']] == [1]
    assert facts['socket_meta'].get('owners_visible') is True
    assert facts['socket_meta']['complete'] is True


RUNS = 30


@pytest.mark.parametrize('looks', ['default', '0'])
def test_a_pid_hopping_listener_is_found_or_marked(looks):
    """Issue item 2: a listener whose holder forks and exits in a loop (every half millisecond), among 300 idle
    processes, gathered 30 times: every run either names its owner "hopper" or marks the record (exited) and the
    facts incomplete with the reason - never a listener without owner in complete facts. Without the second look
    (looks 0) the walk alone almost never finds it: the marking is what is tested there."""
    result = run_helper(['unshare', '-pf', '--mount-proc'], 'hopper', RUNS, 300, looks, timeout=300)
    found = marked = 0
    problems = []
    for number, facts in enumerate(result['runs']):
        meta = facts['socket_meta']
        records = [record for record in facts['sockets'] if record['inode'] == result['inode']]
        if len(records) != 1:
            problems.append('run %d: %d records of the listener' % (number, len(records)))
            continue
        record = records[0]
        names = [process['name'] for process in record['processes']]
        if names:
            if set(names) != {'hopper'} or record.get('owner_unknown', 'absent') is not None:
                problems.append('run %d: owners %s, owner_unknown %r' % (number, names, record.get('owner_unknown')))
            found += 1
        elif (record.get('owner_unknown') == 'exited' and meta['complete'] is False
              and any('listening socket' in reason and 'exited or changed pid' in reason for reason in meta['incomplete_reasons'])
              and meta.get('owners_unknown') == {'exited': 1}):
            marked += 1
        else:
            problems.append('run %d: no owner, owner_unknown %r, complete %s, reasons %s'
                            % (number, record.get('owner_unknown'), meta['complete'], meta['incomplete_reasons']))
    print('hopper: %d runs found the owner, %d marked it' % (found, marked))
    assert not problems, problems
    assert found + marked == RUNS
