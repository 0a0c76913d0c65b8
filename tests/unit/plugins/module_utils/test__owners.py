# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: socket owners from a fake /proc tree and from this process."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _owners


def make_process(root, pid, fds, comm=None, stat_name=None):
    """A /proc/PID directory: fd/N symlinks to the given targets, and comm and/or stat files."""
    pid_dir = root / str(pid)
    (pid_dir / 'fd').mkdir(parents=True)
    for fd, target in fds.items():
        os.symlink(target, str(pid_dir / 'fd' / str(fd)))
    if comm is not None:
        (pid_dir / 'comm').write_bytes(comm)
    if stat_name is not None:
        (pid_dir / 'stat').write_bytes(b'%d (%s) S 1 1 1 0 -1' % (pid, stat_name))
    return pid_dir


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / 'proc'
    root.mkdir()
    make_process(root, 100, {3: 'socket:[1001]', 4: 'socket:[1002]', 5: '/dev/null', 6: 'socket:[9999]',
                             7: 'pipe:[1001]', 8: 'anon_inode:[eventpoll]'}, comm=b'sshd\n')
    make_process(root, 1000, {10: 'socket:[1001]', 9: 'socket:[1001]'}, comm=b'nginx\n')
    make_process(root, 200, {0: 'socket:[1003]'}, stat_name=b'we ird) (name')
    make_process(root, 250, {1: 'socket:[1003]'}, comm=b'caf\xe9\n')
    os.symlink('100', str(root / 'self'))
    (root / 'net').mkdir()
    (root / 'sys').mkdir()
    return root


def owners_as_tuples(owners):
    return dict((inode, [(o['name'], o['pid'], o['fd']) for o in entries]) for inode, entries in owners.items())


def test_owners_are_every_process_sorted_by_pid_then_fd(proc):
    owners, problems = _owners.find_owners({1001, 1002, 1003}, str(proc))
    assert owners_as_tuples(owners) == {
        1001: [('sshd', 100, 3), ('nginx', 1000, 9), ('nginx', 1000, 10)],
        1002: [('sshd', 100, 4)],
        1003: [('we ird) (name', 200, 0), ('caf\\xe9', 250, 1)],
    }
    assert problems == []


def test_only_wanted_inodes_and_never_inode_zero(proc):
    make_process(proc, 300, {3: 'socket:[0]'}, comm=b'x\n')
    owners, problems = _owners.find_owners({1002, 0, 424242}, str(proc))
    assert owners_as_tuples(owners) == {1002: [('sshd', 100, 4)]}
    assert _owners.find_owners({0}, str(proc)) == ({}, [])


def test_empty_set_skips_the_walk_entirely(tmp_path):
    assert _owners.find_owners(set(), str(tmp_path / 'does-not-exist')) == ({}, [])


def test_missing_proc_root_names_the_path(tmp_path):
    with pytest.raises(ValueError, match='does-not-exist'):
        _owners.find_owners({1}, str(tmp_path / 'does-not-exist'))


def test_a_tree_without_processes_says_no_owner_can_be_known(tmp_path):
    """A copy of /proc/net alone (what proc_root often points at) has no /proc/PID: owners are unknown, not absent."""
    root = tmp_path / 'proc'
    (root / 'net').mkdir(parents=True)
    (root / 'self').mkdir()
    owners, problems = _owners.find_owners({12345}, str(root))
    assert owners == {}
    assert problems == ['%s holds no process directories, so no socket shows an owner' % root]


def test_vanished_processes_are_skipped_silently(proc):
    make_process(proc, 400, {3: 'socket:[1002]'})               # fds seen, then comm and stat gone
    (proc / '500').mkdir()                                          # a process that left before fd/ was read
    owners, problems = _owners.find_owners({1002}, str(proc))
    assert owners_as_tuples(owners) == {1002: [('sshd', 100, 4)]}
    assert problems == []


def test_fd_closed_during_the_walk_is_skipped(proc, monkeypatch):
    real_readlink = os.readlink

    def flaky_readlink(path, *args, **kwargs):
        if path.endswith(os.path.join('100', 'fd', '3')):
            raise FileNotFoundError(errno.ENOENT, 'gone', path)
        return real_readlink(path, *args, **kwargs)
    monkeypatch.setattr(_owners.os, 'readlink', flaky_readlink)
    owners, problems = _owners.find_owners({1001}, str(proc))
    assert owners_as_tuples(owners) == {1001: [('nginx', 1000, 9), ('nginx', 1000, 10)]}
    assert problems == []


