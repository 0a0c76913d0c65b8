# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: find network namespaces: the netns option's value checked (option_items), and its
names, paths and `all` resolved to Namespace objects, each namespace once."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from typing import Sequence, Tuple, cast

CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xb703          # _IO(0xb7, 0x3), Linux 4.11+: the CLONE_NEW* type of a namespace file
_OWN_NAMESPACE = '/proc/self/ns/net'

# (st_dev, st_ino) of a namespace file: the same for every name and path that leads to one namespace.
Identity = Tuple[int, int]


class Namespace(object):
    """One network namespace: label (its `ip netns` name, else 'pid PID (COMM)', else its path), the path to
    open it by, identity = (st_dev, st_ino) of its nsfs file, and whether it is the caller's own namespace."""

    __slots__ = ('label', 'path', 'identity', 'own')

    def __init__(self, label: str, path: str, identity: Sequence[int] | None, own: bool = False) -> None:
        self.label = label
        self.path = path
        self.identity = identity
        self.own = own

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Namespace):
            return NotImplemented
        return (self.label, self.path, self.identity, self.own) == (other.label, other.path, other.identity, other.own)

    def __hash__(self) -> int:
        return hash((self.label, self.path, self.identity, self.own))

    def __repr__(self) -> str:
        return 'Namespace(label=%r, path=%r, identity=%r, own=%r)' % (self.label, self.path, self.identity, self.own)


def file_identity(stat_result: os.stat_result) -> Identity:
    """The identity of the namespace file that stat_result describes."""
    return (stat_result.st_dev, stat_result.st_ino)


def _own_identity(proc_root: str) -> Identity | None:
    for path in (_OWN_NAMESPACE, os.path.join(proc_root, 'self', 'ns', 'net')):
        try:
            return file_identity(os.stat(path))
        except OSError:
            continue
    return None


def _is_network_namespace(path: str, stat_result: os.stat_result, nsfs_device: int | None) -> bool:
    """Whether path is a network namespace file: asked of the kernel (NS_GET_NSTYPE) where it can answer, else
    judged by the file system device, which every nsfs file shares. Only regular files are opened: a FIFO or a
    device named by mistake must not block or act."""
    if not stat.S_ISREG(stat_result.st_mode):
        return False
    try:
        fd: int | None = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        fd = None
    if fd is not None:
        try:
            return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
        except OSError as exc:
            if exc.errno not in (errno.ENOTTY, errno.EINVAL):
                return False
        finally:
            os.close(fd)
    return nsfs_device is not None and stat_result.st_dev == nsfs_device


def _read_comm(pid_dir: str) -> str:
    try:
        with open(os.path.join(pid_dir, 'comm'), 'rb') as handle:
            return handle.read().rstrip(b'\n').decode('utf-8', 'backslashreplace')
    except OSError:
        return '?'


def _pid_label(path: str) -> str | None:
    """'pid PID (COMM)' for a path of the form <proc>/PID/ns/net (or <proc>/self/ns/net), else None."""
    parts = os.path.normpath(path).split(os.sep)
    if len(parts) < 4 or parts[-2:] != ['ns', 'net']:
        return None
    pid_dir = os.sep.join(parts[:-2])
    pid = parts[-3]
    if not pid.isdigit():
        pid = os.path.basename(os.path.realpath(pid_dir))     # self -> the PID it stands for
        if not pid.isdigit():
            return None
    return 'pid %s (%s)' % (pid, _read_comm(pid_dir))


