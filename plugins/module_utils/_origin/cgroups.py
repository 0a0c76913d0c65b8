# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: cgroup v2 paths. The cgroup2 mount, a socket's cgroup id turned into the path
`ss --cgroup` prints, and a process's cgroup paths from /proc/PID/cgroup.

How `ss --cgroup` names a socket's cgroup: the kernel reports the id of the cgroup v2 directory the socket was made
in (INET_DIAG_CGROUP_ID, the record's `cgroup_id`). ss takes the first cgroup2 file system in the mount table, walks
every directory below it once (not crossing into other mounts), asks the kernel for each directory's id, and prints
the directory's path relative to the mount point (`/` for the mount itself). An id it does not meet in the walk is
looked up once more by file handle, and printed as `unreachable:HEX` when that fails too (a removed cgroup). Without
a cgroup2 mount, ss gives up.

The id ss asks for is the directory's kernfs file handle. On a 64-bit kernel that handle is the directory's inode
number, so a directory's inode (free from the directory listing) is its id. On a 32-bit kernel the id carries a
generation in its upper 32 bits and the inode is only its lower half: ids of that form (above 32 bits) are confirmed
with name_to_handle_at(2) through ctypes, loaded only then.

A cgroup's place is written by root (or inside a subtree root delegated to a user, only below it); a cgroup's name
is chosen by whoever made it and may hold any byte but '/' and NUL, a newline too. Names are decoded as every host
string (bytes that are not UTF-8 as \\xNN), and a /proc/PID/cgroup whose lines do not add up (a name with a newline
can fake a line) is refused by name, never half-read.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import time
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded

# The walk of the cgroup tree stops after this many directories or this long, and says so.
WALK_LIMIT = 100000
WALK_SECONDS = 2.0
# /proc/self/mountinfo grows with the mounts (a container host has thousands of lines of ~150 bytes).
MOUNTINFO_LIMIT = 16 * 1024 * 1024
_TIME_CHECK_EVERY = 64
_LOW32 = 0xffffffff


class CgroupMount(NamedTuple):
    """The cgroup2 mount: `point` as the mount table names it, `root` the hierarchy path of its root ('/' unless
    a subtree was mounted, or the mount was made inside a cgroup namespace), `path` where to read it (under the
    filesystem root the caller was given)."""
    point: str
    root: str
    path: str


def _unescape_mount_field(field: bytes) -> bytes:
    """The kernel writes a space, tab, newline and backslash in a mountinfo path as \\040, \\011, \\012, \\134."""
    if b'\\' not in field:
        return field
    out = bytearray()
    index = 0
    while index < len(field):
        octal = field[index + 1:index + 4]
        if field[index:index + 1] == b'\\' and len(octal) == 3 and all(48 <= c <= 55 for c in octal):
            out.append(int(octal, 8) & 0xff)
            index += 4
        else:
            out.append(field[index])
            index += 1
    return bytes(out)


def _cgroup_mounts(data: bytes) -> Iterator[Tuple[bytes, bytes, bytes, bytes]]:
    """(kind, hierarchy root, mount point, super options) of each cgroup or cgroup2 line of a mountinfo text, in
    order, with the kernel's escapes undone."""
    for line in data.split(b'\n'):
        head, separator, tail = line.partition(b' - ')
        fields, after = head.split(b' '), tail.split(b' ')
        if not separator or len(fields) < 5 or not after or after[0] not in (b'cgroup', b'cgroup2'):
            continue
        options = after[2] if len(after) > 2 else b''
        yield after[0], _unescape_mount_field(fields[3]), _unescape_mount_field(fields[4]), options


def find_cgroup2_mount(proc_root: str = '/proc', root: str = '/') -> Tuple[Optional[CgroupMount], Optional[str]]:
    """(the first cgroup2 mount of the module's mount table, None) as ss takes it, or (None, why not)."""
    path = os.path.join(proc_root, 'self', 'mountinfo')
    try:
        data = _bounded.read_bytes(path, MOUNTINFO_LIMIT)
    except _bounded.BoundedReadError as exc:
        return None, str(exc)
    for kind, hierarchy_root, point, _options in _cgroup_mounts(data):
        if kind == b'cgroup2':
            host = os.path.join(os.fsencode(root), point.lstrip(b'/'))
            return CgroupMount(_bounded.host_text(point), _bounded.host_text(hierarchy_root), os.fsdecode(host)), None
    return None, 'no cgroup2 file system is mounted (%s lists none)' % path


def hierarchy_mounts(proc_root: str = '/proc') -> Dict[str, str]:
    """Where each hierarchy's root is mounted: '' for cgroup v2, a v1 controller's name (or `name=systemd`) for
    v1; the first mount of each wins. {} when the mount table cannot be read."""
    try:
        data = _bounded.read_bytes(os.path.join(proc_root, 'self', 'mountinfo'), MOUNTINFO_LIMIT)
    except _bounded.BoundedReadError:
        return {}
    mounts: Dict[str, str] = {}
    for kind, hierarchy_root, point, options in _cgroup_mounts(data):
        if hierarchy_root != b'/':
            continue
        where = _bounded.host_text(point)
        if kind == b'cgroup2':
            mounts.setdefault('', where)
            continue
        for name in _bounded.host_text(options).split(','):
            if name not in ('rw', 'ro') and '=' not in name or name.startswith('name='):
                mounts.setdefault(name, where)
    return mounts


def mount_relative(mount: CgroupMount, proc_path: str) -> Optional[str]:
    """A path from /proc/PID/cgroup (relative to the module's cgroup namespace) as ss prints it (relative to the
    mount); None when the cgroup lies outside the mounted subtree."""
    base = mount.root.rstrip('/')
    if not base:
        return proc_path
    if proc_path == base:
        return '/'
    if proc_path.startswith(base + '/'):
        return proc_path[len(base):]
    return None


# struct file_handle of name_to_handle_at(2): unsigned int handle_bytes, int handle_type, then the handle (room for
# _HANDLE_ROOM bytes). Packed by hand into a plain buffer, so ctypes is loaded only when a handle is asked for.
_HANDLE_HEADER = struct.Struct('=Ii')
_HANDLE_ROOM = 128


def kernfs_handle_id(path: str) -> Optional[int]:
    """The kernel's id of the cgroup directory at path, from its file handle (name_to_handle_at); None when the
    call fails or the handle is not the 8-byte kernfs id."""
    import ctypes  # pylint: disable=import-outside-toplevel     # ~3 ms, for 32-bit kernels only

    try:
        call = ctypes.CDLL(None, use_errno=True).name_to_handle_at
    except (OSError, AttributeError):
        return None
    handle = ctypes.create_string_buffer(_HANDLE_HEADER.size + _HANDLE_ROOM)
    _HANDLE_HEADER.pack_into(handle, 0, _HANDLE_ROOM, 0)
    mount_id = ctypes.c_int()
    at_fdcwd = -100
    if call(at_fdcwd, os.fsencode(path), handle, ctypes.byref(mount_id), 0) != 0:
        return None
    if _HANDLE_HEADER.unpack_from(handle, 0)[0] != 8:
        return None
    return int(struct.unpack_from('=Q', handle, _HANDLE_HEADER.size)[0])


class CgroupIndex:
    """Cgroup id -> path as `ss --cgroup` prints it, for one run. Paths the caller expects (its owners' cgroups) are
    checked first, one stat each; the tree is walked once, and only when an id is not among them. The walk is bounded
    (WALK_LIMIT directories, WALK_SECONDS) and says where it stopped."""

    def __init__(self, mount: CgroupMount, limit: int = WALK_LIMIT, seconds: float = WALK_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 handle_id: Callable[[str], Optional[int]] = kernfs_handle_id) -> None:
        self.mount = mount
        self.limit, self.seconds, self.clock, self.handle_id = limit, seconds, clock, handle_id
        self._found: Dict[int, str] = {}
        self._by_low: Optional[Dict[int, List[bytes]]] = None
        self.walks = 0
        self.cut_short: Optional[str] = None
        self.problems: List[str] = []

    @property
    def walked(self) -> bool:
        return self.walks > 0

    def _host(self, relative: bytes) -> bytes:
        return os.fsencode(self.mount.path).rstrip(b'/') + relative

    def _id_of(self, relative: bytes, wanted: int) -> Optional[int]:
        """The id of one directory, in the form of `wanted` (an inode, or a handle on a 32-bit kernel)."""
        host = self._host(relative) or b'/'
        if wanted > _LOW32:
            return self.handle_id(os.fsdecode(host))
        try:
            status = os.lstat(host)
        except (OSError, ValueError):
            return None
        return status.st_ino if stat.S_ISDIR(status.st_mode) else None

    def path_of(self, cgroup_id: int, expected: Iterable[str] = ()) -> Tuple[Optional[str], Optional[str]]:
        """(path, None), or (None, why not) for an id that no directory of the mount has now."""
        if cgroup_id in self._found:
            return self._found[cgroup_id], None
        for path in expected:
            if path and path.startswith('/') and not set(path.split('/')) & {'.', '..'} and self._id_of(os.fsencode(path.rstrip('/')), cgroup_id) == cgroup_id:
                self._found[cgroup_id] = path
                return path, None
        for walk in range(2):
            # A second walk, once a run, for a cgroup made after the first (ss asks the kernel by handle then).
            if walk and (self.walks > 1 or self.cut_short):
                break
            if self.walks == walk:
                self._walk()
            for relative in (self._by_low or {}).get(cgroup_id & _LOW32, ()):
                if cgroup_id <= _LOW32 or self._id_of(relative, cgroup_id) == cgroup_id:
                    path = _bounded.host_text(relative) or '/'
                    self._found[cgroup_id] = path
                    return path, None
        why = ('cgroup id %d (ss prints unreachable:%x) is no directory of the cgroup2 mount %s: the cgroup was '
               'removed after the socket was made in it' % (cgroup_id, cgroup_id, self.mount.point))
        if self.cut_short or self.problems:
            causes = ([self.cut_short] if self.cut_short else []) + self.problems
            why = 'cgroup id %d was not found: %s' % (cgroup_id, '; '.join(causes))
        return None, why

    def _walk(self) -> None:
        """Every directory below the mount, by inode (the lower 32 bits of a handle id); not across mounts."""
        self.walks += 1
        self.problems = []
        by_low: Dict[int, List[bytes]] = {}
        self._by_low = by_low
        top = self._host(b'')
        try:
            device = os.lstat(top).st_dev
            by_low.setdefault(os.lstat(top).st_ino & _LOW32, []).append(b'')
        except OSError as exc:
            self.problems.append('cannot walk the cgroup2 mount %s: %s' % (self.mount.point, exc.strerror or exc))
            return
        started = self.clock()
        stack = [b'']
        count = 0
        while stack:
            relative = stack.pop()
            try:
                entries = list(os.scandir(self._host(relative)))
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):     # removed during the walk: not a problem
                    self.problems.append('cgroup %s could not be listed (%s)' % (
                        _bounded.host_text(relative) or '/', exc.strerror or exc))
                continue
            for entry in entries:
                try:
                    if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_dev != device:
                        continue
                except OSError:
                    continue
                child = relative + b'/' + os.fsencode(entry.name)
                by_low.setdefault(entry.inode() & _LOW32, []).append(child)
                stack.append(child)
                count += 1
                if count >= self.limit:
                    self.cut_short = ('the walk of the cgroup2 mount %s stopped at %d cgroups, its limit'
                                      % (self.mount.point, self.limit))
                    return
                if count % _TIME_CHECK_EVERY == 0 and self.clock() - started > self.seconds:
                    self.cut_short = ('the walk of the cgroup2 mount %s stopped after %.1f s, its limit, at %d cgroups'
                                      % (self.mount.point, self.seconds, count))
                    return


