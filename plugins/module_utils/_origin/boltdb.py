# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: read the keys of a bucket in a bbolt (BoltDB) file, read-only, from its bytes.

Podman before 4.8 (and 4.8+ unless told to use SQLite) keeps its container and pod records in a bbolt file,
`/var/lib/containers/storage/libpod/bolt_state.db`. The module never opens the file for writing, takes no lock
(bbolt's readers take none either: pages are copied on write and the meta page names the last committed tree), and
reads the bytes that _bounded.read_bytes returned, so a file changed while it is read is at worst seen as an older
or a broken tree, never a hang.

The format (bbolt's page.go, version 2): pages of `page_size` bytes; each starts with a 16-byte header (id u64,
flags u16, count u16, overflow u32; a page with overflow N spans N+1 pages). Pages 0 and 1 are meta pages (magic
0xED0CDAED, version 2, page size, flags, the root bucket (root page u64, sequence u64), freelist u64, high water
u64, txid u64, then an FNV-1a 64 checksum of the 56 bytes before it); the valid one with the higher txid is current.
A branch page holds `count` elements (pos u32, ksize u32, child page u64), a leaf page `count` elements (flags u32,
pos u32, ksize u32, vsize u32), each key at the element's own offset plus pos, a leaf's value right after its key. A
leaf element with flag 1 is a nested bucket: its value starts with the bucket's root page u64 and sequence u64, and
a bucket whose root page is 0 is inline (its one leaf page follows in the value).

Everything in the file is checked (page numbers, offsets, sizes, depth, loops): a broken or hostile file raises
BoltError with what is wrong, never an IndexError, a recursion or a loop.
"""

from __future__ import annotations

import struct

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

MAGIC = 0xED0CDAED
VERSION = 2
_HEADER = struct.Struct('<QHHI')
_META = struct.Struct('<IIIIQQQQQQ')
_BRANCH = struct.Struct('<IIQ')
_LEAF = struct.Struct('<IIII')
_BRANCH_FLAG, _LEAF_FLAG, _META_FLAG = 0x01, 0x02, 0x04
_BUCKET_LEAF = 0x01
# A B+tree of this depth would hold more keys than any file the module agrees to read; deeper is a loop.
_MAX_DEPTH = 64
_FNV_OFFSET, _FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


class BoltError(NetauditError, ValueError):
    """A bbolt file that cannot be read as one; the message says what is wrong with it."""


def _fnv1a64(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return value


def _meta(data: bytes, offset: int) -> 'tuple[int, int, int] | None':
    """(txid, page size, root page) of the meta page at offset, None when it is not a valid one."""
    end = offset + _HEADER.size + _META.size
    if len(data) < end:
        return None
    flags = _HEADER.unpack_from(data, offset)[1]
    magic, version, page_size, _flags, root, _seq, _free, _high, txid, checksum = _META.unpack_from(
        data, offset + _HEADER.size)
    if flags != _META_FLAG or magic != MAGIC or version != VERSION:
        return None
    if checksum != _fnv1a64(data[offset + _HEADER.size:end - 8]):
        return None
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return None
    return txid, page_size, root


class BoltFile(object):
    """A bbolt file's bytes, read-only: bucket(path) gives a bucket's {key: value} (nested buckets as
    {key: BUCKET}), where path is a list of bucket names (bytes) from the root."""

    BUCKET = object()

    def __init__(self, data: bytes) -> None:
        first = _meta(data, 0)
        if first is None:
            raise BoltError('not a bbolt file (no valid meta page at its start)')
        page_size = first[1]
        second = _meta(data, page_size)
        metas = [meta for meta in (first, second) if meta is not None and meta[1] == page_size]
        self._data = data
        self._page_size = page_size
        self._root = max(metas)[2]

    def bucket(self, path: 'list[bytes]') -> 'dict[bytes, object]':
        """The items of the bucket at path (an empty path: the root bucket's items, which are buckets)."""
        items = self._tree(self._root, None)
        for name in path:
            header = items.get(name)
            if not isinstance(header, tuple):
                raise BoltError('no bucket %r' % name)
            root, inline = header
            items = self._tree(root, inline)
        return dict((key, self.BUCKET if isinstance(value, tuple) else value) for key, value in items.items())

    def _page(self, number: int) -> 'tuple[int, int, int]':
        """(offset, flags, count) of page number, checked to lie in the file."""
        offset = number * self._page_size
        if number < 2 or offset + _HEADER.size > len(self._data):
            raise BoltError('page %d is outside the file' % number)
        _id, flags, count, overflow = _HEADER.unpack_from(self._data, offset)
        if offset + (overflow + 1) * self._page_size > len(self._data):
            raise BoltError('page %d runs past the end of the file' % number)
        return offset, flags, count

    def _tree(self, root: int, inline: 'bytes | None') -> 'dict[bytes, object]':
        """{key: value bytes, or (root page, inline page bytes or None) for a nested bucket}."""
        if inline is not None:
            if len(inline) < _HEADER.size:
                raise BoltError('an inline bucket is shorter than a page header')
            flags, count = _HEADER.unpack_from(inline, 0)[1:3]
            if flags != _LEAF_FLAG:
                raise BoltError('an inline bucket is not a leaf page')
            found: 'dict[bytes, object]' = {}
            self._leaf(inline, 0, count, len(inline), found)
            return found
        found = {}
        self._walk(root, 0, set(), found)
        return found

    def _walk(self, number: int, depth: int, seen: 'set[int]', found: 'dict[bytes, object]') -> None:
        if depth > _MAX_DEPTH or number in seen:
            raise BoltError('page %d is reached twice or too deep (a loop)' % number)
        seen.add(number)
        offset, flags, count = self._page(number)
        end = len(self._data)
        if flags == _LEAF_FLAG:
            self._leaf(self._data, offset, count, end, found)
        elif flags == _BRANCH_FLAG:
            base = offset + _HEADER.size
            if base + count * _BRANCH.size > end:
                raise BoltError('branch page %d has more elements than fit' % number)
            for index in range(count):
                child = _BRANCH.unpack_from(self._data, base + index * _BRANCH.size)[2]
                self._walk(child, depth + 1, seen, found)
        else:
            raise BoltError('page %d is neither a branch nor a leaf (flags 0x%x)' % (number, flags))

    @staticmethod
    def _leaf(data: bytes, offset: int, count: int, end: int, found: 'dict[bytes, object]') -> None:
        base = offset + _HEADER.size
        if base + count * _LEAF.size > end:
            raise BoltError('a leaf page has more elements than fit')
        for index in range(count):
            element = base + index * _LEAF.size
            flags, pos, ksize, vsize = _LEAF.unpack_from(data, element)
            start = element + pos
            if start + ksize + vsize > end:
                raise BoltError('a leaf element runs past its page')
            key = bytes(data[start:start + ksize])
            value = bytes(data[start + ksize:start + ksize + vsize])
            if flags & _BUCKET_LEAF:
                if len(value) < 16:
                    raise BoltError('bucket %r has a short header' % key)
                root = struct.unpack_from('<Q', value, 0)[0]
                found[key] = (root, value[16:] if root == 0 else None)
            else:
                found[key] = value
