# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host strings chosen to fool the readers: a unix socket name that imitates a /proc/net/unix record, an interface
and a user named with bytes that are not UTF-8.

The oracles are the sockets the test itself binds (their inodes from fstat), the kernel's unix_diag through the
netlink backend, and the names the test gives; every socket and interface is real (a scratch network namespace
for the interface)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._procnet import reader, unix
from support.scratch_netns import COLLECTIONS, scratch_namespace

FORGED_INODE = 424242
# What the kernel prints for a socket: pointer, RefCount, Protocol, Flags (LISTEN), Type (stream), St, Inode, Path.
FORGED_LINE = b'0000000000000000: 00000002 00000000 00010000 0001 01 %d /forged' % FORGED_INODE


@pytest.fixture
def forging_socket():
    """A listening unix socket bound to DIR/x + newline + a forged record line (a real path, so the directory that
    holds it is made first); yields (socket, its inode, the name as text)."""
    top = tempfile.mkdtemp(prefix='na-forge-', dir='/tmp')
    name = top.encode() + b'/x\n' + FORGED_LINE
    os.makedirs(os.path.dirname(name))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(name)
        sock.listen(1)
        yield sock, os.fstat(sock.fileno()).st_ino, name.decode()
    finally:
        sock.close()
        shutil.rmtree(top, ignore_errors=True)


def _forged_shown():
    with open('/proc/net/unix', 'rb') as handle:
        return FORGED_LINE in handle.read().split(b'\n')


def _unix(facts, *inodes):
    return dict((record['inode'], record) for record in facts['sockets'] if record['inode'] in inodes)


def test_the_kernel_prints_the_forged_line_as_a_line_of_its_own(forging_socket):
    """The premise: /proc/net/unix shows the name's newline raw, so the forged text stands alone on a line."""
    assert _forged_shown()


@pytest.mark.parametrize('backend', ['proc', 'netlink'])
def test_a_name_with_a_newline_does_not_invent_a_socket(forging_socket, backend):
    """gather(backend=proc) on the live /proc: the forged inode is absent and the real socket has its whole name,
    as unix_diag (the netlink backend) reports it."""
    _sock, inode, name = forging_socket
    facts = _gather.gather(tables=['unix'], backend=backend, processes=False, summary=False)
    found = _unix(facts, inode, FORGED_INODE)
    assert FORGED_INODE not in found
    assert found[inode]['local_address'] == name and found[inode]['state'] == 'LISTEN'


def _capture(root, with_count):
    """A copy of this namespace's net/unix (and net/protocols) as a foreign tree: no unix_diag can judge it."""
    os.makedirs(os.path.join(root, 'net'))
    names = ('unix', 'protocols') if with_count else ('unix',)
    for _attempt in range(5):
        for file_name in names:
            shutil.copyfile('/proc/net/' + file_name, os.path.join(root, 'net', file_name))
        if not with_count or reader.unix_count('/proc/net') == reader.unix_count(os.path.join(root, 'net')):
            return
    pytest.skip('the number of unix sockets kept changing while it was copied')


def test_a_copied_tree_is_judged_by_the_kernels_count(forging_socket, tmp_path):
    """A copy with net/protocols (no unix_diag can judge it): the file shows one line more than the kernel counts.
    The forged inode never appears; the real socket has its whole name when only the forged line could be the extra
    one, else the lines that could be are left out and the facts say so."""
    _sock, inode, name = forging_socket
    _capture(str(tmp_path), with_count=True)
    facts = _gather.gather(tables=['unix'], proc_root=str(tmp_path), processes=False, summary=False)
    found = _unix(facts, inode, FORGED_INODE)
    assert FORGED_INODE not in found
    reasons = [reason for reason in facts['socket_meta']['incomplete_reasons'] if 'could not be attributed' in reason]
    if found[inode]['local_address'] != name:
        assert reasons and 'the kernel counts' in reasons[0]


def test_without_a_count_the_unattributable_lines_are_left_out_and_said(forging_socket, tmp_path):
    """A copy without net/protocols: the forged line cannot be told from a socket, so it is left out and the facts
    are incomplete, with the line number and why."""
    _sock, inode, _name = forging_socket
    _capture(str(tmp_path), with_count=False)
    facts = _gather.gather(tables=['unix'], proc_root=str(tmp_path), processes=False, summary=False)
    assert FORGED_INODE not in _unix(facts, FORGED_INODE)
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert any('could not be attributed' in reason and 'net/protocols' in reason for reason in meta['incomplete_reasons'])


