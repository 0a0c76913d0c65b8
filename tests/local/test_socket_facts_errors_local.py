# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts that fail, one per area of the collection's errors (a filter, a table, a
namespace that does not exist or cannot be entered, a device a namespace lacks, a /proc tree): each is a failed task
whose message names what failed, never a Python traceback (main() has one `except NetauditError`)."""

import errno
import json
import os

import pytest

from support.natest import ansible_env, run_adhoc
from support.scratch_netns import scratch_namespace


def failure(args, **options):
    """The module's message of a run that must fail cleanly."""
    extra = ['-c', 'local'] + options.pop('extra', [])
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', json.dumps(args), extra=extra, **options)
    assert list(results) == ['localhost'], proc.stdout + proc.stderr
    result = results['localhost']
    assert proc.returncode == 2 and 'localhost | FAILED! =>' in proc.stdout, proc.stdout + proc.stderr
    for text in (proc.stdout, proc.stderr, json.dumps(result)):
        assert 'Traceback' not in text, text
    assert 'exception' not in result and 'module_stderr' not in result and 'ansible_facts' not in result, result
    return result['msg']


@pytest.mark.parametrize('args, start', [
    ({'filter': 'sport = :ssh2'}, 'filter: '),
    ({'tables': ['tcp', 'bogus']}, 'tables: unknown socket table "bogus"'),
    ({'netns': 'na-er-does-not-exist'}, 'netns: no network namespace named "na-er-does-not-exist"'),
    ({'netns': '/proc/self/ns/uts'}, 'netns: /proc/self/ns/uts is not a network namespace file'),
    ({'proc_root': '/nonexistent/proc'}, 'proc_root "/nonexistent/proc" '),
], ids=['filter', 'table', 'netns-name', 'netns-file', 'proc_root'])
def test_each_area_fails_with_a_clear_message(args, start):
    assert failure(args).startswith(start)


def test_a_namespace_that_cannot_be_entered(tmp_path):
    """Without root setns() is refused: the message names the namespace and says why."""
    with scratch_namespace('na-er-perm', 'it creates a namespace for a user who cannot enter it') as namespace:
        wrapper = tmp_path / 'python-as-nobody'
        wrapper.write_text('#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$@"\n')
        wrapper.chmod(0o755)
        env = ansible_env(ANSIBLE_PIPELINING='True', ANSIBLE_REMOTE_TMP='/tmp')
        message = failure({'netns': namespace, 'processes': False}, extra=['-e', 'ansible_python_interpreter=%s' % wrapper],
                          env=env)
    assert message == ('netns: %s: [Errno %d] cannot enter network namespace %s: %s (entering a network namespace needs '
                       'root: CAP_SYS_ADMIN)' % (namespace, errno.EPERM, namespace, os.strerror(errno.EPERM))), message


def test_a_device_another_namespace_lacks_names_the_namespace():
    with scratch_namespace('na-er-dev', 'it reads another network namespace') as namespace:
        message = failure({'netns': namespace, 'filter': 'dev = na-er-nodev0', 'processes': False})
    assert message.startswith('filter: no device "na-er-nodev0" in network namespace %s ' % namespace), message
