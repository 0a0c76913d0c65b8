# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: systemd's unit definitions of one type, read as systemd loads them, read-only.

A unit's file is the first of its name along the manager's search path; a link to /dev/null (or an empty file)
masks it. Drop-ins (`*.conf`) come from `NAME.TYPE.d/` in every directory of the path, also from the template's
(`foo@.socket.d/`), from each dash prefix of the name (`foo-bar-.socket.d/`, `foo-.socket.d/`) and from the type's
own (`socket.d/`); a drop-in overrides another of the same file name further along the path, and all are applied
in the order of their file names. Instances (`foo@bar.socket`) are the names found in `*.wants/` and `*.requires/`
folders, read from their template. Links are followed inside `root` (an absolute link target means root + target).

Every file and folder is untrusted: a FIFO, a device, a huge file, a link loop, text that is not UTF-8, a drop-in
folder that is a file. Such a unit is returned with its `problem` (a sentence naming the path) and no assignments:
the caller fails closed on it, and a unit read cleanly is never replaced by a guess.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import units

# The system manager's search path, first found wins.
SYSTEM_SEARCH_PATH = (
    '/etc/systemd/system.control', '/run/systemd/system.control', '/run/systemd/transient',
    '/run/systemd/generator.early', '/etc/systemd/system', '/etc/systemd/system.attached', '/run/systemd/system',
    '/run/systemd/system.attached', '/run/systemd/generator', '/usr/local/lib/systemd/system',
    '/usr/lib/systemd/system', '/lib/systemd/system', '/run/systemd/generator.late',
)
UNIT_FILE_LIMIT = 1024 * 1024
READ_BUDGET = 64 * 1024 * 1024    # all unit files and drop-ins read for one manager
UNIT_LIMIT = 5000                 # units of the type loaded for one manager
DIRECTORY_LIMIT = 20000      # entries read from one folder
LINK_HOPS = 40
_DEPENDENCY_FOLDERS = ('.wants', '.requires', '.upholds')


class UnitFileProblem(NetauditError):
    """A file or folder that cannot be read as systemd would read it; the message names it. `missing` when the
    path is not there (most units have no drop-in folder)."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.missing = code in (errno.ENOENT, errno.ENOTDIR)


class LoadedUnit(NamedTuple):
    """One unit: `assignments` [(section, key, value, file)] in the order systemd applies them (file, then drop-ins);
    `masked` when its file is masked; `problem` when it could not be read (then no assignments)."""
    name: str
    fragment: Optional[str]
    assignments: List[Tuple[str, str, str, str]]
    masked: bool
    problem: Optional[str]


def user_search_path(uid: int, environ: Mapping[str, str], home: Optional[str]) -> List[str]:
    """A user manager's search path, from its environment (XDG_* when absolute) and home folder."""
    def absolute(value: Optional[str]) -> Optional[str]:
        return value if value and value.startswith('/') else None

    runtime = absolute(environ.get('XDG_RUNTIME_DIR')) or '/run/user/%d' % uid
    config_home = absolute(environ.get('XDG_CONFIG_HOME')) or (home and home.rstrip('/') + '/.config')
    data_home = absolute(environ.get('XDG_DATA_HOME')) or (home and home.rstrip('/') + '/.local/share')
    config_dirs = [d for d in (environ.get('XDG_CONFIG_DIRS') or '/etc/xdg').split(':') if absolute(d)]
    data_dirs = [d for d in (environ.get('XDG_DATA_DIRS') or '/usr/local/share:/usr/share').split(':') if absolute(d)]
    paths = [config_home and config_home + '/systemd/user.control', runtime + '/systemd/user.control',
             runtime + '/systemd/transient', runtime + '/systemd/generator.early',
             config_home and config_home + '/systemd/user']
    paths += [d.rstrip('/') + '/systemd/user' for d in config_dirs]
    paths += ['/etc/systemd/user', runtime + '/systemd/user', '/run/systemd/user', runtime + '/systemd/generator',
              data_home and data_home + '/systemd/user']
    paths += [d.rstrip('/') + '/systemd/user' for d in data_dirs]
    paths += ['/usr/local/lib/systemd/user', '/usr/lib/systemd/user', runtime + '/systemd/generator.late']
    return [path for path in paths if path]