@pytest.mark.parametrize('lines, inodes, names', [
    # A name ending in a newline and a record line with no name of its own, then a line that is not a record:
    # that record line cannot have a continuation, so both are the first name's (exact, no count needed).
    ([b'%s: 00000002 00000000 00010000 0001 01  7001 /a' % (b'0' * 16), b'%s: 00000002 00000000 00010000 0001 01  7777' % (b'0' * 16),
      b'tail'], [7001], ['/a\n%s: 00000002 00000000 00010000 0001 01  7777\ntail' % ('0' * 16)]),
    # Too long to be inside the name before it (108 bytes at most): a socket of its own.
    ([b'%s: 00000002 00000000 00010000 0001 01  7001 /%s' % (b'0' * 16, b'a' * 60),
      b'%s: 00000002 00000000 00010000 0001 01  7002 /b' % (b'0' * 16)], [7001, 7002], ['/' + 'a' * 60, '/b']),
    # A line that is not a record continues the name before it.
    ([b'%s: 00000002 00000000 00010000 0001 01  7001 /a' % (b'0' * 16), b'b c'], [7001], ['/a\nb c']),
])
def test_lines_that_can_be_told_apart_without_a_count(lines, inodes, names):
    problems = []
    records = unix.parse_unix(b'Num       RefCount Protocol Flags    Type St Inode Path\n' + b'\n'.join(lines) + b'\n',
                              problems=problems)
    assert [r['inode'] for r in records] == inodes and [r['local_address'] for r in records] == names
    assert problems == []


def test_protocols_count_is_the_unix_rows():
    """net/protocols' UNIX and UNIX-STREAM rows count this namespace's unix sockets: a new namespace holding three."""
    code = textwrap.dedent('''
        import json, socket, sys
        sys.path.insert(0, %r)
        from ansible_collections.netaudit.sockets.plugins.module_utils._procnet import reader
        held = [socket.socket(socket.AF_UNIX, kind) for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET)]
        with open('/proc/net/unix') as handle:
            listed = len(handle.read().splitlines()) - 1
        print(json.dumps([reader.unix_count('/proc/net'), listed]))
    ''' % COLLECTIONS)
    with scratch_namespace('na-ph', tools=('ip',)) as namespace:
        run = subprocess.run(['ip', 'netns', 'exec', namespace, sys.executable, '-c', code], capture_output=True, text=True,
                             check=True, timeout=60)
    assert json.loads(run.stdout) == [3, 3]


# --- names that are not UTF-8 ----------------------------------------------------------------------------------

_HOLDER = '''
import socket, sys, time
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, bytes.fromhex(sys.argv[1]))
sock.bind(('0.0.0.0', 4711))
sock.listen(1)
print('ready', flush=True)
time.sleep(120)
'''


def test_an_interface_named_with_byte_ff_is_text_with_an_escape():
    """A veth named a<0xff>b in a scratch namespace and a listener bound to it (SO_BINDTODEVICE): the record's
    interface is 'a\\xffb' (the four characters \\xff) and the facts encode as UTF-8 JSON."""
    raw = b'a\xffb'
    with scratch_namespace('na-h1-ff') as namespace:
        added = subprocess.run([b'ip', b'netns', b'exec', namespace.encode(), b'ip', b'link', b'add', b'name', raw, b'type',
                                b'veth', b'peer', b'name', b'h1peer'], capture_output=True, check=False)
        if added.returncode:
            pytest.skip('the kernel or ip refused an interface named with byte 0xff: %s' % added.stderr.decode(errors='replace'))
        holder = subprocess.Popen(['ip', 'netns', 'exec', namespace, sys.executable, '-c', _HOLDER, raw.hex()],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == 'ready'
            facts = _gather.gather(tables=['tcp'], netns=namespace, processes=False, summary=False)
            interfaces = set(record['interface'] for record in facts['sockets'] if record['netns'] == namespace)
            assert 'a\\xffb' in interfaces
            json.dumps(facts).encode('utf-8')
        finally:
            holder.kill()
            holder.wait()


def test_a_user_named_with_byte_ff_is_text_with_an_escape(tmp_path):
    """A user whose name holds byte 0xff (a private mount namespace with its own /etc/passwd): user_namer() gives
    'u\\xffx' (the four characters \\xff), not a surrogate escape."""
    passwd = tmp_path / 'passwd'
    with open('/etc/passwd', 'rb') as handle:
        passwd.write_bytes(handle.read() + b'u\xffx:x:4242:4242::/nonexistent:/bin/false\n')
    code = ('import json, sys\nsys.path.insert(0, %r)\n'
            'from ansible_collections.netaudit.sockets.plugins.module_utils import _records\n'
            'name = _records.user_namer()(4242)\nprint(json.dumps(name))\n' % COLLECTIONS)
    script = 'mount --bind %s /etc/passwd && exec %s -c "$0"' % (passwd, sys.executable)
    run = subprocess.run(['unshare', '-m', 'sh', '-c', script, code], capture_output=True, text=True, check=False, timeout=60)
    if run.returncode and 'Traceback' not in run.stderr:
        pytest.skip('a private mount namespace is unavailable here: %s' % run.stderr.strip()[-300:])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == 'u\\xffx'
