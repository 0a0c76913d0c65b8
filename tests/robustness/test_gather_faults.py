# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): gather runs that meet faults. Each must succeed (or fail as designed) and say what it lost.

- processes and sockets that vanish during the owner walk: real ones (a process forking children that open sockets
  and exit while gathers run), and a deterministic one (the walk told that a process, an fd, a name are gone);
- a network namespace deleted (or a process holding one killed) between its resolution and its entry;
- netlink refused with EPERM, as a seccomp filter would: the /proc fallback, compared with the real `ss -tuan`
  in a quiet namespace;
- a gather as uid 65534 while root processes hold sockets: their owners are unreadable;
- tables this kernel has no sock_diag for (checked here with a netlink request of our own).
"""

from __future__ import annotations

import collections
import errno
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _owners
from ansible_collections.netaudit.sockets.plugins.module_utils._records import FIELDS

from support.natest import COLLECTIONS, parse_ss
from support.scratch_netns import run_helper, scratch_namespace, unshared

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, 'fault_helper.py')
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason='needs root (other users\' processes, namespaces, setuid)')


def _listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(4)
    return sock


def _consistent(facts):
    """Problems with the shape of a gather's facts: every key, owners sorted and unique, count and meta agreeing."""
    problems = []
    meta = facts['socket_meta']
    if meta['count'] != len(facts['sockets']):
        problems.append('count %s != %d records' % (meta['count'], len(facts['sockets'])))
    if meta['complete'] != (not meta['incomplete_reasons']):
        problems.append('complete %s with reasons %s' % (meta['complete'], meta['incomplete_reasons']))
    for record in facts['sockets']:
        missing = [key for key in FIELDS if key not in record]
        owners = [(p['pid'], p['fd']) for p in record['processes']]
        if missing:
            problems.append('record %s lacks %s' % (record.get('inode'), missing))
        if owners != sorted(set(owners)) or not all(isinstance(p['name'], str) and p['name'] for p in record['processes']):
            problems.append('record %s has owners %s' % (record['inode'], record['processes']))
    return problems


# --- processes that vanish during the walk ---------------------------------------------------------------------

@needs_root
def test_owner_walk_while_processes_come_and_go():
    """Gathers run again and again while a process forks children that open sockets and exit at once. Every run
    succeeds with consistent facts; the two long-lived listeners (ours and the forking process's) are always there
    with their owners; the children's comings and goings add no incomplete reason to what a quiet run reports."""
    mine = _listener()
    # What this machine hides anyway (a process whose descriptors even root cannot read, as in a sandbox): the
    # churn must add nothing to it.
    baseline = set(_gather.gather(tables=['tcp', 'unix', 'udp'], processes=True, summary=False)['socket_meta']['incomplete_reasons'])
    churn = subprocess.Popen([sys.executable, HELPER, 'churn', '4'], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=COLLECTIONS))
    try:
        theirs = json.loads(churn.stdout.readline())
        runs, problems, started = 0, [], time.monotonic()
        while time.monotonic() - started < 3.0 and churn.poll() is None:
            facts = _gather.gather(tables=['tcp', 'unix', 'udp'], processes=True, summary=False)
            runs += 1
            problems.extend(_consistent(facts))
            by_inode = dict((r['inode'], r) for r in facts['sockets'])
            for who, inode, pid, fd in (('ours', os.fstat(mine.fileno()).st_ino, os.getpid(), mine.fileno()),
                                        ('theirs', theirs['inode'], theirs['pid'], theirs['fd'])):
                record = by_inode.get(inode)
                if record is None or {'pid': pid, 'fd': fd} not in [dict(pid=p['pid'], fd=p['fd']) for p in record['processes']]:
                    problems.append('run %d: the %s listener (inode %s) is missing or lacks its owner: %s' % (runs, who, inode, record))
            added = set(facts['socket_meta']['incomplete_reasons']) - baseline
            if added:
                problems.append('run %d: incomplete because of the churn: %s' % (runs, sorted(added)))
        summary = json.loads(churn.stdout.readline() or '{}')
    finally:
        churn.kill()
        churn.wait()
        mine.close()
    assert runs >= 3, 'only %d gathers ran' % runs
    assert summary.get('forked', 0) > 50, 'the helper did not churn: %s' % summary
    assert not problems, '\n'.join(problems[:20])


