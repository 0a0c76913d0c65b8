# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: socket inode -> owning processes, from one walk of /proc/PID/fd."""

from __future__ import annotations

import errno
import os

_SOCKET_LINK_PREFIX = 'socket:['
# errno values that mean "the process (or the fd) went away while we looked": not incompleteness.
_VANISHED = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)


def _process_name(pid_dir):
    """The command name: /proc/PID/comm, else the text between the parentheses of /proc/PID/stat.

    Returns None when the process has gone. Undecodable bytes are kept visible as backslash escapes.
    """
    try:
        with open(os.path.join(pid_dir, 'comm'), 'rb') as handle:
            raw = handle.read()
        if raw.endswith(b'\n'):
            raw = raw[:-1]
        return raw.decode('utf-8', 'backslashreplace')
    except OSError:
        pass    # no comm (an old kernel, a copied /proc tree) or the process is gone: stat tells which
    try:
        with open(os.path.join(pid_dir, 'stat'), 'rb') as handle:
            raw = handle.read()
    except OSError as exc:
        if exc.errno in _VANISHED:
            return None
        return '?'
    # The name may itself contain ')' or spaces: it runs from the first '(' to the last ')'.
    start, end = raw.find(b'('), raw.rfind(b')')
    if start < 0 or end < start:
        return '?'
    return raw[start + 1:end].decode('utf-8', 'backslashreplace')


def _hidepid(proc_root, mountinfo='/proc/self/mountinfo'):
    """The hidepid= mount option of proc_root when it hides other users' processes, else None."""
    try:
        with open(mountinfo, 'rb') as handle:
            lines = handle.read().decode('utf-8', 'replace').splitlines()
    except OSError:
        return None
    target = os.path.realpath(proc_root)
    found = None
    for line in lines:     # the last mount on the path is the one in effect
        fields = line.split()
        if len(fields) < 10 or fields[4] != target or ' - proc ' not in line:
            continue
        found = None
        for option in line.split(' - ', 1)[1].split()[-1].split(','):
            if option.startswith('hidepid=') and option[8:] not in ('0', 'off'):
                found = option
    return found


def _fd_of(match):
    return match[1]


def _scan_fds(fd_dir, wanted):
    """[(inode, fd)] of the wanted sockets among one process's descriptors; raises OSError from scandir."""
    found = []
    with os.scandir(fd_dir) as entries:
        for entry in entries:
            try:
                target = os.readlink(entry.path)
            except OSError as exc:
                if exc.errno in _VANISHED:
                    continue    # the fd was closed after the directory was read
                raise
            if target.startswith(_SOCKET_LINK_PREFIX):
                try:
                    inode = int(target[8:-1])
                except ValueError:
                    continue
                if inode in wanted:
                    found.append((inode, int(entry.name)))
    return found


def find_owners(inodes, proc_root='/proc'):
    """inodes: a set of ints. Returns (owners, problems): owners = {inode: [{'name': str, 'pid': int, 'fd': int}, ...]}
    sorted by pid then fd; problems = list of human-readable strings, e.g. 'not root: the file descriptors of 37
    processes owned by other users could not be read (permission denied), so their sockets show no owner'.
    Processes that vanish during the walk are skipped silently (that is not incompleteness)."""
    wanted = set(inode for inode in inodes if inode)
    if not wanted:
        return {}, []
    try:
        # In pid order, each process's fds in fd order: every inode's owners come out sorted without a sort of
        # them all (at 100k sockets that sort and its keys cost 15 MB).
        pid_entries = sorted((entry.name for entry in os.scandir(proc_root) if entry.name.isdigit()), key=int)
    except OSError as exc:
        raise ValueError('cannot list the process directory %s: %s' % (proc_root, exc.strerror or exc)) from exc
    if not pid_entries:
        # A /proc tree without processes (a capture of /proc/net alone): not a machine where nothing owns a socket.
        return {}, ['%s holds no process directories, so no socket shows an owner' % proc_root]
    owners = {}
    denied = 0
    failures = []
    for pid_name in pid_entries:
        pid_dir = os.path.join(proc_root, pid_name)
        try:
            matches = _scan_fds(os.path.join(pid_dir, 'fd'), wanted)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                denied += 1
            elif exc.errno not in _VANISHED:
                failures.append('the file descriptors of process %s in %s could not be read (%s), so its sockets '
                                'show no owner' % (pid_name, proc_root, exc.strerror or exc))
            continue
        if not matches:
            continue
        name = _process_name(pid_dir)
        if name is None:
            continue
        pid = int(pid_name)
        matches.sort(key=_fd_of)
        for inode, fd in matches:
            owners.setdefault(inode, []).append({'name': name, 'pid': pid, 'fd': fd})
    return owners, _problems(proc_root, denied) + failures


def _processes(count):
    return '1 process' if count == 1 else '%d processes' % count


def _problems(proc_root, denied):
    problems = []
    not_root = os.geteuid() != 0
    if denied:
        if not_root:
            problems.append('not root: the file descriptors of %s owned by other users could not be read '
                            '(permission denied), so their sockets show no owner' % _processes(denied))
        else:
            problems.append('the file descriptors of %s could not be read although running as root '
                            '(permission denied: a restricted %s, no CAP_SYS_PTRACE, or a process changing its '
                            'credentials), so their sockets show no owner' % (_processes(denied), proc_root))
    if not_root:
        hidepid = _hidepid(proc_root)
        if hidepid:
            problems.append('%s is mounted with %s: the processes of other users are invisible, so their sockets '
                            'show no owner' % (proc_root, hidepid))
    return problems
