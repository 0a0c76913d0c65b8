# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of netaudit.sockets.port_reports (documented in plugins/modules/port_reports.py): renders a fleet's
verdicts with the audit_report filter's code and writes the report files on the controller, in one task and
without a module run per file.

The report folder may be shared (docs/security.md): with plugin_utils/_controller_files.py, the previous reports
are read only when they are regular files below a size limit (no symlink, FIFO or device is followed or opened),
and the reports of a run are written as one set: every changed report goes to a temporary file in the folder
first, and only when all are written are they renamed into place, so that a failure (a full disk) leaves the
previous complete set."""

from __future__ import annotations

import os

from typing import Any

from ansible.errors import AnsibleActionFail

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.render import render
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _controller_files
from ansible_collections.netaudit.sockets.plugins.plugin_utils._argument_spec import argument_spec
from ansible_collections.netaudit.sockets.plugins.plugin_utils._documented_action import DocumentedAction

# A previous report larger than this is not read, only replaced: the reports of a large fleet stay far below it.
PREVIOUS_LIMIT = 64 * 1024 * 1024


def previous_content(path: str, size: int) -> _controller_files.RegularFile | None:
    """(bytes, mode) of the report at `path` when it is a regular file of `size` bytes; None otherwise (missing, or
    a symlink, FIFO, device, folder, a file of another size): then the report counts as changed and is replaced.
    Nothing but a regular file is opened, and never through a symlink or blocking."""
    if size > PREVIOUS_LIMIT:
        return None
    try:
        found = _controller_files.read_regular(path, size)
    except _controller_files.ControllerFileError:
        return None
    return found if found is not None and len(found.data) == size else None


def unchanged(path: str, data: bytes, mode: int | None) -> bool:
    """True when `path` is a regular file holding `data` (and, with an explicit `mode`, with that mode)."""
    previous = previous_content(path, len(data))
    return previous is not None and previous.data == data and (mode is None or previous.mode == mode)


class ActionModule(DocumentedAction):

    ARGUMENT_SPEC = argument_spec('port_reports')

    def act(self, args: dict[str, Any], task_vars: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        name = args['name']
        if not name or '/' in name or name in ('.', '..') or '\x00' in name:
            raise AnsibleActionFail('port_reports: name: expected a file name without "/", got "%s"' % _hoststr.text(name))
        try:
            mode, dir_mode = (_controller_files.parse_mode(args[option], option) for option in ('mode', 'dir_mode'))
        except _controller_files.ControllerFileError as exc:
            raise AnsibleActionFail('port_reports: %s' % exc) from None
        try:
            hosts = report_common.hosts_of(args['verdicts'])
            texts = [(report_format, render(args['verdicts'], report_format, title=args['title']))
                     for report_format in dict.fromkeys(args['formats'])]
        except NetauditError as exc:
            raise AnsibleActionFail('port_reports: %s' % exc) from exc
        folder = os.path.realpath(os.path.expanduser(args['dest']))
        paths = [os.path.join(folder, '%s.%s' % (name, report_common.EXTENSIONS[report_format])) for report_format, _text in texts]
        changed = False
        try:
            if texts and not os.path.isdir(folder):
                changed = True
                if not self._task.check_mode:
                    _controller_files.make_folder(folder, dir_mode)
            if os.path.isdir(folder):
                different = [(path, text.encode('utf-8')) for path, (_format, text) in zip(paths, texts)]
                different = [(path, data) for path, data in different if not unchanged(path, data, mode)]
                if different:
                    changed = True
                    if not self._task.check_mode:
                        _controller_files.write_files(folder, [(os.path.basename(path), data) for path, data in different],
                                                      mode)
        except (NetauditError, OSError, UnicodeError) as exc:
            raise AnsibleActionFail('port_reports: cannot write the reports in %s: %s; the reports there are left as '
                                    'they were' % (_hoststr.text(folder), _hoststr.text(exc))) from exc
        result.update(changed=changed, reports=paths, msg=report_common.display_lines(hosts, args['title']))
        result['_ansible_verbose_always'] = True
        return result
