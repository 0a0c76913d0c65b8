# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: find other network namespaces and run a function inside one of them."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import gc
import json
import os
import pickle
import select
import signal
import stat
import sys
import time
import traceback

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xb703          # _IO(0xb7, 0x3), Linux 4.11+: the CLONE_NEW* type of a namespace file
F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
READ_CHUNK = 1 << 20
# A whole call_in (fork, enter, func, transfer) must end within this; the child is killed otherwise.
TIMEOUT_SECONDS = 120.0
_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
_OWN_NAMESPACE = '/proc/self/ns/net'
# In call_in's child: the label of the namespace it entered (see entered()).
_ENTERED = []


class NamespaceError(NetauditError, OSError):
    """A network namespace could not be entered (errno set: EPERM without root, ETIMEDOUT, EIO ...)."""


class NamespaceGone(NamespaceError):
    """The network namespace no longer exists (its name was deleted, or the process holding it exited)."""


class NamespaceCallError(NetauditError):
    """What the function run inside a namespace raised, told in the caller: netns is the namespace's label,
    type_name the exception's type, child_traceback its traceback in the child. It is raised from the exception
    itself (its __cause__) when that could travel back, from None otherwise. The message names the namespace, then
    the exception's type (left out for the collection's own, whose message says what failed) and message."""

    def __init__(self, label: str, type_name: str, message: str, child_traceback: 'str | None' = None,
                 ours: bool = False) -> None:
        told = message if ours else '%s: %s' % (type_name, message)
        super().__init__('in network namespace %s: %s' % (label, told))
        self.netns = label
        self.type_name = type_name
        self.child_traceback = child_traceback


class Namespace(object):
    """One network namespace: label (its `ip netns` name, else 'pid PID (COMM)', else its path), the path to
    open it by, identity = (st_dev, st_ino) of its nsfs file, and whether it is the caller's own namespace."""

    __slots__ = ('label', 'path', 'identity', 'own')

    def __init__(self, label, path, identity, own=False):
        self.label = label
        self.path = path
        self.identity = identity
        self.own = own

    def __eq__(self, other):
        if not isinstance(other, Namespace):
            return NotImplemented
        return (self.label, self.path, self.identity, self.own) == (other.label, other.path, other.identity, other.own)

    def __hash__(self):
        return hash((self.label, self.path, self.identity, self.own))

    def __repr__(self):
        return 'Namespace(label=%r, path=%r, identity=%r, own=%r)' % (self.label, self.path, self.identity, self.own)


# ---------------------------------------------------------------- resolve


def _identity(stat_result):
    return (stat_result.st_dev, stat_result.st_ino)


def _own_identity(proc_root):
    for path in (_OWN_NAMESPACE, os.path.join(proc_root, 'self', 'ns', 'net')):
        try:
            return _identity(os.stat(path))
        except OSError:
            continue
    return None


def _is_network_namespace(path, stat_result, nsfs_device):
    """Whether path is a network namespace file: asked of the kernel (NS_GET_NSTYPE) where it can answer, else
    judged by the file system device, which every nsfs file shares. Only regular files are opened: a FIFO or a
    device named by mistake must not block or act."""
    if not stat.S_ISREG(stat_result.st_mode):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
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


def _read_comm(pid_dir):
    try:
        with open(os.path.join(pid_dir, 'comm'), 'rb') as handle:
            return handle.read().rstrip(b'\n').decode('utf-8', 'backslashreplace')
    except OSError:
        return '?'


def _pid_label(path):
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

    def __init__(self, proc_root, run_dir):
        self.proc_root = proc_root
        self.run_dir = run_dir
        self.own = _own_identity(proc_root)
        self.nsfs_device = self.own[0] if self.own else None
        self.found = {}            # identity -> Namespace, in the order first met
        self.problems = []
        self.stale = []
        self._names = None

    def names(self):
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
                self._names.setdefault(_identity(stat_result), (name, path))
        return self._names

    def add(self, identity, label, path):
        named = self.names().get(identity)
        if named:
            label, path = named
        if identity not in self.found:
            self.found[identity] = Namespace(label, path, identity, own=identity == self.own)

    def add_all(self):
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
        denied = []
        for pid in pids:
            path = os.path.join(self.proc_root, str(pid), 'ns', 'net')
            try:
                identity = _identity(os.stat(path))
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    denied.append(pid)
                continue        # ENOENT, ESRCH: the process exited while we looked
            if identity != self.own and identity not in self.found:
                self.add(identity, _pid_label(path), path)
        if denied:
            self.problems.append(self._denied_problem(denied))

    def _denied_problem(self, pids):
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

    def add_one(self, item):
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
        self.add(_identity(stat_result), _pid_label(path) or item, path)


