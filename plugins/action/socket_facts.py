# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of netaudit.sockets.socket_facts: runs the module, and brings its socket records back fast.

The module returns its records as one JSON text, which this action decodes (see plugin_utils/_module_run.py for
why). Async tasks and facts gathering (gather_facts with FACTS_MODULES) call the module directly: it then returns
the records the ordinary way.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.netaudit.sockets.plugins.plugin_utils._module_run import run_socket_facts


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(run_socket_facts(self, self._task.args, task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
