# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: run a function inside a network namespace (call_in): a forked child enters it,
runs the function and pickles the answer back; what goes wrong comes back as the errors below, naming the
namespace."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import gc
import os
import pickle
import select
import signal
import sys
import time
import traceback
from typing import Any, Callable, TypeVar

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._netns.resolving import (
    CLONE_NEWNET,
    Namespace,
    file_identity,
)

T = TypeVar('T')
F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
READ_CHUNK = 1 << 20
# A whole call_in (fork, enter, func, transfer) must end within this; the child is killed otherwise.
TIMEOUT_SECONDS = 120.0
_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
# In call_in's child: the label of the namespace it entered (see entered()).
_ENTERED: list[str] = []


class NamespaceError(NetauditError, OSError):
    """A network namespace could not be entered (errno set: EPERM without root, ETIMEDOUT, EIO ...)."""


class NamespaceGone(NamespaceError):
    """The network namespace no longer exists (its name was deleted, or the process holding it exited)."""


class NamespaceCallError(NetauditError):
    """What the function run inside a namespace raised, told in the caller: netns is the namespace's label,
    type_name the exception's type, child_traceback its traceback in the child. It is raised from the exception
    itself (its __cause__) when that could travel back, from None otherwise. The message names the namespace, then
    the exception's type (left out for the collection's own, whose message says what failed) and message."""

    def __init__(self, label: str, type_name: str, message: str, child_traceback: str | None = None,
                 ours: bool = False) -> None:
        told = message if ours else '%s: %s' % (type_name, message)
        super().__init__('in network namespace %s: %s' % (label, told))
        self.netns = label
        self.type_name = type_name
        self.child_traceback = child_traceback


def entered() -> str | None:
    """The label of the network namespace this process entered through call_in (in call_in's child, for func);
    None in any other process, which is in its own namespace."""
    return _ENTERED[0] if _ENTERED else None


_SETNS: list[Any] = []


def _setns_function() -> Any:
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


def _open(namespace: Namespace) -> int:
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
    if namespace.identity is not None and file_identity(os.fstat(fd)) != tuple(namespace.identity):
        os.close(fd)
        # A pid reused by another process, or a name deleted and made again: not the namespace we listed.
        raise NamespaceGone(errno.ENOENT, 'network namespace %s is gone: %s now leads to another namespace'
                            % (namespace.label, namespace.path))
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _error_message(exc: BaseException) -> tuple[bytes | None, str, str, str, bool]:
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


def _child(ns_fd: int, read_fd: int, write_fd: int, setns: Any, func: Callable[..., Any], args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> None:
    """The forked child: enter the namespace, run func, send back ('ok', result), ('enter', errno, text) or
    ('raise', ...). Never returns: it leaves with os._exit so that nothing of the parent (pytest, atexit
    handlers, buffered output) runs twice."""
    status = 70
    message: tuple[Any, ...]
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


def _receive(read_fd: int, pid: int, deadline: float, namespace: Namespace) -> bytes:
    """Every byte the child sends, until it closes the pipe; kills it when the deadline passes."""
    chunks: list[bytes] = []
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


def _reap(pid: int) -> int | None:
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


def _describe_status(status: int | None) -> str:
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


def _answer(namespace: Namespace, data: bytes, status: int | None) -> Any:
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


def call_in(namespace: Namespace, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run func(*args, **kwargs) in a forked child that entered the namespace (setns through ctypes) and return
    its result, which must pickle. The calling process never changes namespace.

    Raises NamespaceGone when the namespace vanished, NamespaceError when it could not be entered otherwise
    (not root, timeout after TIMEOUT_SECONDS, the child died). An exception raised by func becomes a
    NamespaceCallError naming the namespace, raised from that exception where it could travel back (pickled and
    rebuilt): nothing is set on the exception itself. The child always ends and is reaped before this returns.
    """
    setns = _setns_function()
    ns_fd = _open(namespace)
    write_fd: int | None
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
