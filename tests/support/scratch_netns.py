# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: every namespace the tests make: a scratch network namespace with a name, always deleted; a process
in a network or PID namespace of its own that no name holds; a helper script run inside a namespace that answers in
JSON; and the named network namespaces of the test fleet's hosts (make_namespace, delete_namespace:
tests/fleet/fleet.py makes them and fleet_plumbing.py finds them again by name to delete them, from whichever process
tears the fleet down).

network_namespace() is for scripts run outside pytest (it raises NamespaceUnavailable); the tests use
scratch_namespace(), which skips instead, saying why."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '.cache', 'collections')


class NamespaceUnavailable(Exception):
    """No network namespace can be made here (not root, a command missing, or the kernel refuses)."""


def why_unavailable(why='it creates a network namespace', tools=('ip', 'ss')):
    """Why no namespace can be made here (WHY: what the caller makes), or None."""
    if os.geteuid() != 0:
        return 'needs root: %s' % why
    for tool in tools:
        if not shutil.which(tool):
            return 'needs the %s command' % tool
    return None


def add_namespace(prefix, why='it creates a network namespace', tools=('ip', 'ss')):
    """Make a network namespace named PREFIX-<random> and return its name (delete_namespace removes it);
    NamespaceUnavailable when none can be made."""
    reason = why_unavailable(why, tools)
    if reason:
        raise NamespaceUnavailable(reason)
    namespace = '%s-%s' % (prefix, uuid.uuid4().hex[:10])
    make_namespace(namespace)
    return namespace


def make_namespace(name):
    """Make the network namespace NAME, which its maker deletes (delete_namespace); NamespaceUnavailable, with
    ip's words, when it cannot be made."""
    added = subprocess.run(['ip', 'netns', 'add', name], check=False, capture_output=True, text=True)
    if added.returncode:
        raise NamespaceUnavailable('ip netns add %s failed: %s' % (name, added.stderr.strip()))


def delete_namespace(namespace):
    """Delete it if it is still there."""
    subprocess.run(['ip', 'netns', 'delete', namespace], check=False, capture_output=True)


@contextlib.contextmanager
def network_namespace(prefix, why='it creates a network namespace', tools=('ip', 'ss')):
    """A new network namespace named PREFIX-<random>, always deleted; NamespaceUnavailable when none can be made."""
    namespace = add_namespace(prefix, why, tools)
    try:
        yield namespace
    finally:
        delete_namespace(namespace)


@contextlib.contextmanager
def scratch_namespace(prefix, why='it creates a network namespace', tools=('ip', 'ss')):
    """A new network namespace named PREFIX-<random>, always deleted; skips the test, saying why, when none can be made."""
    try:
        namespace = add_namespace(prefix, why, tools)
    except NamespaceUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield namespace
    finally:
        delete_namespace(namespace)


# unshare's options for a PID namespace of its own: the command runs as its PID 1, with a /proc that shows only the
# processes of that namespace.
PID_NAMESPACE = ('--pid', '--fork', '--mount-proc')


def unshared(argv, namespaces=('--net',)):
    """ARGV run by `unshare NAMESPACES`: by default in a network namespace of its own that no name holds, gone when
    the process ends; with PID_NAMESPACE in a PID namespace of its own (skips the test when there is no unshare
    command)."""
    if not shutil.which('unshare'):
        pytest.skip('needs the unshare command')
    return ['unshare'] + list(namespaces) + list(argv)


def run_helper(namespace, helper, *args, timeout=300):
    """Run `python HELPER ARGS...` inside the namespace with the collection importable; its stdout is JSON."""
    run = subprocess.run(['ip', 'netns', 'exec', namespace, sys.executable, helper] + list(args), check=False,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS), timeout=timeout)
    if run.returncode:
        pytest.fail('the namespace helper failed:\n%s' % run.stderr[-4000:])
    return json.loads(run.stdout)
