# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the JSON report."""

from __future__ import annotations

import json

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.common import (
    DEFAULT_TITLE, hosts_of, fleet_summary,
)


def render_json(verdicts: object, title: str | None = None) -> str:
    hosts = hosts_of(verdicts)
    document = {
        'report': 'netaudit.sockets.port_audit',
        'version': 1,
        'title': title or DEFAULT_TITLE,
        'summary': fleet_summary(hosts),
        'hosts': dict((host.name, host.verdict) for host in hosts),
        'errors': dict((host.name, host.error) for host in hosts if host.verdict is None),
    }
    return json.dumps(_hoststr.clean_tree(document), indent=2, default=str) + '\n'
