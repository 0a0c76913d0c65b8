# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the policy's vocabulary, the keys a policy and a rule take and the words they use."""

from __future__ import annotations

# The tables whose sockets have ports: what a rule's proto names.
PORT_NETIDS = ('tcp', 'udp', 'sctp', 'mptcp', 'dccp', 'raw')
# Rule keys judged on who holds the socket, globs all: `process` against the owning processes' names (OWNER_FIELDS:
# that field of the record's `processes` entries), `unit`, `container` and `package` against the record's fields of
# those names (_listening.ORIGIN_FIELDS, _listening.origin_values()). A socket whose owner, or whose field, is unknown
# cannot be judged on them: the rule fails closed (docs/policy.md, "Sockets whose owner is unknown"), and
# `unknown_owner` (UNKNOWN_OWNER_MODES) says what each of them does then.
OWNER_KEYS = ('process', 'unit', 'container', 'package')
OWNER_FIELDS = {'process': 'name'}
UNKNOWN_OWNER_MODES = ('fail', 'ignore')
RULE_KEYS = ('port', 'proto', 'family', 'bind') + OWNER_KEYS + (
    'user', 'netns', 'match', 'name', 'reason', 'until', 'unknown_owner')
POLICY_KEYS = ('expected', 'allowed', 'forbidden', 'closed_world', 'accept_incomplete', 'unknown_owner', 'name',
               'description')
KINDS = ('expected', 'allowed', 'forbidden')
FAMILY_WORDS = {'inet': 4, 'ipv4': 4, '4': 4, 'inet6': 6, 'ipv6': 6, '6': 6}
