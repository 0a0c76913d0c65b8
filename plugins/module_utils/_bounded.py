# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the one reader for every file the module reads on a managed host.

A /proc tree, and every file in it, is the host's to choose (docs/socket_facts.md, "proc_root"): a FIFO where a
table should be would block a plain open() forever, /dev/zero or a sparse file of gigabytes would be read into
memory whole. read_bytes() opens without blocking, reads regular files only, and stops at a size limit chosen
per kind of file. Every refusal is a BoundedReadError whose message names the path; its `missing` attribute tells
a file that is not there (a kernel without the table) from one that must not be read. net_directory() checks a
/proc tree as a whole (proc_root) before anything in it is read, and raises ProcRootError naming it.

The strings a host sends are decoded one way (host_text, host_name): UTF-8, with every invalid byte shown as the
four characters \\xNN, never as surrogate escapes, which JSON cannot encode.
"""

from __future__ import annotations

import errno
import os
import stat

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

# Limits per kind of file. A socket table grows with the sockets (150 bytes a line: 15 MB at 100k sockets); the
# kernel never prints a line of more than a few hundred bytes in them (a unix line: 58 + a 108-byte path).
TABLE_LIMIT = 512 * 1024 * 1024
TABLE_LINE_LIMIT = 4096
# Control files (PID/comm, PID/stat, sockstat, snmp, protocols, ip_local_port_range): a few KiB at most.
SMALL_LIMIT = 64 * 1024

_CHUNK = 1024 * 1024
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, 'O_NOCTTY', 0)
_KINDS = (
    (stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO (named pipe)'), (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
)
_WHY = {
    errno.ENOENT: 'does not exist', errno.ENOTDIR: 'does not exist (a part of the path is not a directory)',
    errno.ELOOP: 'is a symbolic link loop', errno.EACCES: 'is not readable (permission denied)',
    errno.EPERM: 'is not readable (operation not permitted)', errno.ENAMETOOLONG: 'is too long a path',
}


def _why(exc: OSError) -> str:
    known = _WHY.get(exc.errno) if exc.errno is not None else None
    return known or 'could not be read (%s)' % (exc.strerror or exc)


class BoundedReadError(NetauditError, ValueError):
    """A file the module cannot or will not read. The message names the path ('cannot read PATH: it is a FIFO
    (named pipe), not a regular file'); `reason` is the part after 'it ' ('is a FIFO ...'); `missing` is true when
    the file is not there at all (ENOENT, ENOTDIR), so a caller can tell a kernel without the file from a hostile one."""

    def __init__(self, path: str, reason: str, code: int | None = None) -> None:
        super().__init__('cannot read %s: it %s' % (path, reason))
        self.path = path
        self.reason = reason
        self.errno = code
        self.missing = code in (errno.ENOENT, errno.ENOTDIR)

    def __reduce__(self) -> tuple[type, tuple[str, str, int | None]]:
        # Rebuilt from its parts, not from its message, so that it travels back from another network namespace.
        return type(self), (self.path, self.reason, self.errno)


class ProcRootError(NetauditError, ValueError):
    """A /proc tree the module cannot use (missing, not a directory, without net/, its process directory not
    listable); the message names it."""


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words ('a FIFO (named pipe)'), or 'a regular file'."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return 'a regular file' if stat.S_ISREG(mode) else 'not a regular file'


def os_error(path: str, exc: OSError) -> BoundedReadError:
    """A BoundedReadError naming path for an OSError met while opening, listing or reading it."""
    return BoundedReadError(path, _why(exc), exc.errno)


def _not_regular(path: str, mode: int) -> BoundedReadError:
    return BoundedReadError(path, 'is %s, not a regular file' % kind_of(mode))


def _too_large(path: str, limit: int) -> BoundedReadError:
    return BoundedReadError(path, 'is larger than %d bytes, the limit for this file' % limit)


def read_bytes(path: str, limit: int = SMALL_LIMIT, line_limit: int | None = None) -> bytes:
    """The whole content of the regular file at path, at most `limit` bytes, each line (with line_limit) at most
    `line_limit` bytes. Raises BoundedReadError naming path for anything else: a FIFO, device, socket or
    directory (never opened in a way that blocks, and devices are not opened at all), a symbolic link loop, a
    missing or unreadable file, content over a limit (a /proc file says its size is 0, so what is read is counted).

    Use SMALL_LIMIT for control files (comm, stat, sockstat, ip_local_port_range) and TABLE_LIMIT with
    TABLE_LINE_LIMIT for the /proc/net socket tables."""
    try:
        # stat first: opening a device (even without blocking) can act, e.g. a watchdog or a tape.
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise os_error(path, exc) from None
    try:
        status = os.fstat(fd)    # what was opened, if the path was swapped after the stat
        if not stat.S_ISREG(status.st_mode):
            raise _not_regular(path, status.st_mode)
        if status.st_size > limit:
            raise _too_large(path, limit)
        return _read_all(fd, path, limit, line_limit)
    except OSError as exc:
        raise os_error(path, exc) from None
    finally:
        os.close(fd)


def _read_all(fd: int, path: str, limit: int, line_limit: int | None) -> bytes:
    chunks = []
    total = 0
    run = 0     # bytes since the last newline, across chunks
    read = os.read
    size = min(limit + 1, _CHUNK)
    while True:
        chunk = read(fd, size)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise _too_large(path, limit)
        if line_limit is not None:
            run = _check_lines(chunk, run, line_limit, path)
        chunks.append(chunk)
    if len(chunks) == 1:
        return chunks[0]
    return b''.join(chunks)


def _check_lines(chunk: bytes, run: int, line_limit: int, path: str) -> int:
    """The length of the unfinished line at the end of chunk; raises when a line exceeds line_limit. One C-level
    rfind per line_limit bytes: from the start of a line, the last newline within the next line_limit bytes ends
    only lines shorter than the limit, and there must be one."""
    position, end = 0, len(chunk)
    while True:
        room = line_limit - run
        if end - position <= room:
            newline = chunk.rfind(b'\n', position)
            return end - newline - 1 if newline >= 0 else run + end - position
        newline = chunk.rfind(b'\n', position, position + room + 1)
        if newline < 0:
            raise BoundedReadError(path, 'has a line longer than %d bytes, the limit for this file' % line_limit)
        position, run = newline + 1, 0


def read_text(path: str, limit: int = SMALL_LIMIT, line_limit: int | None = None) -> str:
    """read_bytes() decoded with host_text()."""
    return host_text(read_bytes(path, limit, line_limit))


def directory_problem(path: str) -> str | None:
    """None when path is a directory this process can list; else what is wrong, to follow the path's name in a
    message ('does not exist', 'is a symbolic link loop', 'is a regular file, not a directory', ...)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return _why(exc)
    if not stat.S_ISDIR(mode):
        return 'is %s, not a directory' % kind_of(mode)
    if not os.access(path, os.R_OK | os.X_OK):
        return 'is not readable (permission denied)'
    return None


def net_directory(proc_root: object) -> str:
    """{proc_root}/net; ProcRootError (a ValueError) naming proc_root when it cannot be a /proc tree (missing, a
    symbolic link loop, a file or FIFO, unreadable, or without a net/ directory)."""
    if not isinstance(proc_root, str) or not proc_root:
        raise ProcRootError('proc_root: expected the path of a /proc tree, got %r' % (proc_root,))
    problem = directory_problem(proc_root)
    if problem:
        raise ProcRootError('proc_root "%s" %s' % (proc_root, problem))
    net = os.path.join(proc_root, 'net')
    problem = directory_problem(net)
    if problem:
        raise ProcRootError('proc_root "%s" has no usable net/ directory (%s %s), so it is not a /proc tree' % (proc_root, net, problem))
    return net


def host_text(raw: bytes) -> str:
    """Bytes from a host as text: UTF-8, every invalid byte as the four characters \\xNN."""
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw.decode('utf-8', 'backslashreplace')


def host_name(name: str | None) -> str | None:
    """A name Python decoded with surrogateescape (pwd, socket.if_indextoname, os.listdir) as host_text decodes it:
    the bytes that were not UTF-8 become \\xNN instead of lone surrogates."""
    if name is None or name.isascii():
        return name
    try:
        name.encode('utf-8')
        return name
    except UnicodeEncodeError:
        return name.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')
