# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's safe files (_controller_files.py) against real files: FIFOs, links to /dev/zero and to regular
files, sparse files, sockets and folders in place of a file; folders and files created under a real umask; a set of
files written on a real full file system (a tiny tmpfs, as root) that leaves the old set byte for byte."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess

import pytest

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _controller_files as files
from ansible_collections.netaudit.sockets.plugins.plugin_utils._controller_files import ControllerFileError
from support.tmpfs import small_tmpfs


@pytest.fixture()
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture()
def no_hang():
    """A read that blocked (a FIFO opened without O_NONBLOCK) fails the test instead of hanging it."""
    def hung(_signum, _frame):
        raise AssertionError('the read blocked')
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refusal(path, max_size=1024, **words):
    with pytest.raises(ControllerFileError) as caught:
        files.read_regular(str(path), max_size, **words)
    assert isinstance(caught.value, ValueError) and caught.value.name == str(path)
    assert str(caught.value) == '%s: %s' % (path, caught.value.problem)
    return caught.value.problem


# --- reading ----------------------------------------------------------------------------------------------------

def test_a_regular_file_is_read_with_its_mode_and_a_missing_one_is_none(tmp_path):
    path = tmp_path / 'r.json'
    path.write_bytes(b'x' * 1024)
    os.chmod(str(path), 0o640)
    assert files.read_regular(str(path), 1024) == (b'x' * 1024, 0o640)
    assert files.read_regular(str(tmp_path / 'none'), 1024) is None
    assert files.read_regular(str(tmp_path / 'none' / 'deeper'), 1024) is None


def test_what_is_not_a_regular_file_is_named_and_not_read(tmp_path, no_hang):
    os.mkfifo(str(tmp_path / 'fifo'))                       # no writer: a blocking open would never return
    (tmp_path / 'folder').mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / 'sock'))
    try:
        assert refusal(tmp_path / 'fifo') == 'is a FIFO, not a regular file; it is not read'
        assert refusal(tmp_path / 'folder') == 'is a folder, not a regular file; it is not read'
        assert refusal(tmp_path / 'sock') == 'is a socket, not a regular file; it is not read'
    finally:
        listener.close()


def test_a_device_is_named_and_not_opened(tmp_path):
    if os.geteuid() != 0:
        pytest.skip('making a device node (mknod) needs root')
    os.mknod(str(tmp_path / 'zero'), 0o600 | stat.S_IFCHR, os.makedev(1, 5))         # what /dev/zero is
    assert refusal(tmp_path / 'zero') == 'is a device, not a regular file; it is not read'


def test_links_are_not_followed_even_to_a_regular_file(tmp_path):
    target = tmp_path / 'target'
    target.write_text('secret')
    os.symlink('/dev/zero', str(tmp_path / 'zero'))
    os.symlink(str(target), str(tmp_path / 'alias'))
    os.symlink('alias', str(tmp_path / 'alias2'))
    for name in ('zero', 'alias', 'alias2'):
        assert refusal(tmp_path / name) == 'is a symbolic link; the file must be a regular file, links are not followed'
    assert refusal(tmp_path / 'alias', what='a baseline') == (
        'is a symbolic link; a baseline must be a regular file, links are not followed')


def test_a_file_over_the_limit_is_named_with_both_sizes_and_not_read(tmp_path, no_hang):
    sparse = tmp_path / 'sparse'
    sparse.write_bytes(b'')
    os.truncate(str(sparse), 3 << 30)                       # 3 GiB, sparse: read whole, it would fill the memory
    assert refusal(sparse, 16 << 20) == ('is 3 GiB (3221225472 bytes), more than the size limit, 16 MiB (16777216 bytes); '
                                         'it is not read')
    assert refusal(sparse, 1536, limit='port_baseline_max_size') == (
        'is 3 GiB (3221225472 bytes), more than port_baseline_max_size, 1.5 KiB (1536 bytes); it is not read')
    exact = tmp_path / 'exact'
    exact.write_bytes(b'y' * 200)
    assert files.read_regular(str(exact), 200).data == b'y' * 200
    assert refusal(exact, 199).startswith('is 200 bytes (200 bytes), more than the size limit, 199 bytes (199 bytes)')


