# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: run plugins/modules/socket_facts.py as its own process, the way AnsiballZ ends up running it."""

# AnsiballZ unpacks the module and runs it with the arguments in a JSON file ({"ANSIBLE_MODULE_ARGS": {...}}) and the
# collection importable; the module prints one JSON object. Without AnsiballZ there is no _ansible_tmpdir and no
# remote_tmp: nothing but the module's own code can touch the host.

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from support.natest import COLLECTIONS, REPO

MODULE = os.path.join(REPO, 'plugins', 'modules', 'socket_facts.py')
HERE = os.path.dirname(os.path.abspath(__file__))
# Exception class names that mean a crash, not an answer, wherever they show up in a message.
CRASH_NAMES = ('Traceback', 'RecursionError', 'IndexError', 'KeyError', 'TypeError', 'MemoryError', 'AttributeError',
               'UnicodeEncodeError', 'UnicodeDecodeError', 'OverflowError', 'struct.error', 're.error', 'ZeroDivisionError',
               'NameError', 'AssertionError', 'NotImplementedError', 'Exceeds the limit')


def run_module(args, prefix=(), python=None, runner=None, timeout=60, env=None, preexec_fn=None):
    """(parsed JSON answer or None, CompletedProcess) of one module run with these module arguments.

    prefix: argv before the interpreter (`ip netns exec NAME`); runner: a script that runs the module (it gets the
    module's path and the args file); preexec_fn: run in the child before exec (dropping privileges)."""
    handle, path = tempfile.mkstemp(prefix='na-args-', suffix='.json')
    try:
        with os.fdopen(handle, 'w') as stream:
            json.dump({'ANSIBLE_MODULE_ARGS': args}, stream)
        os.chmod(path, 0o644)
        argv = list(prefix) + [python or sys.executable] + ([runner] if runner else []) + [MODULE, path]
        environment = dict(env or os.environ, PYTHONPATH=COLLECTIONS, LC_ALL='C.UTF-8')
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=environment, check=False,
                              preexec_fn=preexec_fn)  # pylint: disable=subprocess-popen-preexec-fn
    finally:
        os.unlink(path)
    return answer(proc.stdout), proc


def answer(stdout):
    """The module's JSON object: the whole of stdout (AnsibleModule prints a newline, then the object)."""
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def problems_with(result, proc):
    """What is wrong with one run: not JSON, a traceback, an exception key, a failure without a message, a change."""
    found = []
    if result is None:
        found.append('stdout is not one JSON object: %r' % proc.stdout[-500:])
        return found
    text = proc.stdout + proc.stderr
    crashes = [name for name in CRASH_NAMES if name in text]
    if crashes:
        found.append('the output names %s' % ', '.join(crashes))
    if 'exception' in result:
        found.append('an exception key: %r' % str(result['exception'])[-500:])
    if result.get('failed'):
        if not isinstance(result.get('msg'), str) or not result['msg'].strip():
            found.append('failed without a msg')
        if proc.returncode != 1:
            found.append('failed with exit status %s' % proc.returncode)
    else:
        if proc.returncode != 0:
            found.append('exit status %s without failed' % proc.returncode)
        if result.get('changed') is not False:
            found.append('changed is %r' % result.get('changed'))
        facts = result.get('ansible_facts') or {}
        if not isinstance(facts.get('sockets'), list) or not isinstance(facts.get('socket_meta'), dict):
            found.append('no sockets / socket_meta facts')
        elif facts['socket_meta'].get('count') != len(facts['sockets']):
            found.append('socket_meta.count %s != %d records' % (facts['socket_meta'].get('count'), len(facts['sockets'])))
    return found
