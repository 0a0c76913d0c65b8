# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/rpmdb.py and packages.py on rpm hosts: the package of a file from rpm's SQLite database.

Oracles: the real `rpm -qf --dbpath` of Debian's rpm 4.18 over a database it made in a tmp folder (`rpm --initdb`,
a tiny package built with `rpmbuild` from fixtures/rpm/w2hello.spec and installed with `--justdb`), where rpm is
installed; and fixtures/rpm/rpmdb.sqlite, that database captured (rpm 4.18, this machine), for hosts without rpm:
the answers `rpm -qf` gave for it are written below. Header bytes are damaged by hand for the hostile cases."""

import os
import shutil
import sqlite3
import struct
import subprocess

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import rpmdb
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.packages import Packages

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'rpm')
# What `rpm -qf --dbpath DIR --qf '%{NAME}\n'` printed for the captured database.
CAPTURED = {'/usr/bin/w2hello': 'w2hello', '/usr/sbin/w2daemon': 'w2hello', '/usr/libexec/w2/helper': 'w2hello'}


def rpm_root(tmp_path, database=os.path.join(FIXTURES, 'rpmdb.sqlite'), folder='usr/lib/sysimage/rpm'):
    target = tmp_path / folder
    target.mkdir(parents=True)
    shutil.copy(database, str(target / 'rpmdb.sqlite'))
    (tmp_path / 'usr' / 'bin').mkdir(parents=True, exist_ok=True)
    os.symlink('usr/bin', str(tmp_path / 'bin'))
    return str(tmp_path)


@pytest.mark.parametrize('folder', ['usr/lib/sysimage/rpm', 'var/lib/rpm'])
def test_the_captured_database(tmp_path, folder):
    root = rpm_root(tmp_path, folder=folder)
    paths = list(CAPTURED) + ['/bin/w2hello', '/usr/bin/w2nothing', '/usr/libexec/helper']
    told = Packages(root=root).lookup(paths)
    for path in paths:
        expected = CAPTURED.get(path.replace('/bin/', '/usr/bin/', 1) if path.startswith('/bin/') else path)
        package, reason = told[path]
        assert reason is None
        assert (package and (package['name'], package['manager'])) == (expected and (expected, 'rpm'))


def test_nothing_is_written_beside_the_database(tmp_path):
    root = rpm_root(tmp_path)
    folder = os.path.join(root, 'usr/lib/sysimage/rpm')
    Packages(root=root).lookup(['/usr/bin/w2hello'])
    assert os.listdir(folder) == ['rpmdb.sqlite']


@pytest.mark.skipif(not (shutil.which('rpm') and shutil.which('rpmbuild')), reason='rpm and rpmbuild are not installed')
def test_against_rpm_qf(tmp_path):
    top = tmp_path / 'build'
    top.mkdir()
    built = subprocess.run(['rpmbuild', '--define', '_topdir %s' % top, '--define', '_dbpath %s' % (top / 'db'),
                            '-bb', os.path.join(FIXTURES, 'w2hello.spec')], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    package = next(os.path.join(folder, name) for folder, _dirs, names in os.walk(str(top / 'RPMS')) for name in names)
    database = tmp_path / 'root' / 'var' / 'lib' / 'rpm'
    database.mkdir(parents=True)
    subprocess.run(['rpm', '--dbpath', str(database), '--initdb'], check=True, capture_output=True)
    subprocess.run(['rpm', '--dbpath', str(database), '-i', '--justdb', '--nodeps', '--ignorearch', '--ignoreos',
                    package], check=True, capture_output=True)
    paths = list(CAPTURED) + ['/usr/bin/w2nothing', '/usr/libexec/w2']
    told = Packages(root=str(tmp_path / 'root')).lookup(paths)
    for path in paths:
        oracle = subprocess.run(['rpm', '--dbpath', str(database), '-qf', '--qf', '%{NAME}\n', path],
                                capture_output=True, text=True, check=False)
        expected = oracle.stdout.strip() if oracle.returncode == 0 else None
        assert (told[path][0] or {}).get('name') == expected, (path, oracle.stdout, oracle.stderr)


@pytest.mark.parametrize('name, kind', [('Packages', 'Berkeley DB'), ('Packages.db', 'ndb')])
def test_formats_not_read_say_so(tmp_path, name, kind):
    (tmp_path / 'var' / 'lib' / 'rpm').mkdir(parents=True)
    (tmp_path / 'var' / 'lib' / 'rpm' / name).write_bytes(b'\0' * 4096)
    package, reason = Packages(root=str(tmp_path)).lookup(['/usr/bin/x'])['/usr/bin/x']
    assert package is None and kind in reason and 'does not read' in reason


def header(entries, data):
    return struct.pack('>II', len(entries), len(data)) + b''.join(struct.pack('>iiii', *entry) for entry in entries) + data


@pytest.mark.parametrize('blob, words', [
    (b'\0\0', 'shorter'),
    (struct.pack('>II', 100000, 0), 'do not fit'),
    (header([(1000, 6, 50, 1)], b'abc\0'), 'outside'),
    (header([(1000, 6, 0, 1)], b'abc'), 'unterminated'),
    (header([(1116, 4, 0, 3)], b'\0' * 8), 'runs past'),
])
def test_damaged_headers(blob, words):
    with pytest.raises(rpmdb.RpmError) as raised:
        rpmdb.parse_header(blob)
    assert words in str(raised.value)


def test_a_header_whose_indexes_point_nowhere_lists_nothing():
    data = b'/usr/bin/\0ls\0' + struct.pack('>i', 7)
    parsed = rpmdb.parse_header(header([(1118, 8, 0, 1), (1117, 8, 10, 1), (1116, 4, 13, 1)], data))
    assert parsed[rpmdb.DIRNAMES] == ['/usr/bin/'] and parsed[rpmdb.DIRINDEXES] == [7]
    assert not rpmdb.owners_in_header(parsed, '/usr/bin/ls')


def test_a_damaged_database_gives_a_reason(tmp_path):
    root = rpm_root(tmp_path)
    database = os.path.join(root, 'usr/lib/sysimage/rpm/rpmdb.sqlite')
    connection = sqlite3.connect(database)
    connection.execute('UPDATE Packages SET blob = ?', (b'\xff' * 12,))
    connection.commit()
    connection.close()
    package, reason = Packages(root=root).lookup(['/usr/bin/w2hello'])['/usr/bin/w2hello']
    assert package is None and 'do not fit' in reason
    with open(database, 'wb') as handle:
        handle.write(b'not a database' * 100)
    package, reason = Packages(root=root).lookup(['/usr/bin/w2hello'])['/usr/bin/w2hello']
    assert package is None and reason.startswith('unreadable: ') and 'database' in reason
