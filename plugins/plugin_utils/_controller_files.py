# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the files the actions read and write on the controller, in folders that may be
shared with other users (docs/security.md).

- ``read_regular(path, max_size)``: a regular file's bytes and mode, or None when there is no file. Nothing but a
  regular file is opened (a FIFO, device, socket or folder is refused from ``lstat``, before any open), a symbolic
  link is not followed, the open never blocks, and at most ``max_size`` bytes are read.
- ``make_folder(folder, dir_mode)``: the folder and its missing parents, each created with ``dir_mode`` or the
  mode the umask gives; a folder that exists keeps its mode.
- ``write_files(folder, files, mode)``: several files written as one set: each to a new temporary file in the
  folder (``O_EXCL | O_NOFOLLOW``), flushed to disk, and only when all are written renamed over the old ones, so a
  failure (a full disk) before the renames removes the temporaries and leaves every old file as it was. A rename
  replaces a symbolic link itself, never its target; a folder in the way of a file is an error.
- ``umask()``, ``parse_mode(value, option)``, ``size_text(size)``.

Every refusal is a ControllerFileError whose message names the file (or the option) and the problem; callers put
their own words in front (``baseline for HOST (PATH): ...``) from its ``name`` and ``problem``.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat

from typing import List, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

_CHUNK = 1024 * 1024
_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC | getattr(os, 'O_NOCTTY', 0)
_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
# A temporary file's name is '.NAME.XXXXXXXXXXXX.tmp': NAME is cut so that it stays within a file name's 255 bytes.
_TEMPORARY_STEM = 200
_MODE = re.compile(r'^0?[0-7]{3,4}$')


class ControllerFileError(NetauditError, ValueError):
    """A file, folder or mode that cannot be used. ``name`` is the path (or the option), ``problem`` the rest of
    the message: ``'/srv/r/x.json: is a FIFO, not a regular file; it is not read'``."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__('%s: %s' % (_hoststr.text(name), problem))
        self.name = name
        self.problem = problem


class RegularFile(NamedTuple):
    data: bytes
    mode: int           # the permission bits (stat.S_IMODE)


def size_text(size: int) -> str:
    """1536 -> '1.5 KiB', 16777216 -> '16 MiB', 200 -> '200 bytes'."""
    for unit, scale in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if size >= scale:
            return ('%.1f' % (size / scale)).rstrip('0').rstrip('.') + ' ' + unit
    return '%d bytes' % size


def _kind(mode: int) -> str:
    return ('a FIFO' if stat.S_ISFIFO(mode) else 'a folder' if stat.S_ISDIR(mode)
            else 'a device' if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else 'a socket' if stat.S_ISSOCK(mode) else 'not a regular file')


# --- reading ----------------------------------------------------------------------------------------------------

def read_regular(path: str, max_size: int, what: str = 'the file', limit: str = 'the size limit') -> Optional[RegularFile]:
    """The content and mode of the regular file at `path`, at most `max_size` bytes; None when there is no file.
    `what` and `limit` name the file and the limit in the messages ('a baseline', 'port_baseline_max_size').
    Raises ControllerFileError for a symbolic link, a FIFO, a folder, a device, a socket, a file over the limit
    (both sizes named) or one that cannot be opened or read."""
    try:
        before = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise ControllerFileError(path, 'cannot be opened: %s' % exc.strerror) from None
    if stat.S_ISLNK(before.st_mode):
        raise ControllerFileError(path, 'is a symbolic link; %s must be a regular file, links are not followed' % what)
    if not stat.S_ISREG(before.st_mode):
        # Opening a device, even without blocking, can act (a tape rewinds, a watchdog starts): it is not opened.
        raise ControllerFileError(path, 'is %s, not a regular file; it is not read' % _kind(before.st_mode))
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.ELOOP:        # swapped for a link since the lstat
            raise ControllerFileError(path, 'is a symbolic link; %s must be a regular file, links are not followed'
                                      % what) from None
        raise ControllerFileError(path, 'cannot be opened: %s' % exc.strerror) from None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode):
            raise ControllerFileError(path, 'is %s, not a regular file; it is not read' % _kind(found.st_mode))
        if found.st_size > max_size:
            raise ControllerFileError(path, 'is %s (%d bytes), more than %s, %s (%d bytes); it is not read'
                                      % (size_text(found.st_size), found.st_size, limit, size_text(max_size), max_size))
        chunks, total = [], 0
        while total <= max_size:
            chunk = os.read(descriptor, min(_CHUNK, max_size + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_size:
            raise ControllerFileError(path, 'grew past %s, %s, while it was read' % (limit, size_text(max_size)))
        return RegularFile(b''.join(chunks), stat.S_IMODE(found.st_mode))
    except OSError as exc:
        raise ControllerFileError(path, 'cannot be read: %s' % exc.strerror) from None
    finally:
        os.close(descriptor)


# --- modes ------------------------------------------------------------------------------------------------------

def umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc/self/status)."""
    try:
        with open('/proc/self/status') as handle:
            for line in handle:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def parse_mode(value: object, option: str) -> Optional[int]:
    """An octal mode ('0640', '640', or the int YAML makes of an unquoted 0640) as an int; None when not set.
    Raises ControllerFileError naming the option."""
    if value is None or value == '':
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str) and _MODE.match(value.strip()):
        mode = int(value.strip(), 8)
    else:
        raise ControllerFileError(option, 'expected an octal mode such as "0640" (quoted, so that YAML keeps it octal), '
                                          'got %s' % _hoststr.text(repr(value)))
    if not 0 <= mode <= 0o7777:
        raise ControllerFileError(option, 'expected an octal mode such as "0640", got %o, not a mode (0000-7777)' % mode)
    return mode


