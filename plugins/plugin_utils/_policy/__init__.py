# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: port policies and the port_audit filter's verdict on one host's listening sockets
(docs/policy.md). `keys.py` is the policy's vocabulary (the keys a policy and a rule take, the rule kinds, the owner
keys); `binds.py` reads a rule's bind (any, loopback, public, an address, a CIDR) into a test of an endpoint;
`rule.py` is one rule as loaded, every value checked, with its canonical text; `matching.py` judges a listening
socket against a rule (matches, does not, or cannot say because the owner is unknown); `policy.py` is a whole policy
as loaded, cached by its text; `expiry.py` holds the dates: a rule's `until`, the audit's date, which rules have
expired and which live exceptions override forbidden rules; `rule_result.py` is one rule's result in the verdict,
with its message; `verdict.py` is `port_audit()`, one host's verdict."""
