# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters of netaudit.sockets: ss_filter, listening_ports, port_audit, socket_diff (docs in the .yml sidecars)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy import verdict
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _snapshot_diff
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError


def ss_filter(sockets: object, expression: object, tables: object = None, ephemeral_range: object = None) -> list[Any]:
    """The socket records that match an ss filter, as socket_facts' filter option would select them."""
    try:
        return _ssfilter_fast.ss_filter(sockets, expression, tables=tables, ephemeral_range=ephemeral_range)
    except NetauditError as exc:
        raise AnsibleFilterError('ss_filter: %s' % exc) from exc


def listening_ports(sockets: object, with_address: object = False, with_family: object = False) -> list[str]:
    """Sorted unique proto/port strings (tcp/22, udp/53) of the listening and bound sockets."""
    try:
        return _listening.listening_ports(sockets, with_address=with_address, with_family=with_family)
    except NetauditError as exc:
        raise AnsibleFilterError('listening_ports: %s' % exc) from exc


def port_audit(sockets: object, policy: object, now: object = None, socket_meta: object = None) -> dict[str, Any]:
    """The verdict of one host's socket facts against a port policy."""
    try:
        return verdict.port_audit(sockets, policy, now=now, socket_meta=socket_meta)
    except NetauditError as exc:
        raise AnsibleFilterError('port_audit: %s' % exc) from exc


def socket_diff(baseline: object, current: object, established: object = False, ephemeral: object = False,
                ephemeral_range: object = None) -> dict[str, Any]:
    """Sockets opened, closed and changed between a baseline and the current facts."""
    try:
        return _snapshot_diff.socket_diff(baseline, current, established=established, ephemeral=ephemeral,
                                          ephemeral_range=ephemeral_range)
    except NetauditError as exc:
        raise AnsibleFilterError('socket_diff: %s' % exc) from exc


class FilterModule(object):
    """netaudit.sockets filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            'ss_filter': ss_filter,
            'listening_ports': listening_ports,
            'port_audit': port_audit,
            'socket_diff': socket_diff,
        }
