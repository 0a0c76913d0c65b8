# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the socket_facts module's argument spec and its run, from the options to
`exit_json` or `fail_json` (plugins/modules/socket_facts.py holds its documentation and calls this)."""

from __future__ import annotations

from typing import Any, Dict

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source
from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    filter=dict(type='str'),
    tables=dict(type='list', elements='str', default=['tcp', 'udp']),
    listening=dict(type='bool', default=False),
    processes=dict(type='bool', default=True),
    packages=dict(type='bool', default=False),
    netns=dict(type='raw'),
    backend=dict(type='str', default='auto', choices=['auto', 'netlink', 'proc', 'psutil']),
    proc_root=dict(type='path', default='/proc'),
    summary=dict(type='bool', default=True),
    compact_transfer=dict(type='bool', default=False),
)


def run(module: Any) -> None:
    """Gather with the module's options and exit: the facts, or a failure whose message names what failed."""
    params = module.params
    try:
        facts = _gather.gather(
            tables=params['tables'], listening=params['listening'], processes=params['processes'],
            filter_text=params['filter'], netns=params['netns'], backend=params['backend'],
            proc_root=params['proc_root'], summary=params['summary'], packages=params['packages'])
    except NetauditError as exc:
        # Every error of the collection (an option, a table, a filter, a namespace, a host file, netlink, psutil):
        # its message names what failed.
        if isinstance(exc, _psutil_source.PsutilError) and not _psutil_source.HAS_PSUTIL:
            module.fail_json(msg=missing_required_lib('psutil'), exception=_psutil_source.PSUTIL_IMPORT_ERROR)
        module.fail_json(msg=str(exc))
    if params['compact_transfer']:
        # One JSON text instead of a list of records (see plugins/plugin_utils/_module_run.py); packing empties the
        # list as it goes.
        packed = _records.pack(facts['sockets'])
        module.exit_json(changed=False, ansible_facts=facts, packed_sockets=packed)
    module.exit_json(changed=False, ansible_facts=facts)
