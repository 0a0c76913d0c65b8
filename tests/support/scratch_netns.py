# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: a scratch network namespace, and a helper script run inside it that answers in JSON."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '.cache', 'collections')


@contextlib.contextmanager
def scratch_namespace(prefix, why='it creates a network namespace'):
    """A new network namespace named PREFIX-<random>, always deleted; skips the test, saying why, when none can be made."""
    if os.geteuid() != 0:
        pytest.skip('needs root: %s' % why)
    for tool in ('ip', 'ss'):
        if not shutil.which(tool):
            pytest.skip('needs the %s command' % tool)
    namespace = '%s-%s' % (prefix, uuid.uuid4().hex[:10])
    added = subprocess.run(['ip', 'netns', 'add', namespace], check=False, capture_output=True, text=True)
    if added.returncode:
        pytest.skip('ip netns add is unavailable here: %s' % added.stderr.strip())
    try:
        yield namespace
    finally:
        subprocess.run(['ip', 'netns', 'delete', namespace], check=False)


def run_helper(namespace, helper, *args, timeout=300):
    """Run `python HELPER ARGS...` inside the namespace with the collection importable; its stdout is JSON."""
    run = subprocess.run(['ip', 'netns', 'exec', namespace, sys.executable, helper] + list(args), check=False,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS), timeout=timeout)
    if run.returncode:
        pytest.fail('the namespace helper failed:\n%s' % run.stderr[-4000:])
    return json.loads(run.stdout)
