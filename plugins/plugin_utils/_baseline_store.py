# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the port_baseline files on the controller (names, bounded reads, atomic writes).

- ``file_name(host)``: the baseline's file name for an inventory host name, which never leaves the folder. A name
  made only of ASCII letters, digits, ``_``, ``.`` and ``-`` that does not start with ``.`` is kept as it is
  (``web-01.example.com`` -> ``web-01.example.com.json``); in any other name each UTF-8 byte outside those
  characters, and a leading ``.``, is written ``%XX`` (two upper-case hex digits), so ``../x`` -> ``%2E.%2Fx.json``.
  ``host_name(file_name)`` reverses it. See docs/drift.md.
- ``read_document(folder, host, max_size)``: the baseline as JSON, or None when there is none; ``write_document(...)``
  the baseline written atomically. Both are thin wrappers over plugin_utils/_controller_files.py (a regular file
  only, never through a symbolic link, bounded in size; a temporary file renamed over the old one; modes from the
  umask unless given; a folder that exists keeps its mode): every problem is a BaselineError that names the host
  and the file.
- ``parse_document(data, where)``, ``render(document)``: the file's JSON, checked at the top level and written one
  socket record a line.
"""

from __future__ import annotations

import json
import os

from collections.abc import Mapping
from typing import Any, Optional, Tuple, cast

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _controller_files

SUFFIX = '.json'
DEFAULT_MAX_SIZE = 16 * 1024 * 1024
_KEEP = frozenset(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-')
_NAME_MAX = 255        # bytes in one file name on Linux file systems


class BaselineError(NetauditError, ValueError):
    """A baseline that cannot be read, checked or written; the message names the host, the file and the problem."""


# --- names ------------------------------------------------------------------------------------------------------

def file_name(host: str) -> str:
    """The file name of a host's baseline (see the module docstring); raises BaselineError for a name too long."""
    if not isinstance(host, str) or not host:
        raise BaselineError('baseline: the host name must be a non-empty string, got %r' % (host,))
    raw = host.encode('utf-8', 'surrogatepass')
    if all(byte in _KEEP for byte in raw) and not raw.startswith(b'.'):
        encoded = host
    else:
        encoded = ''.join(chr(byte) if byte in _KEEP and not (index == 0 and byte == 0x2e) else '%%%02X' % byte
                          for index, byte in enumerate(raw))
    name = encoded + SUFFIX
    if len(name) > _NAME_MAX:
        raise BaselineError('baseline for %s: the file name would be %d bytes long, more than the %d a file name can '
                            'have; use a shorter inventory name' % (_hoststr.text(host), len(name), _NAME_MAX))
    return name


def host_name(name: str) -> str:
    """The host name of a baseline file name: file_name() reversed; raises BaselineError for a name it cannot give."""
    if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
        raise BaselineError('%s: not a baseline file name (NAME.json)' % _hoststr.text(name))
    encoded, raw, index = name[:-len(SUFFIX)], bytearray(), 0
    while index < len(encoded):
        char = encoded[index]
        if char == '%':
            digits = encoded[index + 1:index + 3]
            if len(digits) != 2 or any(c not in '0123456789ABCDEF' for c in digits):
                raise BaselineError('%s: "%%" not followed by two upper-case hex digits' % _hoststr.text(name))
            raw.append(int(digits, 16))
            index += 3
        elif len(char.encode('utf-8', 'surrogatepass')) == 1 and ord(char) in _KEEP:
            raw.append(ord(char))
            index += 1
        else:
            raise BaselineError('%s: %r is never written in a baseline file name' % (_hoststr.text(name), char))
    host = bytes(raw).decode('utf-8', 'surrogatepass')
    if file_name(host) != name:
        raise BaselineError('%s: not the file name of any host (that host is written %s)'
                            % (_hoststr.text(name), file_name(host)))
    return host


# --- reading ----------------------------------------------------------------------------------------------------

def _where(host: str, path: str) -> str:
    return 'baseline for %s (%s)' % (_hoststr.text(host), _hoststr.text(path))


def _error(where: str, path: str, exc: _controller_files.ControllerFileError) -> BaselineError:
    """The file's problem after the baseline's words; a problem with another path (the folder) names that path."""
    return BaselineError('%s: %s' % (where, exc.problem if exc.name == path else exc))


