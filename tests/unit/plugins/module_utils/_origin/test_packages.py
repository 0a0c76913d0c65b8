# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/packages.py: the package of a process's executable, from dpkg's database files.

Oracle: the real `dpkg -S` (and `dpkg-divert`) of this machine, on the executables of real processes (a real sshd,
the Python holders, every process running) and on the files this machine's packages divert; dpkg 1.21 does not
resolve the usr-merge aliases, so the oracle asks for the alias when dpkg says "no path found", as dpkg's own
database records it. dpkg trees written in dpkg's format under a tmp root for what this machine lacks (a local
diversion, Multi-Arch: same lists, an unmerged /usr, hostile files), marked as such."""

import functools
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import packages
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.packages import Packages

needs_dpkg = pytest.mark.skipif(not shutil.which('dpkg') or not os.path.isdir('/var/lib/dpkg/info'),
                                reason='not a dpkg host')


@functools.lru_cache(maxsize=None)
def dpkg_divert_list():
    return subprocess.run(['dpkg-divert', '--list'], capture_output=True, text=True, check=True).stdout.splitlines()


def dpkg_diversion(path):
    """(from, to, by) when dpkg-divert knows path as either end, else None (the oracle, from dpkg itself)."""
    for line in dpkg_divert_list():
        # "diversion of /usr/bin/perf to /usr/bin/perf.wrapper by linux-perf" / "local diversion of A to B"
        words = line.split()
        source, target = words[words.index('of') + 1], words[words.index('to') + 1]
        by = words[words.index('by') + 1] if 'by' in words else ':'
        if path in (source, target):
            return source, target, by
    return None


def dpkg_S(path):
    """The packages that own the file at path, as dpkg's database says: `dpkg -S` (its alias when dpkg finds no
    path), with the diverted file belonging to the diverter and its other copy to the other packages."""
    def listed(one):
        done = subprocess.run(['dpkg', '-S', one], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            if not line.startswith('diversion by ') and ': ' in line:
                names, _separator, where = line.rpartition(': ')
                if where == one:
                    return set(names.split(', '))
        return set()
    forms = [path]
    for alias, target in packages.USR_MERGE:
        if os.path.islink(alias) and os.path.realpath(alias) == target and path.startswith(target + '/'):
            forms.append(alias + path[len(target):])
    for form in forms:
        diversion = dpkg_diversion(form)
        if diversion:
            source, target, by = diversion
            owners = listed(source)
            if form == source:
                return {by} & owners
            return set(name for name in owners if name.split(':')[0] != by)
        found = listed(form)
        if found:
            return found
    return set()


def told_names(told):
    package, reason = told
    assert reason is None, reason
    return set(package['name'].split(', ')) if package else set()


@needs_dpkg
def test_every_running_executable_against_dpkg_S():
    finder = Packages()
    pids = [int(entry) for entry in os.listdir('/proc') if entry.isdigit()]
    finder.prepare(pids)
    checked = set()
    for pid in pids:
        package, reason = finder.package(pid)
        if reason is not None or package is None and pid in checked:
            continue
        try:
            path = finder.executable(pid)
        except packages.Unknown:
            continue
        if path is None or path in checked:
            continue
        checked.add(path)
        assert told_names((package, None)) == dpkg_S(path), path
    assert len(checked) >= 3
    assert finder.passes == 1         # one pass over the lists for them all, then the cache


@needs_dpkg
@pytest.mark.parametrize('path', ['/usr/sbin/sshd', os.path.realpath('/usr/bin/python3'), '/usr/bin/ss', '/usr/bin/bash',
                                  '/usr/bin/dash', '/usr/bin/perf', '/usr/bin/perf.wrapper', '/usr/bin/pg_config',
                                  '/usr/bin/pg_config.libpq-dev', '/usr/local/bin/none', '/usr/bin/no-such-program'])
def test_paths_against_dpkg_S(path):
    assert told_names(Packages().lookup([path])[path]) == dpkg_S(path)


@needs_dpkg
def test_a_real_sshd_and_a_holder(tmp_path):
    if not os.path.exists('/usr/sbin/sshd'):
        pytest.skip('openssh-server is not installed')
    key = tmp_path / 'key'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)], check=True)
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    os.makedirs('/run/sshd', exist_ok=True)
    sshd = subprocess.Popen(['/usr/sbin/sshd', '-D', '-e', '-f', '/dev/null', '-h', str(key), '-o', 'PidFile=none',
                             '-o', 'ListenAddress=127.0.0.1:%d' % port], stderr=subprocess.DEVNULL)
    holder = subprocess.Popen(['/usr/bin/python3', '-c', 'import time; time.sleep(60)'])
    try:
        time.sleep(0.3)
        assert sshd.poll() is None
        finder = Packages()
        finder.prepare([sshd.pid, holder.pid])
        for pid in (sshd.pid, holder.pid):
            path = os.readlink('/proc/%d/exe' % pid)
            assert told_names(finder.package(pid)) == dpkg_S(path) != set()
    finally:
        for proc in (sshd, holder):
            proc.kill()
            proc.wait()


def test_a_replaced_executable_is_unknown(tmp_path):
    program = tmp_path / 'daemon'
    shutil.copy2(os.path.realpath(sys.executable), str(program))
    proc = subprocess.Popen([str(program), '-c', 'import time; time.sleep(60)'])
    try:
        deadline = time.monotonic() + 5
        while os.readlink('/proc/%d/exe' % proc.pid) != str(program):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        shutil.copy2(str(program), str(tmp_path / 'new'))
        os.rename(str(tmp_path / 'new'), str(program))         # as an upgrade replaces it
        package, reason = Packages().package(proc.pid)
        assert package is None and 'was deleted or replaced' in reason
    finally:
        proc.kill()
        proc.wait()


def test_a_kernel_thread_has_no_executable_and_no_reason():
    assert Packages().package(2) == (None, None)        # kthreadd


# -- dpkg trees written in dpkg's format -------------------------------------------------------------------------


def dpkg_tree(root, lists, diversions=(), merged=True):
    info = root / 'var' / 'lib' / 'dpkg' / 'info'
    info.mkdir(parents=True)
    for name, paths in lists.items():
        (info / (name + '.list')).write_text(''.join(path + '\n' for path in ['/.', '/usr', '/usr/bin'] + paths))
    (root / 'var' / 'lib' / 'dpkg' / 'diversions').write_text(''.join('%s\n%s\n%s\n' % item for item in diversions))
    (root / 'usr' / 'bin').mkdir(parents=True)
    if merged:
        os.symlink('usr/bin', str(root / 'bin'))
    else:
        (root / 'bin').mkdir()
    return str(root)


@pytest.mark.parametrize('merged, expected', [(True, 'iproute2'), (False, None)])
def test_usr_merge_alias_only_where_the_alias_is_a_link(tmp_path, merged, expected):
    root = dpkg_tree(tmp_path, {'iproute2': ['/bin/ss']}, merged=merged)
    package = Packages(root=root).lookup(['/usr/bin/ss'])['/usr/bin/ss'][0]
    assert (package and package['name']) == expected


def test_diversions_by_a_package_and_by_the_administrator(tmp_path):
    root = dpkg_tree(tmp_path, {'dash': ['/bin/sh'], 'bash': ['/bin/sh', '/bin/bash'], 'tool': ['/usr/bin/tool'],
                                'libc6:amd64': ['/usr/bin/ldd'], 'libc6:i386': ['/usr/bin/ldd']},
                     diversions=[('/bin/sh', '/bin/sh.distrib', 'dash'), ('/usr/bin/tool', '/usr/bin/tool.orig', ':')])
    told = Packages(root=root).lookup(['/usr/bin/sh', '/usr/bin/sh.distrib', '/usr/bin/tool', '/usr/bin/tool.orig',
                                       '/usr/bin/ldd'])
    assert told['/usr/bin/sh'] == ({'name': 'dash', 'manager': 'dpkg', 'path': '/usr/bin/sh'}, None)
    assert told['/usr/bin/sh.distrib'][0]['name'] == 'bash'
    assert told['/usr/bin/tool'] == (None, None)         # the administrator's own file
    assert told['/usr/bin/tool.orig'][0]['name'] == 'tool'
    assert told['/usr/bin/ldd'][0]['name'] == 'libc6:amd64, libc6:i386'     # as dpkg -S prints Multi-Arch: same


def test_a_pass_cut_short_says_so_for_what_it_did_not_find(tmp_path):
    lists = dict(('pkg%03d' % index, ['/usr/bin/p%03d' % index]) for index in range(20))
    root = dpkg_tree(tmp_path, lists)
    told = Packages(root=root, max_files=5).lookup(['/usr/bin/p002', '/usr/bin/p010'])
    assert told['/usr/bin/p002'][0]['name'] == 'pkg002'
    assert told['/usr/bin/p010'][0] is None and 'read only in part (5 of 20 list files' in told['/usr/bin/p010'][1]
    assert 'limits are 50000 files, 10 bytes' in Packages(root=root, max_bytes=10).lookup(['/usr/bin/p010'])['/usr/bin/p010'][1]


def _huge(path):
    with open(path, 'wb') as handle:
        handle.truncate(packages.LIST_LIMIT + 1)


@pytest.mark.parametrize('damage, words', [
    (lambda info: (os.unlink(info + '/b.list'), os.mkfifo(info + '/b.list')), 'FIFO'),
    (lambda info: _huge(info + '/b.list'), 'larger than'),
    (lambda info: os.chown(info + '/b.list', 1000, 1000), 'owned by uid 1000'),
    (lambda info: (os.unlink(info + '/b.list'), os.symlink('/etc/passwd', info + '/b.list')), 'symbolic link'),
    (lambda info: os.chown(info, 1000, 1000), 'owned by uid 1000'),
    (lambda info: os.chmod(info, 0o777), 'writable by users other than root'),
])
def test_hostile_database_files_give_a_reason(tmp_path, damage, words):
    root = dpkg_tree(tmp_path, {'a': ['/usr/bin/a'], 'b': ['/usr/bin/b'], 'c': ['/usr/bin/c']})
    damage(os.path.join(root, 'var/lib/dpkg/info'))
    package, reason = Packages(root=root).lookup(['/usr/bin/c'])['/usr/bin/c']
    assert package is None and words in reason, reason


def test_invalid_utf8_in_a_list_is_matched_byte_for_byte(tmp_path):
    root = dpkg_tree(tmp_path, {'odd': []})
    with open(os.path.join(root, 'var/lib/dpkg/info/odd.list'), 'ab') as handle:
        handle.write(b'/usr/bin/\xff\n')
    path = os.fsdecode(b'/usr/bin/\xff')
    assert Packages(root=root).lookup([path])[path][0]['name'] == 'odd'


def test_no_package_database(tmp_path):
    package, reason = Packages(root=str(tmp_path)).lookup(['/usr/bin/x'])['/usr/bin/x']
    assert package is None and reason == 'no package database this module reads (dpkg, rpm) on this host'


@pytest.mark.parametrize('target, words', [
    ('/memfd:sealed-91173221 (deleted)', 'in-memory file'),
    ('/usr/sbin/sshd (deleted)', 'deleted or replaced'),
    ('relative', 'is not a path'),
])
def test_executables_that_are_no_file_of_a_package(tmp_path, target, words):
    """A copied /proc tree (exe links as the kernel shows them)."""
    (tmp_path / 'proc' / '9').mkdir(parents=True)
    os.symlink(target, str(tmp_path / 'proc' / '9' / 'exe'))
    package, reason = Packages(proc_root=str(tmp_path / 'proc'), root=dpkg_tree(tmp_path, {})).package(9)
    assert package is None and words in reason
