# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_bounded.read_bytes on real files of every kind: regular files, /proc files (size 0), FIFOs, devices, sockets,
directories, symbolic link loops, sparse files and long lines."""

from __future__ import annotations

import os
import socket
import time

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded


def test_a_regular_file_and_proc_files_are_read_whole(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'a\nb\n' * 1000)
    assert _bounded.read_bytes(str(path), 8000) == b'a\nb\n' * 1000
    with open('/proc/self/status', 'rb') as handle:
        first = handle.read().split(b'\n')[0]
    assert _bounded.read_bytes('/proc/self/status').split(b'\n')[0] == first     # st_size 0, content counted
    assert os.stat('/proc/net/tcp').st_size == 0
    with open('/proc/net/tcp', 'rb') as handle:
        header = handle.readline()
    assert _bounded.read_bytes('/proc/net/tcp', _bounded.TABLE_LIMIT, _bounded.TABLE_LINE_LIMIT).startswith(header)


def _fifo(tmp_path):
    path = str(tmp_path / 'fifo')
    os.mkfifo(path)
    return path


def _socket(tmp_path):
    path = str(tmp_path / 'sock')
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    _socket.held = sock
    return path


def _loop(tmp_path):
    path = str(tmp_path / 'loop')
    os.symlink(path, path)
    return path


def _zero(tmp_path):
    path = str(tmp_path / 'zero')
    os.symlink('/dev/zero', path)
    return path


@pytest.mark.parametrize('make, words, missing', [
    (_fifo, 'is a FIFO (named pipe), not a regular file', False),
    (_zero, 'is a character device, not a regular file', False),
    (_socket, 'is a socket, not a regular file', False),
    (str, 'is a directory, not a regular file', False),
    (_loop, 'is a symbolic link loop', False),
    (lambda tmp_path: str(tmp_path / 'none'), 'does not exist', True),
    (lambda tmp_path: str(tmp_path / 'none' / 'x'), 'does not exist', True),
])
def test_what_is_not_a_regular_file_is_refused_at_once_by_name(tmp_path, make, words, missing):
    path = make(tmp_path)
    started = time.monotonic()
    with pytest.raises(_bounded.BoundedReadError) as caught:
        _bounded.read_bytes(path)
    assert time.monotonic() - started < 1
    assert str(caught.value) == 'cannot read %s: it %s' % (path, words)
    assert caught.value.missing is missing and isinstance(caught.value, ValueError)


def test_sizes_over_the_limit_are_refused(tmp_path):
    path = tmp_path / 'big'
    with open(path, 'wb') as handle:
        handle.truncate(3 * 1024 ** 3)     # sparse: st_size says it
    with pytest.raises(_bounded.BoundedReadError, match='is larger than 65536 bytes, the limit for this file'):
        _bounded.read_bytes(str(path))
    path.write_bytes(b'x' * 101)
    assert _bounded.read_bytes(str(path), 101) == b'x' * 101
    with pytest.raises(_bounded.BoundedReadError, match='is larger than 100 bytes'):
        _bounded.read_bytes(str(path), 100)


@pytest.mark.parametrize('lines, limit, ok', [
    ([b'a' * 10] * 5, 10, True), ([b'a' * 10, b'a' * 11], 10, False), ([b'a' * 11], 10, False),
    ([b'a' * 3000] * 2000, 3000, True), ([b'a' * 3000] * 2000 + [b'a' * 3001], 3000, False),
    ([b''] * 100 + [b'a' * 5000], 4096, False), ([b'a' * 1024 * 1024 * 3], 4096, False),
])
def test_line_limits_across_chunks(tmp_path, lines, limit, ok):
    path = tmp_path / 'lines'
    path.write_bytes(b'\n'.join(lines) + b'\n')
    if ok:
        assert _bounded.read_bytes(str(path), 1 << 30, limit) == path.read_bytes()
    else:
        with pytest.raises(_bounded.BoundedReadError, match='has a line longer than %d bytes' % limit):
            _bounded.read_bytes(str(path), 1 << 30, limit)


def test_host_strings_are_decoded_with_escapes():
    assert _bounded.host_text(b'a\xffb') == 'a\\xffb'
    assert _bounded.host_name(b'a\xffb'.decode('utf-8', 'surrogateescape')) == 'a\\xffb'
    assert _bounded.host_name('plain') == 'plain' and _bounded.host_name(None) is None
