# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: socket inode -> owning processes, from a walk of /proc/PID/fd, and whether that walk
can see every process."""

from __future__ import annotations

import errno
import os
import time
from typing import Any, Dict, Iterable, List

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded

# One process that holds a socket, as a record's `processes` lists it: {'name': str, 'pid': int, 'fd': int}.
Owner = Dict[str, Any]
# socket inode -> the processes that hold it, sorted by pid then fd.
Owners = Dict[int, List[Owner]]

_SOCKET_LINK_PREFIX = 'socket:['
# errno values that mean "the process (or the fd) went away while we looked": not incompleteness.
_VANISHED = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)
# The initial PID namespace has a fixed inode on every kernel (PROC_PID_INIT_INO, 0xEFFFFFFC): a /proc whose pid 1
# is in another one shows a container's processes only. Tests that create a PID namespace name theirs here.
INITIAL_PID_NAMESPACE = 0xEFFFFFFC
# The second look at listening sockets left without an owner (a process that forks and exits keeps escaping a
# walk that lists the pids first): this many more looks, this far apart, within a budget of this many times the
# first walk's duration (at least LOOK_AGAIN_MIN_BUDGET seconds, at most LOOK_AGAIN_MAX_BUDGET).
LOOK_AGAIN_LOOKS = 2
LOOK_AGAIN_PAUSE = 0.02
LOOK_AGAIN_BUDGET_FACTOR = 2.0
LOOK_AGAIN_MIN_BUDGET = 0.05
LOOK_AGAIN_MAX_BUDGET = 2.0


def _process_name(pid_dir: str) -> str | None:
    """The command name: /proc/PID/comm, else the text between the parentheses of /proc/PID/stat.

    Returns None when the process has gone. Undecodable bytes are kept visible as backslash escapes. Both files are
    read through the bounded reader: in a foreign proc_root either may be a FIFO, a device or a huge file.
    """
    try:
        raw = _bounded.read_bytes(os.path.join(pid_dir, 'comm'), _bounded.SMALL_LIMIT)
        if raw.endswith(b'\n'):
            raw = raw[:-1]
        return raw.decode('utf-8', 'backslashreplace')
    except _bounded.BoundedReadError:
        pass    # no comm (an old kernel, a copied /proc tree), not a file, or the process is gone: stat tells which
    try:
        raw = _bounded.read_bytes(os.path.join(pid_dir, 'stat'), _bounded.SMALL_LIMIT)
    except _bounded.BoundedReadError as exc:
        if exc.errno in _VANISHED:
            return None
        return '?'
    # The name may itself contain ')' or spaces: it runs from the first '(' to the last ')'.
    start, end = raw.find(b'('), raw.rfind(b')')
    if start < 0 or end < start:
        return '?'
    return raw[start + 1:end].decode('utf-8', 'backslashreplace')


def _hidepid(proc_root: str, mountinfo: str = '/proc/self/mountinfo') -> str | None:
    """The hidepid= mount option of proc_root when it hides processes from this module, else None.

    A module in the mount's gid= group is exempt (the kernel shows it every process). Root is not: the kernel hides
    every process that root may not ptrace (a security module can forbid it), and a hidden process cannot even be
    counted, so hidepid=invisible or ptraceable is a limit for root too; hidepid=noaccess only denies the fd
    directories, which the walk counts.
    """
    try:
        with open(mountinfo, 'rb') as handle:
            lines = handle.read(1 << 22).decode('utf-8', 'replace').splitlines()
    except OSError:
        return None
    target = os.path.realpath(proc_root)
    found = gid = None
    for line in lines:     # the last mount on the path is the one in effect
        fields = line.split()
        if len(fields) < 10 or fields[4] != target or ' - proc ' not in line:
            continue
        found = gid = None
        for option in line.split(' - ', 1)[1].split()[-1].split(','):
            if option.startswith('hidepid=') and option[8:] not in ('0', 'off'):
                found = option
            elif option.startswith('gid=') and option[4:].isdigit():
                gid = int(option[4:])
    if found is None or (gid is not None and (gid == os.getegid() or gid in os.getgroups())):
        return None
    if os.geteuid() == 0 and found[8:] in ('1', 'noaccess'):
        return None
    return found


def _namespace_inode(link: str) -> int | None:
    """N of a pid:[N] namespace link, None when it cannot be read (not ours to read, or not a live /proc)."""
    try:
        target = os.readlink(link)
    except (OSError, ValueError):
        return None
    if not (target.startswith('pid:[') and target.endswith(']') and target[5:-1].isdigit()):
        return None
    return int(target[5:-1])


def _pid_namespace(proc_root: str) -> str | None:
    """A problem when proc_root shows the processes of a PID namespace other than the initial one, else None.

    The tree's pid 1 tells its namespace (root can read that link). Otherwise, for this machine's own /proc, the
    module's namespace: the /proc it mounted is its own. A foreign tree whose pid 1 says nothing is not judged.
    """
    inode = _namespace_inode(os.path.join(proc_root, '1', 'ns', 'pid'))
    own = os.path.realpath(proc_root) == '/proc'
    if inode is None and own:
        inode = _namespace_inode('/proc/self/ns/pid')
        if inode is None:
            return ('the PID namespace of %s could not be read, so processes outside it may hold sockets that show '
                    'no owner' % proc_root)
    if inode is None or inode == INITIAL_PID_NAMESPACE:
        return None
    return ('%s shows the processes of a PID namespace other than the initial one (pid:[%d], a container or '
            'unshare): the processes outside it are invisible, so their sockets show no owner' % (proc_root, inode))


def visibility_problems(proc_root: str = '/proc') -> list[str]:
    """What keeps processes out of sight in proc_root, whatever the walk finds: a PID namespace, hidepid."""
    problems = []
    namespace = _pid_namespace(proc_root)
    if namespace:
        problems.append(namespace)
    hidepid = _hidepid(proc_root)
    if hidepid:
        who = 'other users' if os.geteuid() != 0 else 'processes the module may not trace'
        problems.append('%s is mounted with %s: the processes of %s are invisible, so their sockets '
                        'show no owner' % (proc_root, hidepid, who))
    return problems


def _fd_of(match: tuple[int, int]) -> int:
    return match[1]


def _scan_fds(fd_dir: str, wanted: set[int]) -> list[tuple[int, int]]:
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


def _held_by(proc_root: str, pid_name: str, wanted: set[int]) -> list[tuple[int, Owner]]:
    """[(inode, owner)] of the wanted sockets that process pid_name holds, in fd order; [] when it holds none or has
    gone. Raises OSError from its fd directory (the callers judge what an unreadable process means)."""
    pid_dir = os.path.join(proc_root, pid_name)
    matches = _scan_fds(os.path.join(pid_dir, 'fd'), wanted)
    if not matches:
        return []
    name = _process_name(pid_dir)
    if name is None:
        return []
    pid = int(pid_name)
    matches.sort(key=_fd_of)
    return [(inode, {'name': name, 'pid': pid, 'fd': fd}) for inode, fd in matches]


def _list_pids(proc_root: str) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(proc_root) if entry.name.isdigit()]
    except OSError as exc:
        raise _bounded.ProcRootError('cannot list the process directory %s: %s' % (proc_root, exc.strerror or exc)) from exc


def find_owners(inodes: Iterable[int], proc_root: str = '/proc', look_again: Iterable[int] = ()) -> tuple[Owners, list[str]]:
    """inodes: a set of ints. Returns (owners, problems): owners = {inode: [{'name': str, 'pid': int, 'fd': int}, ...]}
    sorted by pid then fd; problems = list of human-readable strings, each a reason why some process may be out of
    sight (not root, hidepid, a PID namespace other than the initial one, unreadable descriptors), e.g. 'not root:
    the file descriptors of 37 processes owned by other users could not be read (permission denied), so their
    sockets show no owner'. No problem: the walk saw every process.

    look_again: inodes (listening sockets) that deserve a second, bounded look when the walk finds no owner for
    them (see LOOK_AGAIN_*). Processes that vanish during the walk are skipped silently (that is not
    incompleteness; an inode that stays without an owner is reported by the caller)."""
    wanted = set(inode for inode in inodes if inode)
    if not wanted:
        return {}, visibility_problems(proc_root)
    started = time.monotonic()
    # In pid order, each process's fds in fd order: every inode's owners come out sorted without a sort of
    # them all (at 100k sockets that sort and its keys cost 15 MB).
    pid_entries = sorted(_list_pids(proc_root), key=int)
    if not pid_entries:
        # A /proc tree without processes (a capture of /proc/net alone): not a machine where nothing owns a socket.
        return {}, ['%s holds no process directories, so no socket shows an owner' % proc_root]
    owners: Owners = {}
    denied = 0
    failures: list[str] = []
    for pid_name in pid_entries:
        try:
            held = _held_by(proc_root, pid_name, wanted)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                denied += 1
            elif exc.errno not in _VANISHED:
                failures.append('the file descriptors of process %s in %s could not be read (%s), so its sockets '
                                'show no owner' % (pid_name, proc_root, exc.strerror or exc))
            continue
        for inode, owner in held:
            owners.setdefault(inode, []).append(owner)
    missing = set(inode for inode in look_again if inode in wanted and inode not in owners)
    if missing:
        walk = time.monotonic() - started
        budget = min(max(LOOK_AGAIN_MIN_BUDGET, LOOK_AGAIN_BUDGET_FACTOR * walk), LOOK_AGAIN_MAX_BUDGET)
        owners.update(_look_again(missing, proc_root, time.monotonic() + budget + LOOK_AGAIN_PAUSE * (LOOK_AGAIN_LOOKS - 1)))
    return owners, _problems(proc_root, denied) + failures


def _look_again(missing: set[int], proc_root: str, deadline: float) -> Owners:
    """{inode: owners} of the missing inodes, from up to LOOK_AGAIN_LOOKS fresh walks until the deadline.

    Each walk lists the pids again and goes newest first: a process that forked after the first listing (the child
    keeps the socket, the parent exits) has the newest pid, and is read a moment after the listing that shows it.
    """
    found: Owners = {}
    for look in range(LOOK_AGAIN_LOOKS):
        if look:
            time.sleep(max(0.0, min(LOOK_AGAIN_PAUSE, deadline - time.monotonic())))
        if not missing or time.monotonic() >= deadline:
            break
        try:
            pid_entries = sorted(_list_pids(proc_root), key=int, reverse=True)
        except _bounded.ProcRootError:
            break
        this_look: Owners = {}
        for pid_name in pid_entries:
            if time.monotonic() >= deadline:
                break
            try:
                held = _held_by(proc_root, pid_name, missing)
            except OSError:
                continue    # unreadable ones were counted by the first walk
            for inode, owner in held:
                this_look.setdefault(inode, []).append(owner)
        for inode, entries in this_look.items():
            entries.sort(key=_pid_then_fd)
            found[inode] = entries
        missing = missing - set(this_look)
    return found


def _pid_then_fd(owner: Owner) -> tuple[int, int]:
    return owner['pid'], owner['fd']


def _processes(count: int) -> str:
    return '1 process' if count == 1 else '%d processes' % count


def _problems(proc_root: str, denied: int) -> list[str]:
    problems = visibility_problems(proc_root)
    if denied:
        if os.geteuid() != 0:
            problems.append('not root: the file descriptors of %s owned by other users could not be read '
                            '(permission denied), so their sockets show no owner' % _processes(denied))
        else:
            problems.append('the file descriptors of %s could not be read although running as root '
                            '(permission denied: a restricted %s, no CAP_SYS_PTRACE, or a process changing its '
                            'credentials), so their sockets show no owner' % (_processes(denied), proc_root))
    return problems