def parse_document(data: bytes, where: str) -> dict[str, Any]:
    """The JSON document of a baseline file, its top level checked (records are checked by socket_diff's code)."""
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise BaselineError('%s: not UTF-8 text (byte %d); a baseline is JSON' % (where, exc.start)) from exc
    try:
        document = json.loads(text)
    except RecursionError as exc:
        raise BaselineError('%s: not a baseline: JSON nested too deeply' % where) from exc
    except ValueError as exc:
        raise BaselineError('%s: not JSON: %s' % (where, exc)) from exc
    if not isinstance(document, Mapping):
        raise BaselineError('%s: expected a JSON object with "sockets" (a baseline written by port_baseline), got %s'
                            % (where, _kind(document)))
    if 'sockets' not in document:
        raise BaselineError('%s: sockets: missing; a baseline is a JSON object with "sockets", a list of socket records'
                            % where)
    for key, wanted, test in (('sockets', 'a list', lambda v: isinstance(v, list)),
                              ('recorded_at', 'a string or null', lambda v: v is None or isinstance(v, str)),
                              ('host', 'a string or null', lambda v: v is None or isinstance(v, str)),
                              ('options', 'an object or null', lambda v: v is None or isinstance(v, Mapping))):
        if key in document and not test(document[key]):
            raise BaselineError('%s: %s: expected %s, got %s' % (where, key, wanted, _kind(document[key])))
    return cast('dict[str, Any]', document)     # json.loads reads a JSON object as a dict


def _kind(value: object) -> str:
    if value is None:
        return 'null'
    return {bool: 'a boolean', int: 'a number', float: 'a number', str: 'a string', list: 'a list',
            dict: 'an object'}.get(type(value), 'a value of type %s' % type(value).__name__)


def read_document(folder: str, host: str, max_size: int = DEFAULT_MAX_SIZE) -> Tuple[str, Optional[dict[str, Any]]]:
    """(path, document or None): the host's baseline in `folder`; raises BaselineError."""
    path = os.path.join(folder, file_name(host))
    try:
        found = _controller_files.read_regular(path, max_size, what='a baseline', limit='port_baseline_max_size')
    except _controller_files.ControllerFileError as exc:
        raise _error(_where(host, path), path, exc) from None
    if found is None:
        return path, None
    return path, parse_document(found.data, _where(host, path))


# --- writing ----------------------------------------------------------------------------------------------------

def render(document: Mapping) -> bytes:
    """The baseline as JSON text: the top-level keys one per line, then one socket record per line, which keeps
    files small and line-by-line diffs readable."""
    head = ['    %s: %s' % (json.dumps(key), json.dumps(value, sort_keys=False))
            for key, value in document.items() if key != 'sockets']
    rows = [json.dumps(record, sort_keys=False, separators=(', ', ': ')) for record in document.get('sockets') or ()]
    body = '    "sockets": [%s]' % (('\n        ' + ',\n        '.join(rows) + '\n    ') if rows else '')
    return ('{\n' + ',\n'.join(head + [body]) + '\n}\n').encode('ascii')


def write_document(folder: str, host: str, document: Mapping, max_size: int = DEFAULT_MAX_SIZE,
                   dir_mode: Optional[int] = None, file_mode: Optional[int] = None) -> str:
    """Write the host's baseline atomically, creating the folder if missing; returns its path. Raises BaselineError
    (nothing is left behind)."""
    name = file_name(host)
    path = os.path.join(folder, name)
    where = _where(host, path)
    data = render(document)
    if len(data) > max_size:
        raise BaselineError('%s: would be %s (%d bytes), more than port_baseline_max_size, %s, and could not be read '
                            'back; it is not written (raise port_baseline_max_size)'
                            % (where, _controller_files.size_text(len(data)), len(data),
                               _controller_files.size_text(max_size)))
    try:
        _controller_files.make_folder(folder, dir_mode)
    except _controller_files.ControllerFileError as exc:
        raise BaselineError('baseline folder %s' % exc) from None
    try:
        _controller_files.write_files(folder, [(name, data)], file_mode)
    except _controller_files.ControllerFileError as exc:
        raise _error(where, path, exc) from None
    return path