def test_a_hostile_path_is_shown_escaped(tmp_path):
    os.mkfifo(str(tmp_path / 'a\x1b[2Jb'))
    with pytest.raises(ControllerFileError) as caught:
        files.read_regular(str(tmp_path / 'a\x1b[2Jb'), 10)
    assert '\x1b' not in str(caught.value) and 'a\\x1b[2Jb: is a FIFO' in str(caught.value)


# --- folders ----------------------------------------------------------------------------------------------------

def test_missing_folders_follow_the_umask(tmp_path, umask_027):
    folder = tmp_path / 'a' / 'b'
    assert files.make_folder(str(folder)) == [str(tmp_path / 'a'), str(folder)]
    assert [stat.S_IMODE(os.stat(str(path)).st_mode) for path in (tmp_path / 'a', folder)] == [0o750, 0o750]
    assert files.make_folder(str(folder)) == []


def test_missing_folders_get_dir_mode_and_existing_ones_keep_theirs(tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o1777)
    assert files.make_folder(str(shared / 'x' / 'y'), 0o711) == [str(shared / 'x'), str(shared / 'x' / 'y')]
    assert stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(str(shared / 'x')).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(str(shared / 'x' / 'y')).st_mode) == 0o711
    assert files.make_folder(str(shared), 0o700) == [] and stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o1777


def test_a_file_in_the_way_of_a_folder_is_named(tmp_path):
    (tmp_path / 'file').write_text('x')
    for folder in (tmp_path / 'file', tmp_path / 'file' / 'below'):
        with pytest.raises(ControllerFileError) as caught:
            files.make_folder(str(folder))
        assert str(caught.value) == '%s: exists and is not a folder' % (tmp_path / 'file')
    assert (tmp_path / 'file').read_text() == 'x'


# --- writing ----------------------------------------------------------------------------------------------------

def listing(folder):
    return dict((name, (folder / name).read_bytes()) for name in sorted(os.listdir(str(folder))))


def test_a_set_is_written_with_the_umask_mode_and_replaces_links_without_following_them(tmp_path, umask_027):
    folder = tmp_path / 'reports'
    folder.mkdir()
    victim = tmp_path / 'victim'
    victim.write_text('not yours')
    os.symlink(str(victim), str(folder / 'a.json'))
    assert files.write_files(str(folder), [('a.json', b'A'), ('b.md', b'B')]) == [str(folder / 'a.json'), str(folder / 'b.md')]
    assert listing(folder) == {'a.json': b'A', 'b.md': b'B'}
    assert not os.path.islink(str(folder / 'a.json')) and victim.read_text() == 'not yours'
    assert [stat.S_IMODE(os.stat(str(folder / name)).st_mode) for name in ('a.json', 'b.md')] == [0o640, 0o640]
    files.write_files(str(folder), [('b.md', b'B2')], 0o604)
    assert stat.S_IMODE(os.stat(str(folder / 'b.md')).st_mode) == 0o604 and listing(folder)['b.md'] == b'B2'


def test_a_name_of_255_bytes_gets_a_temporary_file_too(tmp_path):
    name = 'ü' * 125 + '.json'                                    # 255 bytes in UTF-8
    files.write_files(str(tmp_path), [(name, b'{}')])
    assert os.listdir(str(tmp_path)) == [name]


def test_a_folder_in_the_way_fails_the_whole_set_before_any_rename(tmp_path):
    files.write_files(str(tmp_path), [('a', b'old a'), ('c', b'old c')])
    (tmp_path / 'b').mkdir()
    with pytest.raises(ControllerFileError) as caught:
        files.write_files(str(tmp_path), [('a', b'new a'), ('b', b'new b'), ('c', b'new c')])
    assert str(caught.value) == '%s: cannot be written: Is a directory' % (tmp_path / 'b')
    assert set(os.listdir(str(tmp_path))) == {'a', 'b', 'c'}                 # no temporary file left
    assert (tmp_path / 'a').read_bytes() == b'old a' and (tmp_path / 'c').read_bytes() == b'old c'