# --- folders ----------------------------------------------------------------------------------------------------

def make_folder(folder: str, dir_mode: Optional[int] = None) -> List[str]:
    """Create `folder` and its missing parents, each with `dir_mode`, or with 0777 less the umask; a folder that
    exists (or a link to one) keeps its mode. Returns the folders created, outermost first. Raises
    ControllerFileError when something else is in the way or a folder cannot be created."""
    missing, path = [], os.path.abspath(folder)
    while not os.path.isdir(path):
        if os.path.lexists(path):
            raise ControllerFileError(path, 'exists and is not a folder')
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    created = []
    for path in reversed(missing):
        try:
            # Private until chmod: a folder never has more than dir_mode allows, not even for a moment.
            os.mkdir(path, 0o777 if dir_mode is None else 0o700)
        except FileExistsError:
            if os.path.isdir(path):         # made by another run meanwhile: it is theirs, its mode stays
                continue
            raise ControllerFileError(path, 'exists and is not a folder') from None
        except OSError as exc:
            raise ControllerFileError(path, 'cannot be created: %s' % exc.strerror) from None
        created.append(path)
        if dir_mode is not None:
            try:
                os.chmod(path, dir_mode)
            except OSError as exc:
                raise ControllerFileError(path, 'cannot be given mode %04o: %s' % (dir_mode, exc.strerror)) from None
    return created


# --- writing ----------------------------------------------------------------------------------------------------

def _unlink_all(names: Sequence[str], folder_fd: int) -> None:
    for name in names:
        try:
            os.unlink(name, dir_fd=folder_fd)
        except OSError:
            pass


def _temporary(name: str, folder_fd: int) -> Tuple[str, int]:
    stem = os.fsdecode(os.fsencode(name)[:_TEMPORARY_STEM])
    for _attempt in range(100):
        temporary = '.%s.%s.tmp' % (stem, secrets.token_hex(6))
        try:
            return temporary, os.open(temporary, _TEMPORARY_FLAGS, 0o600, dir_fd=folder_fd)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, 'no free temporary file name')


def _write(descriptor: int, data: bytes, mode: int) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
        os.fchmod(descriptor, mode)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _is_folder(name: str, folder_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(name, dir_fd=folder_fd).st_mode)
    except OSError:
        return False        # nothing there (or nothing that can be seen): the rename says what is wrong


def write_files(folder: str, files: Sequence[Tuple[str, bytes]], mode: Optional[int] = None) -> List[str]:
    """Write each (file name, bytes) of `files` in the existing `folder` as one set (see the module docstring);
    each file gets `mode`, or 0666 less the umask. Returns the paths written. Raises ControllerFileError naming the
    file; when it is raised before the renames, every old file is as it was and no temporary file is left."""
    for name, _data in files:
        if not name or '/' in name or name in ('.', '..') or '\x00' in name:
            raise ControllerFileError(name, 'not a file name (it must not contain "/")')
    paths = [os.path.join(folder, name) for name, _data in files]
    mode = (0o666 & ~umask()) if mode is None else mode
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError as exc:
        raise ControllerFileError(folder, 'cannot be opened: %s' % exc.strerror) from None
    try:
        temporaries = []
        try:
            for (name, data), path in zip(files, paths):
                if _is_folder(name, folder_fd):
                    raise ControllerFileError(path, 'cannot be written: %s' % os.strerror(errno.EISDIR))
                try:
                    temporary, descriptor = _temporary(name, folder_fd)
                    temporaries.append(temporary)
                    _write(descriptor, data, mode)
                except OSError as exc:
                    raise ControllerFileError(path, 'cannot be written: %s' % exc.strerror) from None
        except BaseException:
            _unlink_all(temporaries, folder_fd)
            raise
        for done, ((name, _data), path, temporary) in enumerate(zip(files, paths, temporaries)):
            try:
                os.rename(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            except BaseException as exc:
                _unlink_all(temporaries[done:], folder_fd)
                if isinstance(exc, OSError):
                    raise ControllerFileError(path, 'cannot be written: %s' % exc.strerror) from None
                raise
        try:
            os.fsync(folder_fd)             # the renames themselves on disk
        except OSError:
            pass
    finally:
        os.close(folder_fd)
    return paths
