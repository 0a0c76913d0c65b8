# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: resolve() and call_in() against real network namespaces.

The lab (root only) makes three namespaces: one named `na-ns-PID-named-HEX` with a listener started by
`ip netns exec`, one held only by a process that unshared itself (ctypes), one named and deleted between
resolve() and call_in() (the named ones through support/scratch_netns.py; the held one is what resolve() must find
without a name). The test process itself never changes namespace, and everything it made is removed
afterwards whatever happens: the listeners end when their stdin closes, which also happens when pytest dies.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet
from ansible_collections.netaudit.sockets.plugins.module_utils._netns import calling, resolving
from support.scratch_netns import scratch_namespace, why_unavailable

RUN_DIR = '/run/netns'
# The directory that holds ansible_collections/, so that a child python imports the same code.
COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(resolving.__file__), *(['..'] * 6)))
PREFIX = 'na-ns-'
NAMED_PORT, HELD_PORT, SHORT_LIVED_PORT = 41001, 41002, 41003
# Opens a TCP listener on 0.0.0.0:PORT (after unsharing the network namespace when asked), says so, and
# keeps it until stdin closes.
LISTENER = r'''
import ctypes, socket, sys
if sys.argv[2] == 'unshare' and ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0:
    sys.exit('unshare(CLONE_NEWNET) failed: errno %d' % ctypes.get_errno())
sock = socket.socket()
sock.bind(('0.0.0.0', int(sys.argv[1])))
sock.listen(8)
print('ready', flush=True)
sys.stdin.read()
'''


def own_inode():
    return os.stat('/proc/self/ns/net').st_ino


def comm(pid):
    with open('/proc/%d/comm' % pid) as handle:
        return handle.read().strip()


WHY = 'it creates network namespaces and enters them'


def lab_skip_reason():
    return why_unavailable(WHY, tools=('ip',))


def ip(*args):
    return subprocess.run(('ip',) + args, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)


def remove_leftovers():
    """Namespaces of earlier runs of this file whose test process is dead (the PID is part of the name)."""
    try:
        names = os.listdir(RUN_DIR)
    except OSError:
        return
    for name in names:
        match = re.match(re.escape(PREFIX) + r'(\d+)-', name)
        if match and not os.path.exists('/proc/%s' % match.group(1)):
            ip('netns', 'delete', name)


