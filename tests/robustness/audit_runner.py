# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: run a module file under a Python audit hook that records what could change the host.

Usage: python audit_runner.py MODULE ARGS_JSON. The module runs as __main__ (its stdout is its answer, untouched);
when it ends, one line `AUDIT <json list>` goes to stderr: every file opened for writing, file system change,
process started, signal sent, library loaded or syslog message while it ran, each with whose code caused it
(`collection:FILE:LINE`, `ansible-core:FILE:LINE`). Audit hooks see what Python code does, not what C libraries do
on their own: enough for a module that is Python over the standard library."""

from __future__ import annotations

import json
import os
import runpy
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = ('os.remove', 'os.rename', 'os.replace', 'os.rmdir', 'os.mkdir', 'os.makedirs', 'os.symlink', 'os.link',
           'os.chmod', 'os.chown', 'os.chflags', 'os.truncate', 'os.utime', 'os.mkfifo', 'os.mknod', 'os.system',
           'os.fork', 'os.forkpty', 'os.posix_spawn', 'os.exec', 'os.spawn', 'os.kill', 'os.killpg', 'os.setxattr',
           'os.removexattr', 'subprocess.Popen', 'shutil.copyfile', 'shutil.copymode', 'shutil.copystat',
           'shutil.copytree', 'shutil.move', 'shutil.rmtree', 'shutil.chown', 'pty.spawn', 'ctypes.dlopen',
           'syslog.openlog', 'syslog.syslog')
recorded = []
watching = [True]


def origin():
    """Whose code caused the event: the innermost caller that is the collection's or ansible-core's (the standard
    library in between does not count)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if 'ansible_collections' in name or os.sep + 'plugins' + os.sep in name:
            return 'collection:%s:%d' % (os.path.basename(name), frame.f_lineno)
        if os.sep + 'ansible' + os.sep in name:
            return 'ansible-core:%s:%d' % (os.path.basename(name), frame.f_lineno)
        frame = frame.f_back
    return 'other'


def hook(event, args):
    if not watching[0]:
        return
    if event == 'open':
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        writing = (isinstance(mode, str) and any(char in mode for char in 'wax+')) or (isinstance(flags, int) and flags & WRITE_FLAGS)
        if writing:
            recorded.append([event, origin(), repr(path), repr(mode), flags])
    elif event in CHANGES or event.startswith(('os.exec', 'os.spawn', 'os.posix_spawn')):
        recorded.append([event, origin()] + [repr(arg)[:200] for arg in args])


def main():
    module, arguments = sys.argv[1], sys.argv[2]
    sys.argv = [module, arguments]
    sys.path.insert(0, os.path.dirname(module))
    sys.addaudithook(hook)
    code = 0
    try:
        runpy.run_path(module, run_name='__main__')
    except SystemExit as exc:
        code = exc.code
    finally:
        watching[0] = False
        sys.stdout.flush()
        os.write(2, ('\nAUDIT %s\n' % json.dumps(recorded)).encode())
    sys.exit(code)


if __name__ == '__main__':
    main()