_UNOWNED = re.compile(r'(\d+) listening sockets? shows? no owner \(owner_unknown\)')


def _unowned_count(reasons):
    return sum(int(_UNOWNED.match(reason).group(1)) for reason in reasons if _UNOWNED.match(reason))


HOLD = 'import os, socket, sys, time\ns = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)\n' \
       'print(os.fstat(s.fileno()).st_ino, s.fileno(), flush=True)\nsys.stdin.read()\n'


@needs_root
def test_owner_walk_when_a_process_an_fd_and_a_name_vanish(monkeypatch):
    """Deterministic: four processes hold a listener each; to the walk, one is gone between the listing of /proc and
    its fd directory, one's socket fd is closed before readlink, one has exited before its name is read. Their sockets
    are still listed, without owners, and no incomplete reason is added (vanishing is not incompleteness, by design:
    _owners.py); the fourth keeps its owner."""
    procs = [subprocess.Popen([sys.executable, '-c', HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _i in range(4)]
    try:
        baseline = _gather.gather(tables=['tcp'], processes=True, summary=False)['socket_meta']['incomplete_reasons']
        held = [tuple(int(v) for v in proc.stdout.readline().split()) for proc in procs]
        gone_dir, gone_fd, gone_name, kept = ['/proc/%d' % proc.pid for proc in procs]
        real_scandir, real_readlink, real_read = os.scandir, os.readlink, _owners._bounded.read_bytes

        def scandir(path='.'):
            if str(path) == gone_dir + '/fd':
                raise FileNotFoundError(errno.ENOENT, 'No such file or directory', str(path))
            return real_scandir(path)

        def readlink(path, *args, **kwargs):
            if str(path) == '%s/fd/%d' % (gone_fd, held[1][1]):
                raise FileNotFoundError(errno.ENOENT, 'No such file or directory', str(path))
            return real_readlink(path, *args, **kwargs)

        def reader(path, *args, **kwargs):
            if str(path).startswith(gone_name + '/'):
                raise _owners._bounded.BoundedReadError(str(path), 'does not exist (no such process)', errno.ESRCH)
            return real_read(path, *args, **kwargs)

        monkeypatch.setattr(_owners.os, 'scandir', scandir)
        monkeypatch.setattr(_owners.os, 'readlink', readlink)
        monkeypatch.setattr(_owners._bounded, 'read_bytes', reader)
        facts = _gather.gather(tables=['tcp'], processes=True, summary=False)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    by_inode = dict((r['inode'], r) for r in facts['sockets'])
    owners = [[(p['pid'], p['fd']) for p in by_inode[inode]['processes']] if inode in by_inode else None for inode, _fd in held]
    assert owners[:3] == [[], [], []], owners
    assert owners[3] == [(procs[3].pid, held[3][1])], owners
    # The three sockets are still open, and no look found who holds them: their owner is unknown, and the facts
    # say so (the count of unowned listeners grows by three; nothing else changes).
    reasons = facts['socket_meta']['incomplete_reasons']
    assert [r for r in reasons if not _UNOWNED.match(r)] == [r for r in baseline if not _UNOWNED.match(r)], reasons
    assert _unowned_count(reasons) == _unowned_count(baseline) + 3, (reasons, baseline)
    assert [by_inode[inode]['owner_unknown'] for inode, _fd in held[:3]] in (['exited'] * 3, ['not_visible'] * 3)
    assert by_inode[held[3][0]]['owner_unknown'] is None
    assert not _consistent(facts)


# --- a namespace that goes away between resolution and entry -----------------------------------------------------

def _netns_module():
    from ansible_collections.netaudit.sockets.plugins.module_utils._netns import resolving
    return resolving


def test_namespace_deleted_between_resolution_and_entry(monkeypatch):
    """`ip netns delete` runs right after netns= was resolved: the run succeeds, complete false, and a reason names
    the namespace; no record claims to come from it."""
    resolving = _netns_module()
    with scratch_namespace('na-rb-gone', 'it deletes a namespace in the middle of a gather') as name:
        real_resolve = resolving.resolve

        def resolve_then_delete(*args, **kwargs):
            found = real_resolve(*args, **kwargs)
            subprocess.run(['ip', 'netns', 'delete', name], check=True)
            return found

        monkeypatch.setattr(resolving, 'resolve', resolve_then_delete)
        facts = _gather.gather(tables=['tcp', 'udp'], netns=name, summary=False)
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert any(name in reason for reason in meta['incomplete_reasons']), meta['incomplete_reasons']
    assert name not in meta['netns'] and not [r for r in facts['sockets'] if r['netns'] == name]
    assert not _consistent(facts)


@needs_root
def test_namespace_of_a_process_that_exits_between_resolution_and_entry(monkeypatch):
    """netns=/proc/PID/ns/net of a process (alone in its namespace) killed after resolution: the same outcome."""
    resolving = _netns_module()
    holder = subprocess.Popen(unshared(['sleep', '60']))
    try:
        path = '/proc/%d/ns/net' % holder.pid
        for _i in range(100):
            if os.path.exists(path) and os.stat(path).st_ino != os.stat('/proc/self/ns/net').st_ino:
                break
            time.sleep(0.02)
        real_resolve = resolving.resolve

        def resolve_then_kill(*args, **kwargs):
            found = real_resolve(*args, **kwargs)
            holder.kill()
            holder.wait()
            return found

        monkeypatch.setattr(resolving, 'resolve', resolve_then_kill)
        facts = _gather.gather(tables=['tcp'], netns=path, summary=False)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert any(str(holder.pid) in reason and 'vanished' in reason for reason in meta['incomplete_reasons']), meta['incomplete_reasons']
    assert meta['netns'] == [] and not [r for r in facts['sockets'] if r['netns']]


# --- netlink refused -----------------------------------------------------------------------------------------------

def _endpoint(address):
    return '*' if address in ('*', '0.0.0.0', '::', '') else address


def _tuples(records):
    return collections.Counter((r['netid'], r['state'], _endpoint(r['local_address']), r['local_port'],
                                _endpoint(r['peer_address']), r['peer_port']) for r in records)


def test_netlink_refused_falls_back_to_proc_and_agrees_with_ss():
    """AF_NETLINK refused with EPERM (seccomp-like): backend auto reads /proc, says so in incomplete_reasons, and lists
    the sockets `ss -tuan` shows at the same moment in a namespace where nothing else runs; backend netlink fails
    with SockDiagError naming the refusal."""
    with scratch_namespace('na-rb-nl', 'it compares with ss in a quiet namespace') as name:
        subprocess.run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], check=True)
        answer = run_helper(name, HELPER, 'refused', timeout=120)
    facts, meta = answer['auto'], answer['auto']['socket_meta']
    assert meta['backend'] == 'proc'
    assert meta['complete'] is False
    assert 'netlink' in meta['incomplete_reasons'][0] and 'proc' in meta['incomplete_reasons'][0], meta['incomplete_reasons']
    assert 'not permitted' in meta['incomplete_reasons'][0].lower(), meta['incomplete_reasons']
    ours, theirs = _tuples(facts['sockets']), _tuples(parse_ss(answer['ss']))
    assert ours == theirs, 'only ours: %s\nonly ss: %s' % (dict(ours - theirs), dict(theirs - ours))
    assert sum(ours.values()) >= answer['held'], 'the helper held %d sockets' % answer['held']
    assert answer['netlink'].startswith('SockDiagError') and 'not permitted' in answer['netlink'], answer['netlink']