def deny_fd_dir_of(monkeypatch, pid_dir, error=errno.EACCES):
    """Make PID/fd unreadable: chmod for an unprivileged run, and a refusing scandir as root ignores modes."""
    fd_dir = str(pid_dir / 'fd')
    os.chmod(fd_dir, 0)
    real_scandir = os.scandir

    def refusing_scandir(path='.'):
        if str(path) == fd_dir:
            raise OSError(error, os.strerror(error), fd_dir)
        return real_scandir(path)
    monkeypatch.setattr(_owners.os, 'scandir', refusing_scandir)


@pytest.mark.parametrize('euid, words', [
    (1000, 'not root: the file descriptors of 1 process owned by other users could not be read'),
    (0, 'although running as root'),
])
def test_unreadable_fd_dir_is_a_problem(proc, monkeypatch, euid, words):
    secret = make_process(proc, 600, {3: 'socket:[1002]'}, comm=b'secret\n')
    deny_fd_dir_of(monkeypatch, secret)
    monkeypatch.setattr(_owners.os, 'geteuid', lambda: euid)
    monkeypatch.setattr(_owners, '_hidepid', lambda proc_root: None)
    try:
        owners, problems = _owners.find_owners({1002}, str(proc))
    finally:
        os.chmod(str(secret / 'fd'), 0o755)
    assert owners_as_tuples(owners) == {1002: [('sshd', 100, 4)]}
    assert len(problems) == 1 and words in problems[0] and 'show no owner' in problems[0]


def test_problem_counts_processes_in_plural(proc, monkeypatch):
    for pid in (601, 602):
        deny_fd_dir_of(monkeypatch, make_process(proc, pid, {3: 'socket:[1002]'}, comm=b'x\n'))
    monkeypatch.setattr(_owners.os, 'geteuid', lambda: 1000)
    monkeypatch.setattr(_owners, '_hidepid', lambda proc_root: None)
    try:
        _owners_found, problems = _owners.find_owners({1002}, str(proc))
    finally:
        for pid in (601, 602):
            os.chmod(str(proc / str(pid) / 'fd'), 0o755)
    assert problems and 'of 2 processes owned by other users' in problems[0]


def test_other_read_errors_name_the_process(proc, monkeypatch):
    broken = make_process(proc, 700, {3: 'socket:[1002]'}, comm=b'broken\n')
    deny_fd_dir_of(monkeypatch, broken, errno.EIO)
    try:
        owners, problems = _owners.find_owners({1002}, str(proc))
    finally:
        os.chmod(str(broken / 'fd'), 0o755)
    assert owners_as_tuples(owners) == {1002: [('sshd', 100, 4)]}
    assert len(problems) == 1 and 'process 700' in problems[0] and os.strerror(errno.EIO) in problems[0]


@pytest.mark.parametrize('options, expected', [
    ('rw,hidepid=2', 'hidepid=2'),
    ('rw,hidepid=invisible,gid=4', 'hidepid=invisible'),
    ('rw,hidepid=0', None),
    ('rw', None),
])
def test_hidepid_is_read_from_mountinfo(tmp_path, options, expected):
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text('22 27 0:21 / /proc rw,relatime shared:12 - proc proc %s\n'
                         '23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n' % options)
    assert _owners._hidepid('/proc', str(mountinfo)) == expected
    assert _owners._hidepid('/elsewhere', str(mountinfo)) is None


def test_hidepid_is_reported_when_not_root(proc, monkeypatch):
    monkeypatch.setattr(_owners.os, 'geteuid', lambda: 1000)
    monkeypatch.setattr(_owners, '_hidepid', lambda proc_root: 'hidepid=2')
    owners, problems = _owners.find_owners({1002}, str(proc))
    assert owners and len(problems) == 1 and 'hidepid=2' in problems[0]


def test_this_process_owns_its_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        inode = os.fstat(sock.fileno()).st_ino
        owners, _problems = _owners.find_owners({inode})
        with open('/proc/self/comm') as handle:
            name = handle.read().rstrip('\n')
        assert owners_as_tuples(owners) == {inode: [(name, os.getpid(), sock.fileno())]}