class _Resolver(object):
    """The state of one resolve() call: what was found so far, by identity."""

    def __init__(self, proc_root: str, run_dir: str) -> None:
        self.proc_root = proc_root
        self.run_dir = run_dir
        self.own = _own_identity(proc_root)
        self.nsfs_device = self.own[0] if self.own else None
        self.found: dict[Identity, Namespace] = {}            # in the order first met
        self.problems: list[str] = []
        self.stale: list[str] = []
        self._names: dict[Identity, tuple[str, str]] | None = None

    def names(self) -> dict[Identity, tuple[str, str]]:
        """identity -> (name, path) of the namespaces in run_dir (the first name in sorted order wins)."""
        if self._names is None:
            self._names = {}
            try:
                entries = sorted(os.listdir(self.run_dir))
            except OSError:
                entries = []
            for name in entries:
                path = os.path.join(self.run_dir, name)
                try:
                    stat_result = os.stat(path)
                except OSError:
                    continue        # deleted while we looked
                if not _is_network_namespace(path, stat_result, self.nsfs_device):
                    self.stale.append(path)
                    continue
                self._names.setdefault(file_identity(stat_result), (name, path))
        return self._names

    def add(self, identity: Identity, label: str, path: str) -> None:
        named = self.names().get(identity)
        if named:
            label, path = named
        if identity not in self.found:
            self.found[identity] = Namespace(label, path, identity, own=identity == self.own)

    def add_all(self) -> None:
        for identity, (name, path) in self.names().items():
            if identity != self.own:
                self.add(identity, name, path)
        for path in self.stale:
            self.problems.append('%s is not a network namespace (a name left behind by a deleted namespace?): '
                                 'it was skipped' % path)
        self.stale = []
        try:
            pids = sorted(int(name) for name in os.listdir(self.proc_root) if name.isdigit())
        except OSError as exc:
            raise ValueError('netns: cannot list the processes in %s: %s' % (self.proc_root, exc.strerror or exc)) from exc
        denied: list[int] = []
        for pid in pids:
            path = os.path.join(self.proc_root, str(pid), 'ns', 'net')
            try:
                identity = file_identity(os.stat(path))
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    denied.append(pid)
                continue        # ENOENT, ESRCH: the process exited while we looked
            if identity != self.own and identity not in self.found:
                # <proc_root>/PID/ns/net always has a pid label.
                self.add(identity, cast(str, _pid_label(path)), path)
        if denied:
            self.problems.append(self._denied_problem(denied))

    def _denied_problem(self, pids: list[int]) -> str:
        if len(pids) <= 5:
            who = ', '.join('%d (%s)' % (pid, _read_comm(os.path.join(self.proc_root, str(pid)))) for pid in pids)
            who = ('process ' if len(pids) == 1 else 'processes ') + who
        else:
            who = '%d processes' % len(pids)
        if os.geteuid() != 0:
            return ('not root: the network namespaces of %s, owned by other users, could not be read (permission '
                    'denied), so namespaces held only by them were not gathered' % who)
        return ('the network namespaces of %s could not be read although running as root (permission denied: '
                'another user namespace, or a security module), so namespaces held only by them were not gathered' % who)

    def add_one(self, item: str) -> None:
        if '/' not in item:
            if item in ('.', '..'):
                raise ValueError('netns: "%s" is not a namespace name' % item)
            path = os.path.join(self.run_dir, item)
            what = 'no network namespace named "%s" (no file %s; `ip netns list` shows the names)' % (item, path)
        else:
            if not os.path.isabs(item):
                raise ValueError('netns: "%s" is neither a name from `ip netns list` nor an absolute path' % item)
            path = item
            what = 'the network namespace file %s does not exist' % item
        try:
            stat_result = os.stat(path)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                self.problems.append('netns %s: permission denied (%s), so it was not gathered'
                                     % (item, 'not root' if os.geteuid() != 0 else 'although running as root'))
                return
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ESRCH):
                raise ValueError('netns: %s' % what) from exc
            raise ValueError('netns: cannot read %s: %s' % (path, exc.strerror or exc)) from exc
        if not _is_network_namespace(path, stat_result, self.nsfs_device):
            raise ValueError('netns: %s is not a network namespace file (expected a name from `ip netns list`, '
                             'a file in %s or /proc/PID/ns/net)' % (item, self.run_dir))
        self.add(file_identity(stat_result), _pid_label(path) or item, path)


OPTION_SHAPE = 'expected a namespace name, a path, "all" or a list of them'
_KINDS = ((bool, 'a boolean'), (int, 'an integer'), (float, 'a number'), (bytes, 'bytes'), (dict, 'a mapping'),
          ((list, tuple), 'a list'), (str, 'a string'))


def _shown_value(value: object) -> str:
    """A value as YAML/JSON writes it, cut short: what a message about the option quotes."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:60] + '... (%d characters)' % len(text)


def _kind(value: object) -> str:
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return 'a %s' % type(value).__name__


def option_items(value: object) -> list[str]:
    """The netns option's value as a list of namespace names and paths (stripped), [] for None or an empty list.

    The option is typed raw (a string or a list of strings); anything else raises ValueError with a message that
    names the option, the value and its type, never a Python error about the value."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError('netns: %s; got %s (%s)' % (OPTION_SHAPE, _kind(value), _shown_value(value)))
    found = []
    for number, item in enumerate(items, 1):
        where = 'got' if items is not value else 'item %d of the list is' % number
        if item is None:
            raise ValueError('netns: %s; %s null' % (OPTION_SHAPE, where))
        if not isinstance(item, str):
            raise ValueError('netns: %s; %s %s (%s)' % (OPTION_SHAPE, where, _kind(item), _shown_value(item)))
        if not item.strip():
            raise ValueError('netns: %s; %s %s' % (OPTION_SHAPE, where, "an empty string ('')" if not item else
                                                   'a string of blanks (%s)' % _shown_value(item)))
        if '\0' in item:
            raise ValueError('netns: %s; %s a string with a NUL character (%s)' % (OPTION_SHAPE, where, _shown_value(item)))
        found.append(item.strip())
    return found


def resolve(spec: object, proc_root: str = '/proc', run_dir: str = '/run/netns') -> tuple[list[Namespace], list[str]]:
    """spec: a name from `ip netns` (a file in run_dir), a path (/run/netns/x, /proc/PID/ns/net), a list of them,
    or 'all' (every named namespace plus every distinct namespace held by a process, labelled with its name when
    it has one, else 'pid PID (COMM)' of the process with the lowest pid inside it).

    The caller's own namespace is never part of 'all' (it is gathered as usual, netns null); named explicitly, it is
    returned with own=True. Each namespace is returned once, whatever the number of names and paths that lead to it.
    Returns (namespaces, problems): problems are sentences about namespaces that could not be read (other users'
    processes when not root, a name without a namespace). A name or path that does not exist is a ValueError
    naming it.
    """
    items = option_items(spec)
    resolver = _Resolver(proc_root, run_dir)
    for item in items:
        if item == 'all':
            resolver.add_all()
        else:
            resolver.add_one(item)
    return list(resolver.found.values()), resolver.problems