def with_unit_path_override(default: Sequence[str], environ: Mapping[str, str]) -> List[str]:
    """SYSTEMD_UNIT_PATH in the manager's environment replaces the path (a trailing ':' keeps the default after it)."""
    override = environ.get('SYSTEMD_UNIT_PATH')
    if not override:
        return list(default)
    parts = override.split(':')
    chosen = [part for part in parts if part.startswith('/')]
    if parts[-1] == '':
        chosen += [path for path in default if path not in chosen]
    return chosen


class Tree:
    """Paths inside `root`: links followed as if root were '/', every read bounded."""

    def __init__(self, root: str = '/', budget: Optional[int] = None) -> None:
        self.root = os.path.abspath(root)
        self.budget = READ_BUDGET if budget is None else budget

    def host(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip('/')) if self.root != '/' else path

    def resolve(self, path: str) -> str:
        """The path with every link followed (inside root); '/dev/null' for a link to it, whether the tree has
        one or not. Raises UnitFileProblem (ENOENT in its errno when something is missing)."""
        todo = [part for part in path.split('/') if part]
        done = '/'
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == '.':
                continue
            if part == '..':
                done = os.path.dirname(done)
                continue
            candidate = os.path.join(done, part)
            if os.path.join(candidate, *todo) == '/dev/null':
                return '/dev/null'      # masked, whether the tree has a /dev or not
            try:
                mode = os.lstat(self.host(candidate)).st_mode
                if stat.S_ISLNK(mode):
                    hops += 1
                    if hops > LINK_HOPS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                    target = os.readlink(self.host(candidate))
                    if target.startswith('/'):
                        done = '/'
                    todo[:0] = [piece for piece in target.split('/') if piece]
                    continue
            except (OSError, ValueError) as exc:
                error = exc if isinstance(exc, OSError) else OSError(errno.EINVAL, str(exc))
                raise UnitFileProblem('%s %s' % (path, _bounded.os_error(path, error).reason), error.errno) from None
            done = candidate
        return done

    def listing(self, folder: str) -> List[str]:
        """The names in a resolved folder (at most DIRECTORY_LIMIT); raises UnitFileProblem."""
        names: List[str] = []
        try:
            with os.scandir(self.host(folder)) as entries:
                for entry in entries:
                    if len(names) >= DIRECTORY_LIMIT:
                        raise UnitFileProblem('%s holds more than %d entries, the limit' % (folder, DIRECTORY_LIMIT))
                    names.append(entry.name)
        except OSError as exc:
            raise UnitFileProblem('%s %s' % (folder, _bounded.os_error(folder, exc).reason), exc.errno) from None
        return names

    def describe(self, resolved: str) -> str:
        """What the resolved path is, in words ('a FIFO (named pipe)'), for a message."""
        try:
            return _bounded.kind_of(os.stat(self.host(resolved)).st_mode)
        except OSError as exc:
            return 'unreadable (%s)' % (exc.strerror or exc)

    def kind(self, resolved: str) -> str:
        """'dir', 'file', 'null' (masked: /dev/null or an empty file), or 'other'."""
        if resolved == '/dev/null':
            return 'null'
        try:
            status = os.stat(self.host(resolved))
        except OSError:
            return 'other'
        if stat.S_ISDIR(status.st_mode):
            return 'dir'
        if stat.S_ISCHR(status.st_mode) and status.st_rdev == os.makedev(1, 3):
            return 'null'
        if stat.S_ISREG(status.st_mode):
            return 'null' if status.st_size == 0 else 'file'
        return 'other'

    def read(self, resolved: str) -> bytes:
        if self.budget <= 0:
            raise UnitFileProblem('%s was not read: the unit files read for this manager passed %d bytes, the limit'
                                  % (resolved, READ_BUDGET))
        try:
            data = _bounded.read_bytes(self.host(resolved), min(UNIT_FILE_LIMIT, self.budget))
        except _bounded.BoundedReadError as exc:
            raise UnitFileProblem('%s %s' % (resolved, exc.reason)) from None
        self.budget -= len(data)
        return data


