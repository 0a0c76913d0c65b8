#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_verdict
short_description: Judge a host's listening sockets against a port policy, in one task
version_added: 0.1.0
description:
  - Checks a port policy, gathers the host's listening sockets with M(netaudit.sockets.socket_facts) (or takes the
    socket facts already gathered), and judges them against the policy as the
    P(netaudit.sockets.port_audit#filter) filter does.
  - It is the per-host engine of the role C(netaudit.sockets.port_audit). It does the work of a C(socket_facts) task
    and the filter in one task, which matters on large fleets, where each task costs ansible a worker per host.
  - It never fails a host for a verdict that is not compliant; test RV(verdict.compliant) for that. It fails for
    a policy it cannot read (the message names the rule) and when gathering fails.
  - The action runs on the controller; only the gathering runs on the host, and it changes nothing there.
author:
  - netaudit.sockets developers (@netaudit)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - netaudit.sockets.attributes
  - netaudit.sockets.attributes.action
  - netaudit.sockets.attributes.facts
  - netaudit.sockets.gathering
  - netaudit.sockets.gathering.netns
attributes:
  facts:
    details: With O(gather), returns the socket facts it gathered, as M(netaudit.sockets.socket_facts) does.
options:
  policy:
    description:
      - The port policy, a dict with C(expected), C(allowed), C(forbidden) (lists of rules), C(closed_world) and
        C(accept_incomplete) (booleans), as the P(netaudit.sockets.port_audit#filter) filter takes it; see the
        collection's C(docs/policy.md).
    type: dict
    required: true
  exceptions:
    description:
      - Temporary exceptions, rule mappings that each have C(until) (a date, C(YYYY-MM-DD)). They are appended to
        the policy's C(allowed) rules. A rule without C(until) is an error.
    type: list
    elements: raw
    default: []
  gather:
    description:
      - Gather the listening sockets with M(netaudit.sockets.socket_facts) (C(listening=true)), with
        O(netaudit.sockets.socket_facts#module:packages=true) when a rule of the policy (or an exception) has a
        C(package) key.
      - With V(false), judge the socket facts already gathered (C(gather_facts) with C(FACTS_MODULES), a fact
        cache, or an earlier task); the task fails when there are none.
    type: bool
    default: true
  date:
    description:
      - The date that exceptions' C(until) is compared with, C(YYYY-MM-DD); the controller's date when not set.
    type: str
seealso:
  - module: netaudit.sockets.socket_facts
  - plugin: netaudit.sockets.port_audit
    plugin_type: filter
  - plugin: netaudit.sockets.audit_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Judge the listening sockets against a policy
  netaudit.sockets.port_verdict:
    policy:
      expected: [tcp/22]
      forbidden: [tcp/23, {port: 5432, bind: public, name: no public postgres}]
      accept_incomplete: true
  register: audit

- name: Say what is wrong
  ansible.builtin.debug:
    msg: "{{ audit.msg if audit.verdict.compliant else [audit.msg] + audit.verdict.violations }}"

- name: Wait until a service that is starting listens (five tries, two seconds apart)
  netaudit.sockets.port_verdict:
    policy:
      expected: [tcp/8080]
      accept_incomplete: true
  register: audit
  until: audit is failed or audit.verdict.compliant
  retries: 4
  delay: 2
  failed_when: audit is failed or not audit.verdict.compliant
"""

RETURN = r"""
verdict:
  description:
    - The verdict, as the P(netaudit.sockets.port_audit#filter) filter returns it (see that filter's documentation
      and the collection's C(docs/policy.md)).
  returned: success
  type: dict
  contains:
    compliant:
      description: Whether the host holds the policy.
      type: bool
      sample: false
    violations:
      description: One sentence per missing or violated rule and unexpected socket, naming sockets and processes.
      type: list
      elements: str
      sample: ['forbidden[0] tcp/23: violated by tcp 0.0.0.0:23 (python3 pid 4242, user root)']
msg:
  description: The verdict in one line, as the role shows it.
  returned: success
  type: str
  sample: "web1: NOT compliant: 1 violation (1 forbidden), 3 listening sockets"
gathered:
  description: Whether the sockets were gathered by this task (O(gather)).
  returned: success
  type: bool
  sample: true
ansible_facts:
  description: With O(gather), the socket facts gathered (C(sockets), C(socket_meta), C(socket_summary)).
  returned: when O(gather) is true
  type: dict
  sample: {}
"""
