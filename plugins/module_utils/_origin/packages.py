# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the package that installed a process's executable (option `packages: true`).

The executable is what /proc/PID/exe names: the path the kernel resolved when the program started. Its package is
read from the package manager's own database files, never by running dpkg or rpm:

- dpkg: `/var/lib/dpkg/info/*.list` (one file per package, one installed path a line) and
  `/var/lib/dpkg/diversions` (triples of lines: the path, where other packages' copy of it went, the package that
  diverted it, `:` for the administrator). Only the paths asked for are looked for (an index of those, not of the
  whole database), in one pass over the list files, bounded by a count of files, bytes and seconds; a pass cut short
  says so, and the paths it did not find are unknown with that reason.
- rpm: rpmdb.py (rpm's SQLite database).

What dpkg's database records and what lies on disk differ in two ways that are resolved as dpkg itself does:

- the usr-merge aliases: on a merged-/usr host /bin is a link to usr/bin (and /sbin, /lib, /lib32, /lib64,
  /libx32 likewise), so the kernel names /usr/bin/ss a file that iproute2 lists as /bin/ss. Each path is also looked
  for under its alias when the alias is such a link on this host. (dpkg 1.21, Debian 12, does not: `dpkg -S
  /usr/bin/ss` says "no path found"; `dpkg -S /bin/ss` names iproute2.)
- diversions: a path P diverted by package D to P' holds D's file, and P' holds the file of the other package that
  lists P (`dpkg-divert --truename`). `dpkg -S P` lists every package that lists P and `dpkg -S P'` none, so for
  these the answer is dpkg's own diversion record, not dpkg -S's list. A path diverted by the administrator (`:`)
  holds the administrator's file: no package.

An executable that is not a package's file (/usr/local, /opt, a venv) has `package` null and no reason. `package` is
unknown (null, with a reason) when the executable was deleted or replaced after the process started (` (deleted)`),
when the process runs in another mount namespace (a container: the path is not this host's file), and when the
database could not be read.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Dict, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import rootfiles, rpmdb
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.rootfiles import Unknown

DPKG_INFO = '/var/lib/dpkg/info'
DPKG_DIVERSIONS = '/var/lib/dpkg/diversions'
USR_MERGE = (('/bin', '/usr/bin'), ('/sbin', '/usr/sbin'), ('/lib', '/usr/lib'), ('/lib32', '/usr/lib32'),
             ('/lib64', '/usr/lib64'), ('/libx32', '/usr/libx32'))
# Bounds of one pass over dpkg's list files: a Debian host has 500 to 5,000 packages and 5 to 50 MB of lists.
MAX_FILES = 50000
MAX_BYTES = 512 * 1024 * 1024
MAX_SECONDS = 10.0
LIST_LIMIT = 64 * 1024 * 1024
DELETED = ' (deleted)'
Told = Tuple[Optional[Dict[str, object]], Optional[str]]


class Packages(object):
    """The packages of one run's executables. package(pid) answers one process; prepare(pids) first looks up the
    executables of many in one pass (the module calls it with every owner), later calls for others pass again."""

    def __init__(self, proc_root: str = '/proc', root: str = '/', max_files: int = MAX_FILES,
                 max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS) -> None:
        self.proc_root = proc_root
        self.root = root or '/'
        self.limits = max_files, max_bytes, max_seconds
        self._paths: 'dict[str, Told]' = {}
        self._diversions: 'dict[str, tuple[str, str, str]] | None' = None
        self._aliases: 'list[tuple[str, str]] | None' = None
        self.passes = 0          # passes over the dpkg lists (for the cost figures)

    # -- entry points -----------------------------------------------------------------------------------------

    def package(self, pid: int) -> Told:
        """({'name', 'manager', 'path'} | None, reason | None) for process pid's executable."""
        try:
            path = self.executable(pid)
        except Unknown as exc:
            return None, str(exc)
        if path is None:
            return None, None
        return self.lookup([path])[path]

    def prepare(self, pids: 'list[int]') -> None:
        """Look up the executables of these processes in one pass (their answers are then cached)."""
        paths = []
        for pid in pids:
            try:
                path = self.executable(pid)
            except Unknown:
                continue
            if path is not None:
                paths.append(path)
        self.lookup(paths)

    def executable(self, pid: int) -> 'str | None':
        """The path /proc/PID/exe names, None for a process without one (a kernel thread); Unknown when that path
        is not the file the process runs (deleted, replaced, a memfd, another mount namespace's file)."""
        link = os.path.join(self.proc_root, str(pid), 'exe')
        try:
            target = os.readlink(link)
        except OSError as exc:
            if exc.errno == errno.ENOENT and os.path.isdir(os.path.dirname(link)):
                return None     # a kernel thread (or a zombie): it runs no file
            raise Unknown('unreadable: %s: %s' % (link, _bounded.os_error(link, exc).reason)) from None
        target = _bounded.host_name(target) or ''
        if target.startswith('/memfd:'):
            raise Unknown('process %d runs an in-memory file (%s), which no package installed' % (pid, target))
        if target.endswith(DELETED):
            raise Unknown('the executable %s was deleted or replaced after process %d started (an upgrade?): the '
                          'file it runs is no longer a package\'s' % (target[:-len(DELETED)], pid))
        if not target.startswith('/'):
            raise Unknown('unreadable: %s: %r is not a path' % (link, target))
        if os.path.realpath(self.proc_root) == '/proc':
            # The path is the process's view; in another mount namespace (a container) it names another file.
            # The file it runs must be the file at that path here, the same inode on the same device.
            try:
                running, here = os.stat(link), os.stat(rootfiles.host_path(self.root, target))
            except OSError as exc:
                raise Unknown('the executable %s of process %d is not a file on this host (%s): another mount '
                              'namespace (a container?)' % (target, pid, exc.strerror)) from None
            if (running.st_dev, running.st_ino) != (here.st_dev, here.st_ino):
                raise Unknown('the file process %d runs is not the file at %s on this host: it runs in another '
                              'mount namespace (a container?), or the file was replaced since' % (pid, target))
        return target

    def lookup(self, paths: 'list[str]') -> 'dict[str, Told]':
        """{path: told} for executable paths, each looked up once per run."""
        missing = sorted(set(path for path in paths if path not in self._paths))
        if missing:
            self._paths.update(self._lookup(missing))
        return dict((path, self._paths[path]) for path in paths)

    # -- dpkg and rpm -----------------------------------------------------------------------------------------

    def _lookup(self, paths: 'list[str]') -> 'dict[str, Told]':
        told: 'dict[str, Told]' = dict((path, (None, None)) for path in paths)
        has_dpkg = os.path.isdir(rootfiles.host_path(self.root, DPKG_INFO))
        database, rpm_problem = rpmdb.find_database(self.root)
        if not has_dpkg and database is None:
            reason = rpm_problem or 'no package database this module reads (dpkg, rpm) on this host'
            return dict((path, (None, reason)) for path in paths)
        left = list(paths)
        if has_dpkg:
            try:
                found, cut = self._dpkg(paths)
            except Unknown as exc:
                found, cut = {}, str(exc)
            for path in paths:
                if path in found:
                    told[path] = found[path]
                elif cut:
                    told[path] = None, cut
            left = [path for path in paths if path not in found]
        if left and (database is not None or rpm_problem):
            if database is None:
                told.update((path, (None, rpm_problem)) for path in left if told[path][1] is None)
                return told
            try:
                owners, note = rpmdb.lookup(self.root, database, [form for path in left for form in self._forms(path)])
            except Unknown as exc:
                told.update((path, (None, str(exc))) for path in left)
                return told
            for path in left:
                names = sorted(set(name for form in self._forms(path) for name in owners.get(form, ())))
                if names:
                    told[path] = {'name': ', '.join(names), 'manager': 'rpm', 'path': path}, None
                elif note and told[path][1] is None:
                    told[path] = None, note
        return told

    def _forms(self, path: str) -> 'list[str]':
        """path, and the same file under its usr-merge alias when that alias is a link on this host."""
        if self._aliases is None:
            self._aliases = []
            for alias, target in USR_MERGE:
                full = rootfiles.host_path(self.root, alias)
                if os.path.islink(full) and os.path.realpath(full) == os.path.realpath(rootfiles.host_path(self.root, target)):
                    self._aliases.append((alias, target))
        forms = [path]
        for alias, target in self._aliases:
            for first, second in ((alias, target), (target, alias)):
                if path.startswith(first + '/'):
                    forms.append(second + path[len(first):])
        return forms

    def _load_diversions(self) -> 'dict[str, tuple[str, str, str]]':
        """{path: ('from' or 'to', the other path, diverting package)} from dpkg's diversions file."""
        if self._diversions is None:
            self._diversions = {}
            try:
                raw = rootfiles.read_root_file(self.root, DPKG_DIVERSIONS, LIST_LIMIT)
            except Unknown as exc:
                if 'does not exist' not in str(exc):
                    raise
                raw = b''
            lines = _bounded.host_text(raw).split('\n')
            for index in range(0, len(lines) - 2, 3):
                source, target, by = lines[index:index + 3]
                self._diversions[source] = ('from', target, by)
                self._diversions[target] = ('to', source, by)
        return self._diversions

    def _dpkg(self, paths: 'list[str]') -> 'tuple[dict[str, Told], str | None]':
        """({path: told} for the paths some package's list holds, the reason a pass was cut short or None)."""
        diversions = self._load_diversions()
        wanted: 'dict[str, list[tuple[str, str, str | None]]]' = {}    # listed path -> [(path, rule, package)]
        for path in paths:
            for form in self._forms(path):
                kind, other, by = diversions.get(form, (None, None, None))
                if kind == 'to':        # other packages' copy of `other`
                    wanted.setdefault(other, []).append((path, 'except', by))   # type: ignore[arg-type]
                elif kind == 'from':    # the diverting package's own file
                    wanted.setdefault(form, []).append((path, 'only', by))
                else:
                    wanted.setdefault(form, []).append((path, 'any', None))
        owners, cut = self._scan(list(wanted))
        found: 'dict[str, Told]' = {}
        local = set()
        for listed, uses in wanted.items():
            for path, rule, by in uses:
                if rule == 'only' and by == ':':
                    local.add(path)     # the administrator's own file
                    continue
                names = [name for name in owners.get(listed, ()) if
                         rule == 'any' or (rule == 'only' and _package(name) == by) or
                         (rule == 'except' and _package(name) != by)]
                if names:
                    known = found.get(path, (None, None))[0] or {'name': '', 'manager': 'dpkg', 'path': path}
                    merged = sorted(set(filter(None, str(known['name']).split(', '))) | set(names))
                    known['name'] = ', '.join(merged)
                    found[path] = known, None
        for path in local:
            found.setdefault(path, (None, None))
        return found, cut

    def _scan(self, listed: 'list[str]') -> 'tuple[dict[str, list[str]], str | None]':
        """{listed path: [package]} over every list file, within the limits; the reason when cut short."""
        self.passes += 1
        names = [name for name in rootfiles.list_root_dir(self.root, DPKG_INFO) if name.endswith('.list')]
        folder = rootfiles.host_path(self.root, DPKG_INFO)
        max_files, max_bytes, max_seconds = self.limits
        # One split and one set intersection per file: the cost grows with the lines read, not with the paths asked.
        wanted = dict((path.encode('utf-8', 'surrogateescape'), path) for path in listed)
        keys = set(wanted)
        owners: 'dict[str, list[str]]' = {}
        started = time.monotonic()
        total = 0
        for count, name in enumerate(names):
            if count >= max_files or total > max_bytes or time.monotonic() - started > max_seconds:
                figures = (count, len(names), total, time.monotonic() - started, max_files, max_bytes, max_seconds)
                return owners, ('the dpkg database was read only in part (%d of %d list files, %d bytes, %.1f s; the '
                                'limits are %d files, %d bytes, %.0f s)' % figures)
            try:
                content = rootfiles.read_entry(folder, name, LIST_LIMIT)
            except Unknown as exc:
                return owners, 'the dpkg database could not be read whole: %s' % exc
            total += len(content)
            for hit in keys.intersection(content.split(b'\n')):
                owners.setdefault(wanted[hit], []).append(_bounded.host_text(name[:-5].encode('utf-8', 'surrogateescape')))
        return owners, None


def _package(list_name: str) -> str:
    """The package of a list file's name: 'libc6:amd64' -> 'libc6'."""
    return list_name.split(':', 1)[0]
