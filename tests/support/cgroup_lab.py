# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: real cgroups under this machine's cgroup2 mount, real processes that hold sockets placed in them,
the real `ss --cgroup`, and unit file trees; everything made is removed again.

The cgroup2 mount is found here by its own reading of /proc/self/mountinfo (not the module's), so a test compares
the module with the kernel and ss, not with itself."""

import contextlib
import errno
import json
import os
import re
import subprocess
import sys
import time

import pytest

from support.natest import COLLECTIONS

HOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      'unit', 'plugins', 'module_utils', '_origin', 'fixtures', 'holder.py')


def cgroup2_mount_point():
    """The first cgroup2 mount point, or None."""
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            fields = line.split()
            if fields[fields.index('-') + 1] == 'cgroup2':
                return fields[4]
    return None


class CgroupLab:
    """Cgroups made under the cgroup2 mount (absolute cgroup paths such as '/system.slice/ssh.service').
    Every folder on the way is removed at the end when empty: other tests may share a parent, and whoever ends last
    removes it."""

    def __init__(self, mount):
        self.mount = mount
        self.paths = []

    def host(self, path):
        return os.path.join(self.mount, path.lstrip('/'))

    def make(self, path):
        os.makedirs(self.host(path), exist_ok=True)
        self.paths.append(path)
        return path

    def place(self, pid, path):
        with open(os.path.join(self.host(path), 'cgroup.procs'), 'w') as handle:
            handle.write(str(pid))

    def inode(self, path):
        return os.stat(self.host(path)).st_ino

    def remove(self, path):
        """rmdir path and its parents up to the mount, each when empty; an emptying cgroup gets a moment."""
        parts = [part for part in path.split('/') if part]
        while parts:
            folder = self.host('/'.join(parts))
            for _attempt in range(50):
                try:
                    os.rmdir(folder)
                    break
                except OSError as exc:
                    if exc.errno == errno.EBUSY and not any(entry.is_dir() for entry in os.scandir(folder)):
                        time.sleep(0.02)       # a process that just exited is leaving it
                        continue
                    break                      # gone already, or still holding cgroups of another test
            parts.pop()

    def cleanup(self):
        for path in sorted(set(self.paths), key=lambda p: -p.count('/')):
            self.remove(path)


@contextlib.contextmanager
def made_cgroups():
    """A CgroupLab, cleaned up at the end; skips the test without root or a cgroup2 mount. Test files make it their
    fixture: `with made_cgroups() as lab: yield lab`."""
    if os.geteuid() != 0:
        pytest.skip('needs root: cgroups are made under the cgroup2 mount')
    mount = cgroup2_mount_point()
    if mount is None:
        pytest.skip('no cgroup2 file system is mounted')
    lab = CgroupLab(mount)
    try:
        yield lab
    finally:
        lab.cleanup()


class Holder:
    """fixtures/holder.py in `hold` mode: a real process named `name` (uid `uid`), opening `sockets` on open(); run by
    `python` (this test's interpreter unless told: /usr/bin/python3 for an executable a package installed)."""

    def __init__(self, sockets, name='holder', uid=None, env=None, prefix=(), python=None):
        spec = {'name': name, 'uid': uid, 'sockets': sockets, 'root': '/', 'ipv6': None}
        self.proc = subprocess.Popen(list(prefix) + [python or sys.executable, HOLDER, COLLECTIONS, json.dumps(spec), 'hold'],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.pid = json.loads(self.proc.stdout.readline())['pid']
        self.sockets = None

    def open(self):
        self.proc.stdin.write('open\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, 'the holder ended before opening its sockets'
        self.sockets = dict((item['label'], item) for item in json.loads(line))
        return self.sockets

    def stop(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def holders():
    """A list to add Holders to; every one stopped at the end."""
    made = []
    try:
        yield made
    finally:
        for holder in made:
            holder.stop()


def run_pid1(spec, write_tree, timeout=60):
    """fixtures/holder.py as PID 1 of a PID namespace of its own, named spec['name']: it opens spec's sockets,
    write_tree(sockets) then writes the unit files (ports are known only now), and a child of PID 1 attributes the
    records. Returns (sockets by label, {label: record}, notes)."""
    proc = subprocess.Popen(['unshare', '-pf', '--mount-proc', '--kill-child', sys.executable, HOLDER, COLLECTIONS,
                             json.dumps(spec), 'pid1'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        sockets = dict((item['label'], item) for item in json.loads(line))
        write_tree(sockets)
        out, err = proc.communicate('go\n', timeout=timeout)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = json.loads(out)
    by_inode = dict((record['inode'], record) for record in result['records'])
    records = dict((label, by_inode.get(item['inode'])) for label, item in sockets.items())
    return sockets, records, result['notes']


def write_tree(root, files):
    """files: {path: content}, content being text (or bytes) for a file, ('link', target), ('fifo',), ('dir',)."""
    for path, content in files.items():
        host = os.path.join(str(root), path.lstrip('/'))
        os.makedirs(os.path.dirname(host), exist_ok=True)
        if isinstance(content, tuple):
            if content[0] == 'link':
                os.symlink(content[1], host)
            elif content[0] == 'fifo':
                os.mkfifo(host)
            elif content[0] == 'dir':
                os.makedirs(host, exist_ok=True)
            continue
        with open(host, 'wb') as handle:
            handle.write(content.encode() if isinstance(content, str) else content)


_SS_CGROUP = re.compile(r'\bino:(\d+)\b.*?\bcgroup:(\S+)')


def ss_cgroups():
    """{inode: cgroup path} of every tcp and udp socket, from `ss -tuanHe --cgroup` (the real ss)."""
    out = subprocess.run(['ss', '-tuanHeO', '--cgroup'], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        match = _SS_CGROUP.search(line)
        if match:
            found[int(match.group(1))] = match.group(2)
    return found
