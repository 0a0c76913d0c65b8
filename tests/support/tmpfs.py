# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: a small tmpfs, a real file system that a test can fill to make writes fail (root writes into a
read-only folder anyway, so a full disk is the failure a root test can make)."""

import contextlib
import os
import subprocess

import pytest


@contextlib.contextmanager
def small_tmpfs(folder, size):
    """`folder` (a pathlib.Path, created) with a tmpfs of `size` ('64k', '2m') mounted on it, always unmounted;
    skips the test, saying why, without root or when the mount fails."""
    if os.geteuid() != 0:
        pytest.skip('a full file system is made by mounting a small tmpfs, which needs root; as another user a '
                    'read-only folder would do, but root writes there anyway')
    folder.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % size, 'tmpfs', str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: %s' % mounted.stderr.strip())
    try:
        yield folder
    finally:
        subprocess.run(['umount', '-l', str(folder)], check=False)
