# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: which rpm package owns a file, from rpm's SQLite database, read-only.

rpm 4.16 and later keep their database in SQLite (`rpmdb.sqlite`: Fedora 33+, RHEL / Alma / Rocky 9+, CentOS
Stream 9, openSUSE since 2023 is ndb, see below), in `/usr/lib/sysimage/rpm` (rpm 4.17+ default, /var/lib/rpm being
a link to it) or `/var/lib/rpm`. The table `Packages(hnum, blob)` holds each package's header; `Basenames(key,
hnum, idx)` indexes the base names of every file. A lookup reads the headers that list the base name and keeps those
whose DIRNAMES[DIRINDEXES[idx]] + BASENAMES[idx] is the path, as `rpm -qf` does.

The header blob (as rpm stores it, without the lead and magic): il (u32 BE, entries), dl (u32 BE, data bytes), il
entries of (tag, type, offset, count) u32 BE, then dl bytes of data. Tags read: NAME 1000 (STRING), DIRINDEXES 1116
(INT32 array), BASENAMES 1117 and DIRNAMES 1118 (STRING_ARRAY). Every offset and count is checked against the blob.

Not read: the Berkeley DB `Packages` of rpm before 4.16 (RHEL 8, SLES 15) and the ndb `Packages.db` (openSUSE,
SLES 16): their formats are not rpm's own and no rpm that can write them runs where this was tested. On such hosts
`package` is null with the reason.

The database is opened with SQLite's `mode=ro&immutable=1`: nothing is written beside it (no -shm, no lock); a
transaction rpm has not yet checkpointed from its -wal file is not seen, and the reason says so for paths not found.
"""

from __future__ import annotations

import os
import struct

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import rootfiles

LOCATIONS = ('/usr/lib/sysimage/rpm', '/var/lib/rpm')
OTHER_FORMATS = (('Packages', 'Berkeley DB (rpm before 4.16)'), ('Packages.db', 'ndb'))
NAME, DIRINDEXES, BASENAMES, DIRNAMES = 1000, 1116, 1117, 1118
_STRING, _INT32, _STRING_ARRAY, _I18N = 6, 4, 8, 9
_ENTRY = struct.Struct('>iiii')
# A header is at most 256 MiB in rpm itself (hdrchkData); one with more entries than this is not rpm's.
_MAX_ENTRIES = 0xFFFF
_HEADER_LIMIT = 256 * 1024 * 1024


class RpmError(rootfiles.Unknown):
    """An rpm database or header that cannot be read; the message is the reason."""


def find_database(root: str) -> 'tuple[str | None, str | None]':
    """(path of rpmdb.sqlite, None), (None, reason) when rpm keeps its database in a format not read here, or
    (None, None) when this host has no rpm database."""
    for folder in LOCATIONS:
        path = rootfiles.host_path(root, folder + '/rpmdb.sqlite')
        if os.path.lexists(path):
            return path, None
    for folder in LOCATIONS:
        for name, kind in OTHER_FORMATS:
            path = rootfiles.host_path(root, '%s/%s' % (folder, name))
            if os.path.lexists(path):
                return None, 'the rpm database %s is %s, which this module does not read' % (path, kind)
    return None, None


def parse_header(blob: bytes) -> 'dict[int, object]':
    """{tag: value} of the tags read here: str for NAME, list[str] for BASENAMES/DIRNAMES, list[int] DIRINDEXES."""
    if len(blob) < 8:
        raise RpmError('an rpm header shorter than its counts')
    count, size = struct.unpack_from('>II', blob, 0)
    data_start = 8 + count * _ENTRY.size
    if count > _MAX_ENTRIES or data_start + size > len(blob):
        raise RpmError('an rpm header whose counts (%d entries, %d bytes) do not fit it' % (count, size))
    data = blob[data_start:data_start + size]
    found: 'dict[int, object]' = {}
    for index in range(count):
        tag, kind, offset, items = _ENTRY.unpack_from(blob, 8 + index * _ENTRY.size)
        if tag not in (NAME, DIRINDEXES, BASENAMES, DIRNAMES):
            continue
        if offset < 0 or offset > size or items < 0 or items > size:
            raise RpmError('rpm header tag %d points outside its data' % tag)
        if kind == _INT32:
            if offset + 4 * items > size:
                raise RpmError('rpm header tag %d runs past its data' % tag)
            found[tag] = list(struct.unpack_from('>%di' % items, data, offset))
        elif kind in (_STRING, _STRING_ARRAY, _I18N):
            strings = []
            position = offset
            for _item in range(items if kind != _STRING else 1):
                end = data.find(b'\0', position)
                if end < 0:
                    raise RpmError('rpm header tag %d has an unterminated string' % tag)
                strings.append(_bounded.host_text(data[position:end]))
                position = end + 1
            found[tag] = strings[0] if kind == _STRING else strings
    return found


def owners_in_header(header: 'dict[int, object]', path: str) -> bool:
    """Whether the header lists path among its files."""
    names, folders, indexes = header.get(BASENAMES), header.get(DIRNAMES), header.get(DIRINDEXES)
    if not (isinstance(names, list) and isinstance(folders, list) and isinstance(indexes, list)):
        return False
    folder, base = path.rsplit('/', 1)
    for position, name in enumerate(names):
        if name == base and position < len(indexes) and 0 <= indexes[position] < len(folders):
            if folders[indexes[position]] == folder + '/':
                return True
    return False


def lookup(root: str, database: str, paths: 'list[str]') -> 'tuple[dict[str, list[str]], str | None]':
    """({path: [package NAME, ...]} for the paths rpm lists, a note or None): the note says why a path not found
    may still be a package's (changes in the -wal file not yet checkpointed)."""
    try:
        import sqlite3     # only rpm hosts pay for it
    except ImportError:
        raise RpmError('unreadable: %s: this Python has no sqlite3 module' % database) from None
    problem = rootfiles.trust_problem(root, database)
    if problem:
        raise RpmError(problem)
    if not os.path.isfile(database):
        raise RpmError('unreadable: %s: not a regular file' % database)
    from urllib.parse import quote
    found: 'dict[str, list[str]]' = {}
    try:
        connection = sqlite3.connect('file:%s?mode=ro&immutable=1' % quote(os.path.abspath(database)), uri=True)
        try:
            for path in paths:
                base = path.rsplit('/', 1)[1]
                numbers = [row[0] for row in connection.execute('SELECT DISTINCT hnum FROM Basenames WHERE key = ?', (base,))]
                for number in numbers:
                    row = connection.execute('SELECT blob FROM Packages WHERE hnum = ?', (number,)).fetchone()
                    if row is None or not isinstance(row[0], bytes) or len(row[0]) > _HEADER_LIMIT:
                        continue
                    header = parse_header(row[0])
                    name = header.get(NAME)
                    if isinstance(name, str) and owners_in_header(header, path) and name not in found.get(path, []):
                        found.setdefault(path, []).append(name)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise RpmError('unreadable: %s: %s' % (database, exc)) from None
    wal = database + '-wal'
    note = None
    if os.path.isfile(wal) and os.path.getsize(wal) > 0:
        note = '%s holds changes rpm has not yet written into the database (a transaction in progress?)' % wal
    return found, note
