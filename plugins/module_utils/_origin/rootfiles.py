# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: read files that only root can have written, under a filesystem root, bounded.

The origin of a socket is told from files that other programs keep: a container runtime's state, the package
managers' databases. Everything on a host is attacker-chosen (docs/security.md), except what only root could
have written. So a file is believed only when it and every directory above it (below `root`, which the caller
chose) are owned by root and not writable by anyone else: a directory writable by others lets them swap what lies
below it, unless it is sticky (/tmp), where nobody but an entry's owner can rename or remove it. The check is made
on the path with its symbolic links resolved, so a link cannot lead the read into a user's directory.

Every refusal is an Unknown whose message is the reason the record gives in `origin_unknown`:
'unreadable: PATH: it is a FIFO (named pipe), not a regular file', 'untrusted: PATH: owned by uid 1000, not root'.
"""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

# The largest runtime state file read (docker's config.v2.json, an OCI config.json, containers.json): a few KiB
# each in practice, a containers.json grows by ~1 KiB a container.
STATE_LIMIT = 8 * 1024 * 1024
# The most entries a state directory may list (containers on one host).
LIST_LIMIT = 100000
# The longest string kept from a state file (a name, a label); longer ones are a hostile file.
TEXT_LIMIT = 4096


class Unknown(NetauditError, ValueError):
    """What could not be told, and why: str(exc) is the reason for origin_unknown."""


def host_path(root: str, path: str) -> str:
    """path (absolute, as the host names it) below root."""
    if root in ('', '/'):
        return path
    return os.path.join(root, path.lstrip('/'))


def _writable_by_others(status: os.stat_result) -> bool:
    return bool(status.st_mode & stat.S_IWOTH or (status.st_mode & stat.S_IWGRP and status.st_gid != 0))


def trust_problem(root: str, path: str) -> 'str | None':
    """None when path (a host path, already below root) and every directory from root down to it are root's and
    cannot be changed by anyone else; else the reason, naming the path."""
    real = os.path.realpath(path)
    top = os.path.realpath(root or '/')
    if top != '/' and real != top and not real.startswith(top + os.sep):
        return 'untrusted: %s: leads outside %s' % (path, root)
    parts = [top]
    rest = real[len(top):].strip(os.sep) if top != '/' else real.strip(os.sep)
    for part in rest.split(os.sep) if rest else ():
        parts.append(os.path.join(parts[-1], part))
    for index, component in enumerate(parts):
        try:
            status = os.stat(component)
        except OSError as exc:
            return 'unreadable: %s: %s' % (path, _bounded.os_error(component, exc).reason)
        if index == 0 and top != '/':
            continue     # the caller's root is the caller's choice
        if status.st_uid != 0:
            return 'untrusted: %s: %s is owned by uid %d, not root' % (path, component, status.st_uid)
        last = index == len(parts) - 1
        if _writable_by_others(status) and (last or not status.st_mode & stat.S_ISVTX):
            return 'untrusted: %s: %s is writable by users other than root' % (path, component)
    return None


def read_root_file(root: str, path: str, limit: int = STATE_LIMIT) -> bytes:
    """The bytes of the host file path (absolute) below root, when only root could have written it; raises
    Unknown with the reason otherwise (missing, a FIFO, too large, owned by a user ...)."""
    full = host_path(root, path)
    problem = trust_problem(root, full)
    if problem:
        raise Unknown(problem)
    try:
        return _bounded.read_bytes(full, limit)
    except _bounded.BoundedReadError as exc:
        raise Unknown('unreadable: %s: it %s' % (full, exc.reason)) from None


def read_entry(folder: str, name: str, limit: int = STATE_LIMIT) -> bytes:
    """The bytes of file name in folder (a host path whose trust_problem the caller found None, as list_root_dir
    does): one lstat for the file itself, which must be root's, not a link, not writable by others."""
    path = os.path.join(folder, name)
    try:
        status = os.lstat(path)
    except OSError as exc:
        raise Unknown('unreadable: %s: %s' % (path, _bounded.os_error(path, exc).reason)) from None
    if stat.S_ISLNK(status.st_mode):
        raise Unknown('untrusted: %s: a symbolic link in a folder of root-only files' % path)
    if status.st_uid != 0 or _writable_by_others(status):
        raise Unknown('untrusted: %s: owned by uid %d or writable by others' % (path, status.st_uid))
    try:
        return _bounded.read_bytes(path, limit)
    except _bounded.BoundedReadError as exc:
        raise Unknown('unreadable: %s: it %s' % (path, exc.reason)) from None


def read_json(root: str, path: str, limit: int = STATE_LIMIT) -> 'dict[str, object]':
    """A root-only JSON file whose top level is an object; Unknown for anything else (invalid UTF-8, invalid JSON,
    nesting deep enough to exhaust the parser)."""
    full = host_path(root, path)
    return parse_json(read_root_file(root, path, limit), full, dict)  # type: ignore[return-value]


def parse_json(raw: bytes, name: str, kind: type) -> object:
    """raw parsed as JSON of the given top-level type; Unknown naming name otherwise."""
    try:
        value = json.loads(raw.decode('utf-8'))
    except UnicodeDecodeError as exc:
        raise Unknown('unreadable: %s: not UTF-8 (byte %d)' % (name, exc.start)) from None
    except (ValueError, RecursionError) as exc:
        raise Unknown('unreadable: %s: not valid JSON (%s)' % (name, str(exc)[:80] or type(exc).__name__)) from None
    if not isinstance(value, kind):
        raise Unknown('unreadable: %s: not a JSON %s' % (name, 'object' if kind is dict else 'array'))
    return value


def list_root_dir(root: str, path: str, limit: int = LIST_LIMIT) -> 'list[str]':
    """The entry names of a root-only directory (sorted); Unknown when it is not one or has more than limit."""
    full = host_path(root, path)
    problem = trust_problem(root, full) or (None if os.path.isdir(full) else 'unreadable: %s: not a directory' % full)
    if problem:
        raise Unknown(problem)
    names = []
    try:
        with os.scandir(full) as entries:
            for entry in entries:
                names.append(entry.name)
                if len(names) > limit:
                    raise Unknown('unreadable: %s: more than %d entries' % (full, limit))
    except OSError as exc:
        raise Unknown('unreadable: %s: %s' % (full, _bounded.os_error(full, exc).reason)) from None
    return sorted(names)


def text(value: object) -> 'str | None':
    """A string from a state file as the facts carry it: None unless a non-empty string; lone surrogates (JSON
    escapes of invalid UTF-16) shown as \\uXXXX text; over TEXT_LIMIT characters cut, with a marker."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) > TEXT_LIMIT:
        value = value[:TEXT_LIMIT] + '...(cut)'
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        value = value.encode('utf-8', 'backslashreplace').decode('utf-8')
    return value
