# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The port_baseline files on the controller (_baseline_store.py): names that stay in the folder and come back,
reads of real FIFOs, devices, links and sparse files, atomic writes with the umask's modes."""

from __future__ import annotations

import json
import os
import stat

import pytest

from hypothesis import given, settings, strategies

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _baseline_store as store
from ansible_collections.netaudit.sockets.plugins.plugin_utils._baseline_store import BaselineError


@pytest.mark.parametrize('host, name', [
    ('h1', 'h1.json'),
    ('web-01.example.com', 'web-01.example.com.json'),
    ('WEB_1', 'WEB_1.json'),
    ('a.b.', 'a.b..json'),
    ('..', '%2E..json'),
    ('.', '%2E.json'),
    ('.hidden', '%2Ehidden.json'),
    ('../../x', '%2E.%2F..%2Fx.json'),
    ('/etc/passwd', '%2Fetc%2Fpasswd.json'),
    ('a b', 'a%20b.json'),
    ('%41', '%2541.json'),
    ('ü', '%C3%BC.json'),
    ('fe80::1', 'fe80%3A%3A1.json'),
    ('x\n\x1b', 'x%0A%1B.json'),
])
def test_file_names(host, name):
    assert store.file_name(host) == name
    assert store.host_name(name) == host


@settings(max_examples=500, deadline=None)
@given(strategies.text(min_size=1, max_size=20))
def test_every_name_stays_in_the_folder_and_comes_back(host):
    name = store.file_name(host)
    assert '/' not in name and '\x00' not in name and not name.startswith('.')
    assert os.path.dirname(os.path.normpath(os.path.join('/base', name))) == '/base'
    assert store.host_name(name) == host


@pytest.mark.parametrize('name', ['x.jsonx', '.json', '%zz.json', '%2e.json', '%41.json', 'a b.json', '%2Ex%2.json'])
def test_names_that_no_host_has(name):
    with pytest.raises(BaselineError):
        store.host_name(name)


def test_a_name_too_long_for_a_file_is_refused():
    assert store.file_name('a' * 250) == 'a' * 250 + '.json'
    with pytest.raises(BaselineError, match='the file name would be 256 bytes long'):
        store.file_name('a' * 251)


def test_reads_only_regular_files_within_the_limit(tmp_path):
    good = tmp_path / 'good.json'
    good.write_text(json.dumps({'sockets': [], 'recorded_at': 'x'}))
    assert store.read_document(str(tmp_path), 'good') == (str(good), {'sockets': [], 'recorded_at': 'x'})
    assert store.read_document(str(tmp_path), 'none') == (str(tmp_path / 'none.json'), None)
    os.mkfifo(str(tmp_path / 'fifo.json'))
    os.symlink('/dev/zero', str(tmp_path / 'zero.json'))
    os.symlink('good.json', str(tmp_path / 'alias.json'))
    with open(str(tmp_path / 'sparse.json'), 'wb') as handle:
        handle.truncate(3 << 30)
    sparse = 'is 3 GiB (3221225472 bytes), more than port_baseline_max_size, 16 MiB (16777216 bytes)'
    for host, problem in (('fifo', 'is a FIFO, not a regular file'), ('zero', 'is a symbolic link'),
                          ('alias', 'is a symbolic link'), ('sparse', sparse)):
        with pytest.raises(BaselineError) as caught:
            store.read_document(str(tmp_path), host)
        assert str(caught.value).startswith('baseline for %s (%s/%s.json): %s' % (host, tmp_path, host, problem))


def test_write_is_atomic_keeps_links_elsewhere_and_follows_the_umask(tmp_path):
    folder = tmp_path / 'b'
    outside = tmp_path / 'outside'
    outside.write_text('keep')
    old = os.umask(0o027)
    try:
        path = store.write_document(str(folder), 'h1', {'host': 'h1', 'sockets': [{'netid': 'tcp'}]})
        assert stat.S_IMODE(os.stat(str(folder)).st_mode) == 0o750
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        os.link(path, str(tmp_path / 'hardlink'))
        os.unlink(path)
        os.symlink(str(outside), path)                  # a link planted in its place is replaced, not written through
        store.write_document(str(folder), 'h1', {'host': 'h1', 'sockets': []}, file_mode=0o600)
    finally:
        os.umask(old)
    assert outside.read_text() == 'keep'
    assert json.loads((tmp_path / 'hardlink').read_text())['sockets'] == [{'netid': 'tcp'}]
    assert not os.path.islink(path) and json.loads(open(path).read()) == {'host': 'h1', 'sockets': []}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(folder)) == ['h1.json']


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    store.write_document(str(tmp_path), 'h1', {'sockets': []})
    with pytest.raises(BaselineError, match='more than port_baseline_max_size'):
        store.write_document(str(tmp_path), 'h1', {'sockets': [{'netid': 'x' * 500}]}, max_size=300)
    (tmp_path / 'h2.json').mkdir()
    with pytest.raises(BaselineError, match=r'h2.json\): cannot be written: Is a directory'):
        store.write_document(str(tmp_path), 'h2', {'sockets': []})
    assert sorted(os.listdir(str(tmp_path))) == ['h1.json', 'h2.json']
    assert json.loads((tmp_path / 'h1.json').read_text()) == {'sockets': []}


def test_render_is_one_record_a_line_and_reads_back():
    document = {'host': 'h', 'recorded_at': 'now', 'sockets': [{'netid': 'tcp', 'user': '\udcff\x1b'}, {'netid': 'udp'}]}
    text = store.render(document).decode('ascii')
    assert text.splitlines()[4:6] == ['        {"netid": "tcp", "user": "\\udcff\\u001b"},', '        {"netid": "udp"}']
    assert json.loads(text) == document