# --- owners that cannot be read -----------------------------------------------------------------------------------

def _as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


@needs_root
def test_gather_as_nobody_while_root_holds_sockets():
    """Run as uid 65534: root's listener is listed, without owner; the child's own listener has its owner; the facts
    are incomplete, and a reason says owners could not be read."""
    mine = _listener()
    try:
        # /usr/bin/python3: the project's venv may not be readable by nobody, and module_utils need only the stdlib
        run = subprocess.run(['/usr/bin/python3', HELPER, 'as-nobody'], capture_output=True, text=True, timeout=120, check=False,
                             env=dict(os.environ, PYTHONPATH=COLLECTIONS), preexec_fn=_as_nobody)  # pylint: disable=subprocess-popen-preexec-fn
        assert run.returncode == 0, run.stderr[-3000:]
        answer = json.loads(run.stdout)
        root_inode = os.fstat(mine.fileno()).st_ino
    finally:
        mine.close()
    assert answer['uid'] == 65534
    by_inode = dict((r['inode'], r) for r in answer['facts']['sockets'])
    assert root_inode in by_inode, 'root\'s listener is not listed'
    assert by_inode[root_inode]['processes'] == []
    mine = by_inode[answer['inode']]['processes']
    assert mine == [{'name': mine[0]['name'], 'pid': answer['pid'], 'fd': answer['fd']}]
    meta = answer['facts']['socket_meta']
    assert meta['complete'] is False
    assert any('not root' in reason or 'permission denied' in reason for reason in meta['incomplete_reasons']), meta['incomplete_reasons']
    assert not _consistent(answer['facts'])


