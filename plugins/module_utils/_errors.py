# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the one base of every exception the collection defines.

Each area subclasses it beside its code (`_gather.GatherError`, `_netlink.transport.SockDiagError`,
`_netns.calling.NamespaceError`, `plugin_utils._controller_files.ControllerFileError` ...) and keeps the built-in
base it had (ValueError, OSError), so a caller that catches those still does. The message of each names the input that failed. So the module has one
`except NetauditError` that turns any of them into `fail_json(msg=str(exc))`, a filter one that turns it into
`AnsibleFilterError(...) from exc`, an action one into `AnsibleActionFail(...) from exc`.

Nothing is ever set on an exception that is not the collection's own: what a function run in another network
namespace raised comes back as `_netns.calling.NamespaceCallError`, which names the namespace and is raised from it.
"""

from __future__ import annotations


class NetauditError(Exception):
    """Base of every exception of netaudit.sockets; its message is the whole story, fit for fail_json(msg=...)."""
