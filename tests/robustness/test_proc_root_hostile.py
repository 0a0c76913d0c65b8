# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile proc_root trees: FIFOs, /dev/zero, sparse 3 GB files, symbolic link loops and missing parts.

Each case runs gather() in a child process of its own with a 5 s limit, and measures the child's peak memory
(ru_maxrss from wait4, taken by this process, not reported by the child). Each must end in time, within bounded
memory, with a clear error naming the path or with facts that are incomplete and say why."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather as _gather_module
from support.natest import run_adhoc
from support.procnet_trees import PROCESSES, tree_with_processes

# The collection this test imported (the child imports the same one).
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(_gather_module.__file__), *[os.pardir] * 5))
TIME_LIMIT = 5.0
MEMORY_LIMIT_KIB = 150 * 1024
SPARSE = 3 * 1024 ** 3
_CHILD = '''
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
try:
    facts = _gather.gather(tables=['tcp', 'udp'], proc_root=sys.argv[2], processes=True, summary=True)
    print(json.dumps({'facts': facts}))
except _gather.GatherError as exc:
    print(json.dumps({'error': str(exc)}))
'''
# The pid of the hand-written tree's process that owns a socket (its comm is read).
OWNER_PID = sorted(pid for pid, (_name, fds) in PROCESSES.items() if any(fds.values()))[0]