class Lab(object):
    """What the lab made: namespace names, listener processes; stop() removes all of it."""

    def __init__(self):
        self.tag = '%s%d' % (PREFIX, os.getpid())
        self.scratch = contextlib.ExitStack()     # the named namespaces (support/scratch_netns.py)
        self.processes = []

    def add_namespace(self, suffix):
        name = self.scratch.enter_context(scratch_namespace('%s-%s' % (self.tag, suffix), why=WHY, tools=('ip',)))
        return name

    def start_listener(self, port, prefix=(), mode='plain'):
        process = subprocess.Popen(list(prefix) + [sys.executable, '-c', LISTENER, str(port), mode],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
        self.processes.append(process)
        line = process.stdout.readline()
        if line.strip() != 'ready':
            pytest.fail('the listener on port %d did not start (exit status %s)' % (port, process.poll()))
        return process

    @staticmethod
    def stop_process(process):
        if process.poll() is None:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        process.stdout.close()

    def stop(self):
        for process in self.processes:
            self.stop_process(process)
        self.scratch.close()


@pytest.fixture(scope='module')
def lab():
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    remove_leftovers()
    made = Lab()
    inode_before = own_inode()
    try:
        made.named = made.add_namespace('named')
        made.named_listener = made.start_listener(NAMED_PORT, ('ip', 'netns', 'exec', made.named))
        made.held = made.start_listener(HELD_PORT, mode='unshare')
        made.gone = made.add_namespace('gone')
        made.namespaces, made.problems = resolving.resolve('all')
        made.by_label = dict((namespace.label, namespace) for namespace in made.namespaces)
        yield made
    finally:
        made.stop()
    assert own_inode() == inode_before, 'the test process changed network namespace'


def listeners_in(namespace):
    records = calling.call_in(namespace, inet.dump_inet, 6, socket.AF_INET, _records.ALL_STATES)
    return sorted((r['local_address'], r['local_port'], r['state']) for r in records)


@pytest.mark.root
def test_all_lists_each_namespace_once_with_its_label(lab):
    held_label = 'pid %d (%s)' % (lab.held.pid, comm(lab.held.pid))
    labels = [namespace.label for namespace in lab.namespaces]
    for label in (lab.named, held_label, lab.gone):
        assert labels.count(label) == 1, (label, labels)
    identities = [namespace.identity for namespace in lab.namespaces]
    assert len(identities) == len(set(identities))
    assert lab.by_label[lab.named].path == os.path.join(RUN_DIR, lab.named)
    assert lab.by_label[held_label].path == '/proc/%d/ns/net' % lab.held.pid


@pytest.mark.root
def test_all_leaves_out_the_callers_own_namespace(lab):
    own = os.stat('/proc/self/ns/net')
    assert (own.st_dev, own.st_ino) not in [namespace.identity for namespace in lab.namespaces]
    assert not any(namespace.own for namespace in lab.namespaces)


@pytest.mark.root
def test_call_in_reads_each_namespace_own_sockets(lab):
    held_label = 'pid %d (%s)' % (lab.held.pid, comm(lab.held.pid))
    assert listeners_in(lab.by_label[lab.named]) == [('0.0.0.0', NAMED_PORT, 'LISTEN')]
    assert listeners_in(lab.by_label[held_label]) == [('0.0.0.0', HELD_PORT, 'LISTEN')]


@pytest.mark.root
def test_a_namespace_deleted_after_resolve_is_gone(lab):
    namespace = lab.by_label[lab.gone]
    assert ip('netns', 'delete', lab.gone).returncode == 0
    with pytest.raises(calling.NamespaceGone) as caught:
        listeners_in(namespace)
    assert lab.gone in str(caught.value)
    assert isinstance(caught.value, OSError)


@pytest.mark.root
def test_a_namespace_whose_only_process_exited_is_gone(lab):
    process = lab.start_listener(SHORT_LIVED_PORT, mode='unshare')
    namespaces, _problems = resolving.resolve('/proc/%d/ns/net' % process.pid)
    assert listeners_in(namespaces[0]) == [('0.0.0.0', SHORT_LIVED_PORT, 'LISTEN')]
    lab.stop_process(process)
    with pytest.raises(calling.NamespaceGone):
        listeners_in(namespaces[0])


@pytest.mark.root
def test_a_namespace_by_name_and_by_paths_is_read_once(lab):
    namespaces, problems = resolving.resolve([lab.named, '/proc/%d/ns/net' % lab.named_listener.pid,
                                              os.path.join(RUN_DIR, lab.named)])
    assert [(n.label, n.path) for n in namespaces] == [(lab.named, os.path.join(RUN_DIR, lab.named))]
    assert problems == []


@pytest.mark.root
def test_gather_in_a_namespace_names_the_owner(lab):
    facts = calling.call_in(lab.by_label[lab.named], _gather.gather, tables=['tcp'], processes=True)
    owners = [(r['local_port'], [p['pid'] for p in r['processes']]) for r in facts['sockets']]
    assert owners == [(NAMED_PORT, [lab.named_listener.pid])]


@pytest.mark.root
def test_not_root_other_users_namespaces_are_a_problem_not_an_error(lab):
    # The venv's python lives under root's home, which nobody cannot enter: use the system one.
    python = shutil.which('python3', path='/usr/bin:/bin')
    if not python:
        pytest.skip('needs /usr/bin/python3 to run as nobody')
    code = ('import json; from ansible_collections.netaudit.sockets.plugins.module_utils._netns import resolving; '
            'print(json.dumps(resolving.resolve("all")[1]))')
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_PATH)
    run = subprocess.run([python, '-c', code], user=65534, group=65534, extra_groups=[], env=env, cwd='/',
                         check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert 'not root: the network namespaces of' in run.stdout
    assert 'owned by other users, could not be read' in run.stdout


# ------------------------------------------------------------ resolve without namespaces of our own


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / 'netns'
    path.mkdir()
    return path


def test_nothing_asked_nothing_found(run_dir):
    assert resolving.resolve(None, run_dir=str(run_dir)) == ([], [])
    assert resolving.resolve([], run_dir=str(run_dir)) == ([], [])


@pytest.mark.parametrize('spec, words', [
    ('na-ns-no-such-name', ['no network namespace named "na-ns-no-such-name"']),
    (['na-ns-nope'], ['"na-ns-nope"']),
    ('/run/netns/na-ns-no-such-path', ['/run/netns/na-ns-no-such-path', 'does not exist']),
    ('relative/path', ['"relative/path"', 'absolute path']),
    ('..', ['".."']),
    ('', ["''"]),
    ([3], ['3']),
    (7, ['7']),
])
def test_bad_names_are_value_errors_naming_them(run_dir, spec, words):
    with pytest.raises(ValueError) as caught:
        resolving.resolve(spec, run_dir=str(run_dir))
    for word in words:
        assert word in str(caught.value)


def test_a_file_that_is_no_namespace_is_a_value_error(run_dir):
    (run_dir / 'plain').write_text('')
    with pytest.raises(ValueError, match='plain is not a network namespace file'):
        resolving.resolve('plain', run_dir=str(run_dir))
    with pytest.raises(ValueError, match='is not a network namespace file'):
        resolving.resolve('/etc/hostname', run_dir=str(run_dir))
    with pytest.raises(ValueError, match='is not a network namespace file'):
        resolving.resolve('/proc/self/ns/uts', run_dir=str(run_dir))
    os.mkfifo(str(run_dir / 'fifo'))     # must be refused without being opened: opening a FIFO would block
    with pytest.raises(ValueError, match='fifo is not a network namespace file'):
        resolving.resolve('fifo', run_dir=str(run_dir))


def test_own_namespace_named_explicitly_is_marked_own(run_dir):
    namespaces, problems = resolving.resolve(['/proc/self/ns/net', '/proc/%d/ns/net' % os.getpid()], run_dir=str(run_dir))
    own = os.stat('/proc/self/ns/net')
    assert len(namespaces) == 1 and problems == []
    assert namespaces[0].identity == (own.st_dev, own.st_ino) and namespaces[0].own
    assert namespaces[0].label == 'pid %d (%s)' % (os.getpid(), comm(os.getpid()))


def test_a_name_wins_over_a_path_label(run_dir):
    # A symlink stands in for the bind mount that `ip netns add` makes: both stat as the nsfs file.
    os.symlink('/proc/%d/ns/net' % os.getpid(), str(run_dir / 'mine'))
    namespaces, problems = resolving.resolve(['/proc/self/ns/net', 'mine'], run_dir=str(run_dir))
    assert [(n.label, n.path, n.own) for n in namespaces] == [('mine', str(run_dir / 'mine'), True)]
    assert problems == []


def fake_proc(tmp_path, pids):
    proc = tmp_path / 'proc'
    for pid, target in pids.items():
        (proc / str(pid) / 'ns').mkdir(parents=True)
        os.symlink(target, str(proc / str(pid) / 'ns' / 'net'))
        (proc / str(pid) / 'comm').write_text('proc%d\n' % pid)
    return proc


def test_all_skips_the_own_namespace_and_reports_stale_names_and_unreadable_processes(tmp_path, run_dir, monkeypatch):
    proc = fake_proc(tmp_path, {1: '/proc/self/ns/net', 2: '/proc/self/ns/net', 3: '/proc/self/ns/net'})
    (run_dir / 'stale').write_text('')
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path) == str(proc / '3' / 'ns' / 'net'):
            raise PermissionError(13, 'Permission denied', str(path))
        return real_stat(path, *args, **kwargs)
    monkeypatch.setattr(resolving.os, 'stat', stat)
    namespaces, problems = resolving.resolve('all', proc_root=str(proc), run_dir=str(run_dir))
    assert namespaces == []
    assert len(problems) == 2
    assert str(run_dir / 'stale') in problems[0] and 'skipped' in problems[0]
    assert 'process 3 (proc3)' in problems[1] and 'were not gathered' in problems[1]


def test_all_without_a_run_dir_or_processes_is_empty(tmp_path):
    (tmp_path / 'proc').mkdir()
    assert resolving.resolve('all', proc_root=str(tmp_path / 'proc'), run_dir=str(tmp_path / 'none')) == ([], [])


@pytest.mark.skipif(os.geteuid() == 0, reason='shows what happens without root; this run is root')
def test_without_root_entering_is_refused():
    stat = os.stat('/proc/self/ns/net')
    namespace = resolving.Namespace('own', '/proc/self/ns/net', (stat.st_dev, stat.st_ino))
    with pytest.raises(calling.NamespaceError, match='needs root') as caught:
        calling.call_in(namespace, os.getpid)
    assert caught.value.errno == errno.EPERM