# --- tables the kernel cannot dump --------------------------------------------------------------------------------

def kernel_has_diag(protocol, family=socket.AF_INET):
    """Whether sock_diag answers a dump of this inet protocol: our own request, not the project's reader."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4) as sock:
        body = struct.pack('=BBBBI48x', family, protocol, 0, 0, 0xfff)
        sock.sendto(struct.pack('=IHHII', 16 + len(body), 20, 0x301, 1, 0) + body, (0, 0))
        data = sock.recv(65536)
    length, kind = struct.unpack_from('=IH', data)
    if kind in (2, 3) and length >= 20:     # NLMSG_ERROR, or NLMSG_DONE of a dump that failed: -errno
        return struct.unpack_from('=i', data, 16)[0] >= 0
    return True


def test_tables_the_kernel_lacks_are_reported_not_fatal():
    """A table the kernel lacks makes the facts incomplete with a reason naming it; named one by one, it
    is also listed in unsupported_tables (docs/socket_facts.md). raw, which this kernel
    may lack too, is read from /proc like ss does (a reason says what /proc cannot give)."""
    try:
        missing = [name for name, protocol in (('sctp', 132), ('dccp', 33)) if not kernel_has_diag(protocol)]
    except OSError as exc:
        pytest.skip('no netlink sock_diag here to ask: %s' % exc)
    if not missing:
        pytest.skip('this kernel has sock_diag for sctp and dccp: nothing is missing')
    named = _gather.gather(tables=['raw'] + missing, processes=False, summary=False)
    meta = named['socket_meta']
    for table in missing:
        assert table in meta['unsupported_tables'], meta
        assert any('table %s' % table in reason for reason in meta['incomplete_reasons']), meta['incomplete_reasons']
    assert meta['complete'] is False
    if not kernel_has_diag(255):
        assert meta['complete'] is False and any('raw' in reason for reason in meta['incomplete_reasons']), meta
    grouped = _gather.gather(tables=['inet'], processes=False, summary=False)['socket_meta']
    assert grouped['complete'] is False
    for table in missing:
        assert any('table %s' % table in reason for reason in grouped['incomplete_reasons']), grouped['incomplete_reasons']
    assert not _consistent(named)