@pytest.mark.parametrize('name', ['', '.', '..', 'a/b', '../a'])
def test_names_that_leave_the_folder_are_refused(tmp_path, name):
    with pytest.raises(ControllerFileError, match='not a file name'):
        files.write_files(str(tmp_path), [(name, b'x')])
    assert os.listdir(str(tmp_path)) == []


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(ControllerFileError) as caught:
        files.write_files(str(tmp_path / 'none'), [('a', b'x')])
    assert str(caught.value) == '%s: cannot be opened: No such file or directory' % (tmp_path / 'none')


@pytest.fixture()
def tiny_tmpfs(tmp_path):
    with small_tmpfs(tmp_path / 'tiny', '64k') as mount:
        yield mount


def test_a_full_disk_leaves_the_old_set_byte_for_byte_and_no_temporary(tiny_tmpfs):
    folder = tiny_tmpfs / 'reports'
    files.make_folder(str(folder))
    files.write_files(str(folder), [('a.json', b'{"old": 1}\n'), ('b.md', b'# old\n'), ('c.txt', b'old\n')])
    before = listing(folder)
    with open(str(tiny_tmpfs / 'filler'), 'wb', buffering=0) as handle:          # fill it, then free three pages
        try:
            while handle.write(b'\0' * 4096):
                pass
        except OSError:
            pass
    os.truncate(str(tiny_tmpfs / 'filler'), max(0, os.path.getsize(str(tiny_tmpfs / 'filler')) - 3 * 4096))
    # a.json (two pages) fits in what is left, b.md does not: the write fails in the middle of the set.
    with pytest.raises(ControllerFileError) as caught:
        files.write_files(str(folder), [('a.json', b'a' * 8192), ('b.md', b'b' * 8192), ('c.txt', b'new\n')])
    assert str(caught.value) == '%s: cannot be written: No space left on device' % (folder / 'b.md')
    assert listing(folder) == before
    os.unlink(str(tiny_tmpfs / 'filler'))
    files.write_files(str(folder), [('a.json', b'a' * 8192), ('b.md', b'b' * 8192)])
    assert listing(folder) == {'a.json': b'a' * 8192, 'b.md': b'b' * 8192, 'c.txt': b'old\n'}


# --- modes ------------------------------------------------------------------------------------------------------

def test_umask_is_read_without_changing_it(umask_027):
    assert files.umask() == 0o027 and files.umask() == 0o027
    assert os.umask(0o027) == 0o027


def test_umask_of_another_process():
    script = ('import os, sys; os.umask(0o077); sys.path[:0] = %r; '
              'from ansible_collections.netaudit.sockets.plugins.plugin_utils import _controller_files as f; '
              'print(oct(f.umask()), oct(os.umask(0)))' % (os.environ.get('PYTHONPATH', '').split(os.pathsep),))
    out = subprocess.run([os.sys.executable, '-c', script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['0o77', '0o77']


@pytest.mark.parametrize('value, mode', [
    (None, None), ('', None), ('0640', 0o640), ('640', 0o640), (' 0750 ', 0o750), ('1777', 0o1777), ('01777', 0o1777),
    (0o600, 0o600), (420, 0o644),
])
def test_modes(value, mode):
    assert files.parse_mode(value, 'mode') == mode


@pytest.mark.parametrize('value, shown', [
    ('rw-r--r--', "got 'rw-r--r--'"), ('0999', "got '0999'"), ('7', "got '7'"), (True, 'got True'), ([1], 'got [1]'),
    ('\x1b[2J', "got '\\x1b[2J'"), (0o17777, 'got 17777'), (-1, 'got -1'),
])
def test_bad_modes_are_named(value, shown):
    with pytest.raises(ControllerFileError) as caught:
        files.parse_mode(value, 'dir_mode')
    assert str(caught.value).startswith('dir_mode: expected an octal mode such as "0640"')
    assert shown in str(caught.value) and '\x1b' not in str(caught.value)
