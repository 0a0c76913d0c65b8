# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/security.py: a process's SELinux or AppArmor label, where one is active.

Oracles: this machine's kernel (its active modules, read from securityfs mounted in a private mount namespace,
and its answer to /proc/PID/attr/current) and `ss -Z`, which refuses to run without SELinux; for SELinux and
AppArmor, which this machine does not run, trees laid out as each module's files are (/sys/kernel/security/lsm,
/sys/fs/selinux, /sys/module/apparmor, /proc/PID/attr), marked as such, with hostile labels."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import security
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.security import SecurityContexts


def kernel_modules():
    """The kernel's list of active modules, from securityfs mounted where only this command sees it."""
    done = subprocess.run(['unshare', '-m', 'sh', '-c', 'mount -t securityfs securityfs /sys/kernel/security && '
                           'cat /sys/kernel/security/lsm'], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip('cannot mount securityfs here: %s' % done.stderr.strip())
    return done.stdout.strip().split(',')


def test_this_machine_against_the_kernel_and_ss():
    if os.geteuid() != 0:
        pytest.skip('mounting securityfs needs root')
    active = [name for name in kernel_modules() if name in ('selinux', 'apparmor')]
    contexts = SecurityContexts()
    assert contexts.modules() == active
    if active:
        with open('/proc/self/attr/current', 'rb') as handle:
            assert contexts.context(os.getpid()) == (handle.read().rstrip(b'\n\0').decode(), None)
        return
    # No labelling module: the kernel has no label to give, ss -Z refuses, and the field is null, not unknown.
    with pytest.raises(OSError):
        with open('/proc/self/attr/current', 'rb') as handle:
            handle.read()
    if shutil.which('ss'):
        done = subprocess.run(['ss', '-Z', '-l'], capture_output=True, text=True, check=False)
        assert done.returncode != 0 and 'SELinux is not enabled' in done.stderr
    assert contexts.context(os.getpid()) == (None, None)
    assert contexts.context(1) == (None, None)


def tree(tmp_path, lsm=None, selinux=False, apparmor=None, labels=None):
    """A root and a /proc laid out as the modules' files are (written, not captured)."""
    root = tmp_path / 'root'
    if lsm is not None:
        (root / 'sys/kernel/security').mkdir(parents=True)
        (root / 'sys/kernel/security/lsm').write_text(lsm)
    if selinux:
        (root / 'sys/fs/selinux').mkdir(parents=True)
        (root / 'sys/fs/selinux/enforce').write_text('1')
    if apparmor is not None:
        (root / 'sys/module/apparmor/parameters').mkdir(parents=True)
        (root / 'sys/module/apparmor/parameters/enabled').write_text(apparmor + '\n')
    proc = tmp_path / 'proc'
    for pid, files in (labels or {}).items():
        for relative, content in files.items():
            path = proc / str(pid) / 'attr' / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if content == 'FIFO':
                os.mkfifo(str(path))
            else:
                path.write_bytes(content)
    root.mkdir(exist_ok=True)
    return SecurityContexts(proc_root=str(proc), root=str(root))


SSHD = b'system_u:system_r:sshd_t:s0-s0:c0.c1023\0'


@pytest.mark.parametrize('layout, expected', [
    (dict(lsm='lockdown,capability,landlock,bpf'), []),
    (dict(lsm='lockdown,capability,selinux,bpf'), ['selinux']),
    (dict(lsm='lockdown,capability,landlock,yama,apparmor'), ['apparmor']),
    (dict(selinux=True), ['selinux']),                       # securityfs not mounted: the modules' own files
    (dict(apparmor='Y'), ['apparmor']),
    (dict(apparmor='N'), []),                                 # built in, disabled at boot
    (dict(), []),
])
def test_active_modules(tmp_path, layout, expected):
    assert tree(tmp_path, **layout).modules() == expected


def test_selinux_label_as_ss_Z_shows_it(tmp_path):
    contexts = tree(tmp_path, lsm='capability,selinux', labels={10: {'current': SSHD}})
    assert contexts.context(10) == ('system_u:system_r:sshd_t:s0-s0:c0.c1023', None)


@pytest.mark.parametrize('files, expected', [
    ({'current': b'/usr/sbin/cupsd (enforce)\n', 'apparmor/current': b'/usr/sbin/cupsd (enforce)\n'},
     '/usr/sbin/cupsd (enforce)'),
    ({'current': b'unconfined\n'}, 'unconfined'),             # a kernel before 5.1: no attr/apparmor/
    ({'current': b'old\n', 'apparmor/current': b'new\n'}, 'new'),
])
def test_apparmor_label(tmp_path, files, expected):
    contexts = tree(tmp_path, lsm='capability,landlock,apparmor', labels={11: files})
    assert contexts.context(11) == (expected, None)


def test_no_module_no_label_no_reason(tmp_path):
    contexts = tree(tmp_path, lsm='capability,landlock', labels={12: {'current': SSHD}})
    assert contexts.context(12) == (None, None)


@pytest.mark.parametrize('content, expected, words', [
    (b'\x1b[2Junconfined_t\x07\n', '\x1b[2Junconfined_t\x07', None),       # kept, escaped where it is rendered
    (b'system_u:\xff\xfe:s0\n', 'system_u:\\xff\\xfe:s0', None),
    (b'x' * 5000, None, 'larger than 4096 bytes'),
    ('FIFO', None, 'FIFO'),
    (b'\n', None, 'is empty although selinux is active'),
])
def test_hostile_labels(tmp_path, content, expected, words):
    contexts = tree(tmp_path, lsm='selinux', labels={13: {'current': content}})
    label, reason = contexts.context(13)
    assert label == expected
    assert (reason is None) if words is None else (words in reason)


def test_a_process_gone_while_a_module_is_active_is_unknown(tmp_path):
    label, reason = tree(tmp_path, lsm='apparmor').context(99)
    assert label is None and 'does not exist' in reason


def test_labels_are_read_once_per_run(tmp_path):
    contexts = tree(tmp_path, lsm='selinux', labels={14: {'current': SSHD}})
    first = contexts.context(14)
    os.unlink(os.path.join(contexts.proc_root, '14', 'attr', 'current'))
    assert contexts.context(14) == first
    assert security.LABELLING == ('selinux', 'apparmor')