class ProcessCgroups(NamedTuple):
    """A process's cgroup paths, relative to the module's cgroup namespace: `v2` (the `0::` line), `systemd_v1`
    (the `name=systemd` hierarchy of a hybrid or legacy host); None where the file has no such line."""
    v2: Optional[str]
    systemd_v1: Optional[str]


class CgroupFileError(_bounded.BoundedReadError):
    """A /proc/PID/cgroup that cannot be read, or whose lines are not one per hierarchy."""


def parse_proc_cgroup(data: bytes, path: str = 'cgroup') -> ProcessCgroups:
    """The paths in the text of a /proc/PID/cgroup ("ID:CONTROLLERS:PATH" a line). The kernel writes a cgroup name
    raw, so a name with a newline makes a line of its own: a line of another shape, or a hierarchy (or the
    name=systemd one) listed twice, refuses the whole file (CgroupFileError naming path) rather than pick a line."""
    v2 = systemd = None
    seen: Set[bytes] = set()
    for line in data.split(b'\n'):
        if not line:
            continue
        parts = line.split(b':', 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].startswith(b'/'):
            raise CgroupFileError(path, 'has a line that is not ID:CONTROLLERS:PATH (%s): a cgroup name with a '
                                        'newline?' % _bounded.host_text(line[:80]))
        keys = [b'id:' + parts[0]] + [b'ctl:' + name for name in parts[1].split(b',') if name]
        if seen.intersection(keys):
            raise CgroupFileError(path, 'lists hierarchy %s twice: a cgroup name with a newline that fakes a line'
                                  % _bounded.host_text(parts[0] + b':' + parts[1]))
        seen.update(keys)
        text = _bounded.host_text(parts[2])
        if parts[0] == b'0' and not parts[1]:
            v2 = text
        elif b'name=systemd' in parts[1].split(b','):
            systemd = text
    return ProcessCgroups(v2, systemd)