OPTION_SHAPE = 'expected a namespace name, a path, "all" or a list of them'
_KINDS = ((bool, 'a boolean'), (int, 'an integer'), (float, 'a number'), (bytes, 'bytes'), (dict, 'a mapping'),
          ((list, tuple), 'a list'), (str, 'a string'))


def _shown_value(value):
    """A value as YAML/JSON writes it, cut short: what a message about the option quotes."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:60] + '... (%d characters)' % len(text)


def _kind(value):
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return 'a %s' % type(value).__name__


def option_items(value):
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


def entered():
    """The label of the network namespace this process entered through call_in (in call_in's child, for func);
    None in any other process, which is in its own namespace."""
    return _ENTERED[0] if _ENTERED else None


def resolve(spec, proc_root='/proc', run_dir='/run/netns'):
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


# ---------------------------------------------------------------- call_in

_SETNS = []


def _setns_function():
    """libc's setns(), loaded once, before any fork (a failure is reported by the caller, not by a child)."""
    if not _SETNS:
        try:
            function = ctypes.CDLL(None, use_errno=True).setns
        except (AttributeError, OSError) as exc:
            raise NamespaceError(errno.ENOSYS, 'cannot enter a network namespace: the C library has no setns() '
                                 '(%s)' % exc) from exc
        function.argtypes = (ctypes.c_int, ctypes.c_int)
        function.restype = ctypes.c_int
        _SETNS.append(function)
    return _SETNS[0]


def _open(namespace):
    """An O_RDONLY descriptor of the namespace file, checked to still be the namespace that resolve() found."""
    try:
        fd = os.open(namespace.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ESRCH, errno.ENOTDIR):
            raise NamespaceGone(errno.ENOENT, 'network namespace %s is gone: %s no longer exists'
                                % (namespace.label, namespace.path)) from exc
        raise NamespaceError(exc.errno, 'cannot open network namespace %s (%s): %s%s'
                             % (namespace.label, namespace.path, exc.strerror,
                                ' (not root)' if os.geteuid() != 0 else '')) from exc
    if namespace.identity is not None and _identity(os.fstat(fd)) != tuple(namespace.identity):
        os.close(fd)
        # A pid reused by another process, or a name deleted and made again: not the namespace we listed.
        raise NamespaceGone(errno.ENOENT, 'network namespace %s is gone: %s now leads to another namespace'
                            % (namespace.label, namespace.path))
    return fd


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _error_message(exc):
    """(pickled exception or None, type name, message, child traceback, whether it is the collection's own) of an
    exception raised by func."""
    try:
        pickled = pickle.dumps(exc, _PICKLE_PROTOCOL) if isinstance(exc, Exception) else None
        if pickled is not None:
            pickle.loads(pickled)    # some exceptions pickle but cannot be rebuilt: find out here, not in the parent
    except Exception:
        pickled = None
    name = type(exc).__name__
    module = type(exc).__module__
    if module not in ('builtins', '__main__'):
        name = '%s.%s' % (module, name)
    return pickled, name, str(exc), traceback.format_exc(), isinstance(exc, NetauditError)


def _child(ns_fd, read_fd, write_fd, setns, func, args, kwargs):
    """The forked child: enter the namespace, run func, send back ('ok', result), ('enter', errno, text) or
    ('raise', ...). Never returns: it leaves with os._exit so that nothing of the parent (pytest, atexit
    handlers, buffered output) runs twice."""
    status = 70
    try:
        os.close(read_fd)
        # The module's stdout carries its JSON answer: nothing from here may land there.
        sys.stdout = sys.stderr
        try:
            os.dup2(2, 1)
        except OSError:
            pass
        if setns(ns_fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            message = ('enter', code, os.strerror(code))
        else:
            os.close(ns_fd)
            try:
                message = ('ok', func(*args, **kwargs))
            except BaseException as exc:
                message = ('raise',) + _error_message(exc)
        try:
            payload = pickle.dumps(message, _PICKLE_PROTOCOL)
        except Exception as exc:
            payload = pickle.dumps(('raise', None, 'TypeError', 'the result cannot be sent back: %s' % exc, None, False),
                                   _PICKLE_PROTOCOL)
        _write_all(write_fd, payload)
        os.close(write_fd)
        status = 0
    except BaseException:
        pass
    finally:
        os._exit(status)


def _receive(read_fd, pid, deadline, namespace):
    """Every byte the child sends, until it closes the pipe; kills it when the deadline passes."""
    chunks = []
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            raise NamespaceError(errno.ETIMEDOUT, 'network namespace %s: no answer in %d seconds; the helper '
                                 'process was killed' % (namespace.label, TIMEOUT_SECONDS))
        if not poller.poll(int(remaining * 1000) + 1):
            continue
        chunk = os.read(read_fd, READ_CHUNK)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def _reap(pid):
    """Wait for the child and return its wait status; one that outlives its closed pipe by a second is killed."""
    deadline = time.monotonic() + 1.0
    pause = 0.0005
    while True:
        try:
            waited, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if waited:
            return status
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return os.waitpid(pid, 0)[1]
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _describe_status(status):
    if status is None:
        return 'it vanished'
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return 'it was killed by signal %s' % name
    return 'it exited with status %d' % os.WEXITSTATUS(status)


def _answer(namespace, data, status):
    """The result that the child sent, or the exception that stands for what went wrong."""
    if not data:
        raise NamespaceError(errno.EIO, 'network namespace %s: the helper process sent no answer (%s)'
                             % (namespace.label, _describe_status(status)))
    enabled = gc.isenabled()
    gc.disable()       # a large result is many small containers and no cycles: the collector would only slow us
    try:
        message = pickle.loads(data)
    except Exception as exc:
        raise NamespaceError(errno.EIO, 'network namespace %s: the helper process sent a broken answer (%s; %s)'
                             % (namespace.label, exc, _describe_status(status))) from exc
    finally:
        if enabled:
            gc.enable()
    if message[0] == 'ok':
        return message[1]
    if message[0] == 'enter':
        code, text = message[1], message[2]
        if code in (errno.EINVAL, errno.ENOENT, errno.EBADF):
            raise NamespaceGone(code, 'network namespace %s is gone: it could not be entered (%s)' % (namespace.label, text))
        hint = ' (entering a network namespace needs root: CAP_SYS_ADMIN)' if code == errno.EPERM else ''
        raise NamespaceError(code, 'cannot enter network namespace %s: %s%s' % (namespace.label, text, hint))
    pickled, type_name, text, child_traceback, ours = message[1:]
    raised = pickle.loads(pickled) if pickled is not None else None
    raise NamespaceCallError(namespace.label, type_name, text, child_traceback, ours=ours) from raised


def call_in(namespace, func, *args, **kwargs):
    """Run func(*args, **kwargs) in a forked child that entered the namespace (setns through ctypes) and return
    its result, which must pickle. The calling process never changes namespace.

    Raises NamespaceGone when the namespace vanished, NamespaceError when it could not be entered otherwise
    (not root, timeout after TIMEOUT_SECONDS, the child died). An exception raised by func becomes a
    NamespaceCallError naming the namespace, raised from that exception where it could travel back (pickled and
    rebuilt): nothing is set on the exception itself. The child always ends and is reaped before this returns.
    """
    setns = _setns_function()
    ns_fd = _open(namespace)
    try:
        read_fd, write_fd = os.pipe()
        try:
            try:
                fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_SIZE)    # fewer round trips for a large result
            except OSError:
                pass
            deadline = time.monotonic() + TIMEOUT_SECONDS
            try:
                pid = os.fork()
            except OSError as exc:
                raise NamespaceError(exc.errno, 'network namespace %s: cannot start a helper process: %s'
                                     % (namespace.label, exc.strerror)) from exc
            if pid == 0:
                _ENTERED[:] = [namespace.label]
                _child(ns_fd, read_fd, write_fd, setns, func, args, kwargs)
            os.close(write_fd)
            write_fd = None
            status = None
            try:
                data = _receive(read_fd, pid, deadline, namespace)
            finally:
                status = _reap(pid)
        finally:
            os.close(read_fd)
            if write_fd is not None:
                os.close(write_fd)
    finally:
        os.close(ns_fd)
    return _answer(namespace, data, status)
