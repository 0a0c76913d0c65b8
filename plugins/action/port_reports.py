# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of netaudit.sockets.port_reports (documented in plugins/modules/port_reports.py): renders a fleet's
verdicts with the audit_report filter's code and writes the report files on the controller, in one task and
without a module run per file."""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.netaudit.sockets.plugins.module_utils import _report

EXTENSIONS = {'json': 'json', 'markdown': 'md', 'junit': 'junit.xml', 'html': 'html', 'text': 'txt'}

ARGUMENT_SPEC = {
    'verdicts': {'type': 'dict', 'required': True},
    'formats': {'type': 'list', 'elements': 'str', 'choices': list(EXTENSIONS),
                'default': ['json', 'markdown', 'junit', 'html']},
    'dest': {'type': 'path', 'required': True},
    'name': {'type': 'str', 'default': 'port-audit'},
    'title': {'type': 'str', 'default': _report.DEFAULT_TITLE},
}


def write_if_changed(path, text, check_mode):
    """Write `text` to `path` (mode 0644, atomically) unless it already holds it; True when it changed."""
    data = text.encode('utf-8')
    try:
        with open(path, 'rb') as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    folder = os.path.dirname(path)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return True


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(ARGUMENT_SPEC)[1]
        name = args['name']
        if not name or '/' in name or name in ('.', '..'):
            raise AnsibleActionFail('port_reports: name: expected a file name without "/", got "%s"' % name)
        try:
            hosts = _report.hosts_of(args['verdicts'])
            texts = [(report_format, _report.render(args['verdicts'], report_format, title=args['title']))
                     for report_format in dict.fromkeys(args['formats'])]
        except ValueError as exc:
            raise AnsibleActionFail('port_reports: %s' % exc) from exc
        folder = os.path.realpath(os.path.expanduser(args['dest']))
        paths, changed = [], False
        try:
            if texts and not os.path.isdir(folder):
                changed = True
                if not self._task.check_mode:
                    os.makedirs(folder, mode=0o755)
            for report_format, text in texts:
                path = os.path.join(folder, '%s.%s' % (name, EXTENSIONS[report_format]))
                paths.append(path)
                if os.path.isdir(folder):
                    changed = write_if_changed(path, text, self._task.check_mode) or changed
        except OSError as exc:
            raise AnsibleActionFail('port_reports: cannot write the reports in %s: %s' % (folder, exc)) from exc
        result.update(changed=changed, reports=paths,
                      msg=['%s: %s' % (args['title'], _report.fleet_line(hosts))]
                      + [_report.verdict_line(host) for host in hosts])
        result['_ansible_verbose_always'] = True
        return result