class CgroupFiles(object):
    """Each process's /proc/PID/cgroup read once in a run, for every field that needs it (the cgroups and units of
    attribute.py, the containers of containers.py): read(pid) gives its bytes or raises the same BoundedReadError."""

    def __init__(self, proc_root: str = '/proc') -> None:
        self.proc_root = proc_root
        self._read: Dict[object, object] = {}

    def path(self, pid: object) -> str:
        return os.path.join(self.proc_root, str(pid), 'cgroup')

    def read(self, pid: object) -> bytes:
        found = self._read.get(pid)
        if found is None:
            try:
                found = _bounded.read_bytes(self.path(pid), _bounded.SMALL_LIMIT)
            except _bounded.BoundedReadError as exc:
                found = exc
            self._read[pid] = found
        if isinstance(found, _bounded.BoundedReadError):
            raise found
        return found  # type: ignore[return-value]  # bytes, or the error raised above


def read_process_cgroups(proc_root: str, pid: int, files: Optional[CgroupFiles] = None) -> ProcessCgroups:
    """The cgroup paths of process pid (through the run's files when given); raises CgroupFileError (a
    BoundedReadError: `missing` when it has gone)."""
    files = files or CgroupFiles(proc_root)
    path = files.path(pid)
    try:
        data = files.read(pid)
    except _bounded.BoundedReadError as exc:
        raise CgroupFileError(exc.path, exc.reason, exc.errno) from None
    return parse_proc_cgroup(data, path)