def parse_unit_text(data: bytes, path: str) -> List[Tuple[str, str, str]]:
    """[(section, key, value)] of a unit file or drop-in, as systemd reads its syntax: comments (# ;) skipped, a
    line ending in an unescaped backslash continued on the next (the backslash becomes a space), `[Section]`
    headers, `Key=Value` with blanks around both stripped. Raises UnitFileProblem for text that is not UTF-8 or
    holds a NUL byte: systemd would skip such lines, so what it loaded from them is not known here."""
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise UnitFileProblem('%s is not UTF-8 (byte %d), so what systemd read from it is not known'
                              % (path, exc.start)) from None
    if '\0' in text:
        raise UnitFileProblem('%s holds a NUL byte' % path)
    text = text[1:] if text.startswith('\ufeff') else text
    found = []
    section = None
    pending = None
    for raw in text.split('\n'):
        stripped = raw.strip(' \t\r')
        if stripped[:1] in ('#', ';'):
            continue
        line = raw if pending is None else pending + raw
        escaped = False
        for char in line:
            escaped = not escaped and char == '\\'
        if escaped:
            pending = line[:-1] + ' '
            continue
        pending = None
        line = line.strip(' \t\r\n')
        if not line:
            continue
        if line.startswith('['):
            section = line[1:-1] if line.endswith(']') and len(line) > 2 else None
            continue
        key, equals, value = line.partition('=')
        if section is None or not equals:
            continue
        found.append((section, key.strip(' \t'), value.strip(' \t')))
    return found


def dropin_names(name: str) -> List[str]:
    """The names whose `.d` folders hold drop-ins for unit `name`, most specific first (name, template, prefixes)."""
    found = [name]
    instance = units.unit_instance(name)
    if instance:
        found += dropin_names(units.template_of(name))
    prefix = name.rpartition('.')[0].partition('@')[0]
    chopped = False
    while True:
        dash = prefix.rfind('-')
        if dash <= 0:
            return found
        if dash + 1 < len(prefix) or chopped:
            prefix = prefix[:dash + 1]
            break
        prefix, chopped = prefix[:dash], True
    built = '%s%s.%s' % (prefix, '@' + instance if instance is not None else '', units.unit_type(name))
    return found + dropin_names(built)


