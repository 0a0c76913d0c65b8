#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_drift
short_description: Compare a host's listening sockets with its baseline file on the controller, in one task
version_added: 0.1.0
description:
  - Gathers the host's listening sockets with M(netaudit.sockets.socket_facts), then on the controller reads the
    host's baseline from O(dir), checks it, compares it with the sockets as the P(netaudit.sockets.socket_diff#filter)
    filter does, and writes the sockets as the new baseline when recording.
  - It is the per-host engine of the role C(netaudit.sockets.port_baseline), whose documentation and the collection's
    C(docs/drift.md) describe the baseline files.
  - The baseline of host C(NAME) is C(DIR/NAME.json). A host name made only of ASCII letters, digits, C(_), C(.) and
    C(-) that does not start with C(.) is the file name as it is. In any other name each UTF-8 byte outside those
    characters, and a leading C(.), is written C(%XX) (upper-case hex), so no name leaves O(dir)
    (C(../x) is C(%2E.%2Fx.json)).
  - A baseline is read only if it is a regular file (a symbolic link is not followed, a FIFO or a device is not read)
    no larger than O(max_size). Its records are checked before they are compared; a bad one fails the task with a
    message that names the host, the file, the key and the problem.
  - A baseline is written to a temporary file in O(dir) and renamed over the old one, so a reader sees the whole
    old file or the whole new one; a symbolic link in its place is replaced, never written through.
  - It never fails a host for drift or a missing baseline; RV(failing) says whether the host should fail (the role
    fails it after keeping the result). It fails for a baseline it cannot read, check or write, and when gathering
    fails.
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
attributes:
  check_mode:
    details: Compares as usual and writes nothing; the line says C(would be recorded) or C(would be updated).
  facts:
    details: Returns the socket facts it gathered, as M(netaudit.sockets.socket_facts) does.
options:
  dir:
    description:
      - The folder on the controller that holds the baselines. It is created when a baseline is written (with
        O(dir_mode)); a folder that exists keeps its mode.
    type: path
    required: true
  mode:
    description:
      - V(record) writes the sockets as the baseline, after comparing them with the old one if there is one.
      - V(compare) only compares; a host without a baseline gets RV(baseline_result.action=missing) and
        RV(failing=true).
      - V(auto) compares when there is a baseline and records one when there is none, unless O(fail_on_drift) is
        true; then a host without a baseline is V(missing), as with V(compare).
    type: str
    choices: [auto, record, compare]
    default: auto
  fail_on_drift:
    description:
      - Set RV(failing) for a host that drifted from its baseline (when comparing), and do not record a missing
        baseline in O(mode=auto).
    type: bool
    default: false
  filter:
    description: An C(ss) filter that selects the sockets, as O(netaudit.sockets.socket_facts#module:filter) takes it.
    type: str
    default: ""
  netns:
    description: Network namespaces to gather in, as O(netaudit.sockets.socket_facts#module:netns) takes them.
    type: list
    elements: str
    default: []
  ephemeral:
    description: As O(netaudit.sockets.socket_diff#filter:ephemeral).
    type: bool
    default: false
  ephemeral_range:
    description: As O(netaudit.sockets.socket_diff#filter:ephemeral_range).
    type: raw
    default: 32768-60999
  packages:
    description:
      - Also gather the package that owns each socket's program (O(netaudit.sockets.socket_facts#module:packages)),
        so that a port served by a program of another package is drift (C(moved from package A to package B)).
      - Without it packages are not compared. Record the baseline again after turning it on; until then the line
        says that it cannot tell, for each socket, whether the package changed.
    type: bool
    default: false
  max_size:
    description:
      - The largest baseline file read or written, in bytes. A larger file is not read (or written) and the task
        fails, giving both sizes.
    type: int
    default: 16777216
  dir_mode:
    description:
      - The mode of O(dir) when this task creates it, octal (C("0750")). Not set, the umask decides.
    type: raw
  file_mode:
    description:
      - The mode of the baseline file, octal (C("0640")), set each time it is written. Not set, the umask decides.
    type: raw
seealso:
  - module: netaudit.sockets.socket_facts
  - plugin: netaudit.sockets.socket_diff
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Record the baseline of the listening TCP sockets, or compare with it
  netaudit.sockets.port_drift:
    dir: "{{ playbook_dir }}/port_baselines"
    tables: [tcp]
  register: drift

- name: Show the line
  ansible.builtin.debug:
    msg: "{{ drift.msg }}"

- name: Compare only, and fail the host when it drifted or has no baseline
  netaudit.sockets.port_drift:
    dir: "{{ playbook_dir }}/port_baselines"
    tables: [tcp]
    mode: compare
    fail_on_drift: true
  register: drift
  failed_when: drift is failed or drift.failing
"""

RETURN = r"""
baseline_result:
  description:
    - What was done and the drift, as the role keeps it in C(port_baseline_result).
    - The keys C(opened), C(closed), C(changed), C(unchanged), C(cannot_tell) are those of the
      P(netaudit.sockets.socket_diff#filter) filter; C(opened) is empty when a baseline was recorded for the first
      time.
  returned: success
  type: dict
  contains:
    host:
      description: The inventory host name.
      type: str
    action:
      description:
        - V(recorded) (there was no baseline; one was written), V(updated) (the old one was compared, then
          replaced), V(compared), or V(missing) (there is none, and none was written).
      type: str
      sample: compared
    mode:
      description: O(mode).
      type: str
    baseline:
      description: The baseline file.
      type: str
      sample: /srv/audit/port_baselines/web1.json
    baseline_recorded_at:
      description: When the baseline that was compared with was recorded (UTC), or null.
      type: str
    drift:
      description: Whether the sockets differ from the baseline (always false when V(recorded) or V(missing)).
      type: bool
    complete:
      description: C(socket_meta.complete) of the facts gathered.
      type: bool
    summary:
      description: The line, RV(msg).
      type: str
msg:
  description:
    - One line, what was done and the drift with the processes; a socket that moved says from which container, unit
      or package to which. Sockets whose origin one side does not know end it, in brackets, as not drift. Host data
      in it is escaped.
  returned: success
  type: str
  sample: "drift since 2026-11-25T17:33:12Z: opened udp/18104 (python3)"
failing:
  description:
    - Whether the host should fail. True for V(missing), and for drift found by a comparison when O(fail_on_drift)
      is true.
  returned: success
  type: bool
  sample: false
ansible_facts:
  description: The socket facts gathered (C(sockets), C(socket_meta), C(socket_summary)).
  returned: success
  type: dict
  sample: {}
"""