def run_gather(root):
    """(outcome dict, seconds, peak KiB) of gather(proc_root=root) in a child; a child that overruns is killed and
    the test fails, naming the case."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, '-c', _CHILD, COLLECTIONS, root], stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            elapsed = time.monotonic() - started
            if pid:
                break
            if elapsed > TIME_LIMIT:
                child.kill()
                os.wait4(child.pid, 0)
                child.returncode = -9
                pytest.fail('gather(proc_root=%s) did not end within %.0f s' % (root, TIME_LIMIT))
            time.sleep(0.01)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors='replace')
        assert child.returncode == 0, 'gather(proc_root=%s) failed: %s' % (root, stderr[-3000:])
        return json.loads(out.read()), elapsed, usage.ru_maxrss


def fifo(path):
    os.unlink(path) if os.path.lexists(path) else None
    os.mkfifo(path)


def symlink(target, path):
    os.unlink(path) if os.path.lexists(path) else None
    os.symlink(target, path)


def sparse(path):
    os.unlink(path) if os.path.lexists(path) else None
    with open(path, 'wb') as handle:
        handle.truncate(SPARSE)


# (case, how to spoil a copy of the hand-written tree with processes, what the outcome must say)
CASES = [
    ('fifo net/tcp', lambda root: fifo(os.path.join(root, 'net', 'tcp')), ('net/tcp', 'FIFO')),
    ('fifo net/sockstat', lambda root: fifo(os.path.join(root, 'net', 'sockstat')), ('net/sockstat', 'FIFO')),
    ('fifo ip_local_port_range', lambda root: fifo(os.path.join(root, 'sys', 'net', 'ipv4', 'ip_local_port_range')), None),
    ('fifo PID/comm', lambda root: fifo(os.path.join(root, str(OWNER_PID), 'comm')), None),
    ('net/tcp -> /dev/zero', lambda root: symlink('/dev/zero', os.path.join(root, 'net', 'tcp')), ('net/tcp', 'character device')),
    ('sparse 3 GB net/tcp', lambda root: sparse(os.path.join(root, 'net', 'tcp')), ('net/tcp', 'larger than')),
    ('sparse 3 GB PID/comm', lambda root: sparse(os.path.join(root, str(OWNER_PID), 'comm')), None),
    ('sparse 3 GB net/snmp', lambda root: sparse(os.path.join(root, 'net', 'snmp')), ('net/snmp', 'larger than')),
    ('net/udp symbolic link loop', lambda root: symlink('udp', os.path.join(root, 'net', 'udp')), ('net/udp', 'symbolic link loop')),
    ('net/udp6 -> a directory', lambda root: symlink('.', os.path.join(root, 'net', 'udp6')), ('net/udp6', 'directory')),
]


@pytest.mark.parametrize('case, spoil, said', CASES, ids=[case[0] for case in CASES])
def test_a_spoiled_file_gives_incomplete_facts_in_time(tmp_path, case, spoil, said):
    root = tree_with_processes(tmp_path)
    spoil(root)
    outcome, elapsed, peak = run_gather(root)
    assert elapsed < TIME_LIMIT and peak < MEMORY_LIMIT_KIB, (case, elapsed, peak)
    assert 'facts' in outcome, outcome
    facts = outcome['facts']
    text = json.dumps(facts)
    if said is not None:
        path, words = said
        assert os.path.join(root, path) in text and words in text, (case, facts['socket_meta']['incomplete_reasons'])
    if 'tcp' in case or 'udp' in case:
        assert facts['socket_meta']['complete'] is False
    if 'ip_local_port_range' in case:
        assert facts['socket_meta']['ephemeral_range'] is None
    if 'comm' in case:
        # The owner is still found, under a name that says its comm could not be read, or is reported unknown.
        owned = [record for record in facts['sockets'] if any(p['pid'] == OWNER_PID for p in record['processes'])]
        assert owned or facts['socket_meta']['complete'] is False


def _loop(tmp_path):
    path = str(tmp_path / 'loop')
    os.symlink(path, path)
    return path


def _file(tmp_path):
    path = tmp_path / 'file'
    path.write_text('not a tree\n')
    return str(path)


def _fifo_root(tmp_path):
    path = str(tmp_path / 'fifo')
    os.mkfifo(path)
    return path


def _no_net(tmp_path):
    root = tree_with_processes(tmp_path)
    os.rename(os.path.join(root, 'net'), os.path.join(root, 'moved'))
    return root


def _net_fifo(tmp_path):
    root = tree_with_processes(tmp_path)
    os.rename(os.path.join(root, 'net'), os.path.join(root, 'moved'))
    os.mkfifo(os.path.join(root, 'net'))
    return root


ROOTS = [
    ('missing', lambda tmp_path: str(tmp_path / 'nonexistent'), 'does not exist'),
    ('regular file', _file, 'is a regular file, not a directory'),
    ('FIFO', _fifo_root, 'is a FIFO (named pipe), not a directory'),
    ('symbolic link loop', _loop, 'is a symbolic link loop'),
    ('no net/', _no_net, 'has no usable net/ directory'),
    ('net/ is a FIFO', _net_fifo, 'has no usable net/ directory'),
]


@pytest.mark.parametrize('case, make, words', ROOTS, ids=[case[0] for case in ROOTS])
def test_an_unusable_proc_root_is_a_clear_error(tmp_path, case, make, words):
    root = make(tmp_path)
    outcome, elapsed, peak = run_gather(root)
    assert elapsed < TIME_LIMIT and peak < MEMORY_LIMIT_KIB, (case, elapsed, peak)
    assert outcome.get('error', '').startswith('proc_root "%s" ' % root) and words in outcome['error'], outcome


@pytest.mark.parametrize('case', ['sparse net/tcp', 'missing proc_root'])
def test_the_module_says_so_through_ansible(tmp_path, case):
    """The module run by ansible: a spoiled tree gives facts that say why; a missing proc_root fails with a message
    naming it (never a traceback)."""
    if case == 'sparse net/tcp':
        root = tree_with_processes(tmp_path)
        sparse(os.path.join(root, 'net', 'tcp'))
    else:
        root = str(tmp_path / 'nonexistent')
    started = time.monotonic()
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'proc_root=%s' % root, extra=['-c', 'local'], timeout=120)
    result = results['localhost']
    assert time.monotonic() - started < 60
    if case == 'missing proc_root':
        assert proc.returncode != 0 and result['msg'] == 'proc_root "%s" does not exist' % root, result
        assert 'exception' not in result and 'Traceback' not in json.dumps(result)
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        meta = result['ansible_facts']['socket_meta']
        assert meta['complete'] is False
        assert any(os.path.join(root, 'net', 'tcp') in reason and 'larger than' in reason for reason in meta['incomplete_reasons'])


def test_children_rusage_is_per_child():
    """The measure itself: wait4's ru_maxrss is the child's own peak (a child that allocates 200 MiB shows it)."""
    child = subprocess.Popen([sys.executable, '-c', 'x = bytearray(200 * 1024 * 1024); x[::4096] = b"1" * len(x[::4096])'])
    _pid, _status, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    assert usage.ru_maxrss > MEMORY_LIMIT_KIB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < usage.ru_maxrss * 4