class UnitFiles:
    """The units of one type (`socket`) along a search path inside root, loaded once per instance."""

    def __init__(self, search_path: Sequence[str], root: str = '/', unit_type: str = 'socket') -> None:
        self.search_path = list(search_path)
        self.tree = Tree(root)
        self.unit_type = unit_type
        self.problems: List[str] = []      # folders of the path that could not be read

    def _folders(self) -> List[Tuple[str, str]]:
        """[(search folder, resolved)] of the folders that exist."""
        found = []
        for folder in self.search_path:
            try:
                resolved = self.tree.resolve(folder)
            except UnitFileProblem as problem:
                if not problem.missing:
                    self.problems.append(str(problem))
                continue
            if self.tree.kind(resolved) == 'dir':
                found.append((folder, resolved))
        return found

    def load(self) -> List[LoadedUnit]:
        folders = self._folders()
        first: Dict[str, str] = {}       # name -> path of its first file along the path
        wanted: Set[str] = set()
        suffix = '.' + self.unit_type
        for folder, resolved in folders:
            try:
                names = self.tree.listing(resolved)
            except UnitFileProblem as problem:
                self.problems.append(str(problem))
                continue
            for name in sorted(names):
                if name.endswith(suffix) and units.valid_unit_name(name, template=True):
                    first.setdefault(name, os.path.join(folder, name))
                elif name.endswith(_DEPENDENCY_FOLDERS):
                    wanted.update(self._instances(os.path.join(resolved, name)))
        every = sorted(set(name for name in first if units.unit_instance(name) != '') | wanted)
        resolved_folders = set(resolved for _folder, resolved in folders)
        loaded = []
        if len(every) > UNIT_LIMIT:
            self.problems.append('%d %s units along the search path, more than the %d read'
                                 % (len(every), self.unit_type, UNIT_LIMIT))
        for name in every[:UNIT_LIMIT]:
            fragment = first.get(name) or first.get(units.template_of(name)) if '@' in name else first.get(name)
            if fragment is None:
                continue
            unit = self._load_one(name, fragment, resolved_folders)
            if unit is not None:
                loaded.append(unit)
        return loaded

    def _instances(self, folder: str) -> List[str]:
        try:
            names = self.tree.listing(folder)
        except UnitFileProblem:
            return []      # a dependency folder that is not one: systemd skips it, and it declares no socket
        return [name for name in names if name.endswith('.' + self.unit_type) and units.valid_unit_name(name, plain=False)]

    def _load_one(self, name: str, fragment: str, resolved_folders: Set[str]) -> Optional[LoadedUnit]:
        try:
            resolved = self.tree.resolve(fragment)
            target = os.path.basename(resolved)
            if (os.path.islink(self.tree.host(fragment)) and target != name and os.path.dirname(resolved) in resolved_folders
                    and units.valid_unit_name(target, template=True) and target != units.template_of(name)):
                return None      # an alias: the unit is loaded under the name of the file it links to
            kind = self.tree.kind(resolved)
            if kind == 'null':
                return LoadedUnit(name, fragment, [], True, None)
            if kind != 'file':
                raise UnitFileProblem('%s is %s, not a regular file' % (fragment, self.tree.describe(resolved)))
            assignments = [(s, k, v, fragment) for s, k, v in parse_unit_text(self.tree.read(resolved), fragment)]
            for dropin in self._dropins(name):
                assignments += [(s, k, v, dropin) for s, k, v in
                                parse_unit_text(self.tree.read(self.tree.resolve(dropin)), dropin)]
        except UnitFileProblem as problem:
            return LoadedUnit(name, fragment, [], False, 'unit %s: %s' % (name, problem))
        return LoadedUnit(name, fragment, assignments, False, None)

    def _dropins(self, name: str) -> List[str]:
        """The drop-in files of `name`, in the order systemd applies them; masked ones left out."""
        folders = []
        for base in self.search_path:
            folders += ['%s/%s.d' % (base.rstrip('/'), each) for each in dropin_names(name)]
        folders += ['%s/%s.d' % (base.rstrip('/'), self.unit_type) for base in self.search_path]
        chosen: Dict[str, str] = {}
        for folder in folders:
            try:
                resolved = self.tree.resolve(folder)
            except UnitFileProblem as problem:
                if problem.missing:
                    continue
                raise
            kind = self.tree.kind(resolved)
            if kind != 'dir':
                raise UnitFileProblem('the drop-in folder %s is %s, not a folder' % (
                    folder, 'a link to /dev/null' if resolved == '/dev/null' else self.tree.describe(resolved)))
            for entry in self.tree.listing(resolved):
                if entry.endswith('.conf'):
                    chosen.setdefault(entry, os.path.join(folder, entry))
        ordered = []
        for entry in sorted(chosen):
            path = chosen[entry]
            if self.tree.kind(self.tree.resolve(path)) != 'null':
                ordered.append(path)
        return ordered
