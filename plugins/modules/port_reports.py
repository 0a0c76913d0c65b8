#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: port_reports
short_description: Write a fleet's port audit verdicts as report files on the controller
version_added: 0.1.0
description:
  - Renders the verdicts of a fleet (host name to the verdict of the P(netaudit.sockets.port_audit#filter) filter or
    of M(netaudit.sockets.port_verdict)) as the P(netaudit.sockets.audit_report#filter) filter does, and writes one
    file per format in O(dest) on the controller, in one task. A file is written only when its content changes.
  - "Every string that comes from a host (process, user, interface and namespace names, addresses) is escaped for
    the format it is written in, and for the terminal in what the task shows: control characters and invalid UTF-8
    appear as C(\\xNN), never raw. Every format is always written."
  - The reports of a run are written as one set. Each changed report is written to a temporary file in O(dest)
    first; only when all are written are they renamed into place. When a write fails (a full disk), the temporary
    files are removed, the previous reports stay as they were, and the task fails naming the folder.
  - A previous report is read (to compare) only when it is a regular file below 64 MiB. A symlink, FIFO or device
    in its place is never followed or opened; it is replaced by the new report (the symlink itself, not its target).
  - Shows the fleet's verdicts, one line per host, and returns the paths of the reports.
  - It is the report step of the role C(netaudit.sockets.port_audit); run it once per play (C(run_once)).
author:
  - netaudit.sockets developers (@netaudit)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - netaudit.sockets.attributes
  - netaudit.sockets.attributes.action
attributes:
  check_mode:
    details: In check mode nothing is written; C(changed) says whether a report would change.
options:
  verdicts:
    description:
      - Host name to verdict. A host without a verdict (it failed or was unreachable before its verdict) has
        V(false) or V(null), and is listed as such.
    type: dict
    required: true
  formats:
    description:
      - The reports to write, each to C(NAME.EXTENSION) in O(dest). V(json) (C(.json), every verdict and a fleet
        summary), V(markdown) (C(.md)), V(junit) (C(.junit.xml), one test case per host and rule), V(html)
        (C(.html), a self-contained page with the fleet matrix), V(text) (C(.txt)).
      - With an empty list nothing is written; the verdicts are still shown.
    type: list
    elements: str
    choices: [json, markdown, junit, html, text]
    default: [json, markdown, junit, html]
  dest:
    description:
      - The folder of the reports, on the controller. It is created when missing, with its missing parents (mode
        O(dir_mode), or C(0777) less the umask). An existing folder keeps its mode.
    type: path
    required: true
  mode:
    description:
      - The mode of the report files, in octal (V(0640)).
      - When not set, a new report gets C(0666) less the controller's umask, as any file ansible-playbook creates
        (C(0644) with the usual umask C(022)).
      - When set, a report with the right content but another mode is rewritten with this mode.
    type: raw
  dir_mode:
    description:
      - The mode, in octal (V(0750)), of the folders this task creates for O(dest). Existing folders are left
        as they are (a shared C(1777) folder stays C(1777)).
      - When not set, C(0777) less the controller's umask.
    type: raw
  name:
    description: The reports' file name, without extension.
    type: str
    default: port-audit
  title:
    description: The reports' title.
    type: str
    default: Port audit
seealso:
  - module: netaudit.sockets.port_verdict
  - plugin: netaudit.sockets.audit_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Judge each host
  netaudit.sockets.port_verdict:
    policy:
      expected: [tcp/22]
      accept_incomplete: true
  register: audit

- name: Write the fleet reports on the controller
  netaudit.sockets.port_reports:
    verdicts: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
                  | map(attribute='audit.verdict', default=false))) }}"
    dest: "{{ playbook_dir }}/reports"
    formats: [json, junit]
    mode: "0640"
  run_once: true
"""

RETURN = r"""
reports:
  description: The paths of the reports, in the order of O(formats).
  returned: success
  type: list
  elements: str
  sample: [/srv/audit/reports/port-audit.json, /srv/audit/reports/port-audit.junit.xml]
msg:
  description: The fleet's verdict in one line, then one line per host.
  returned: success
  type: list
  elements: str
  sample: ['Port audit: 2 hosts: 1 compliant, 1 NOT compliant', 'web1: compliant: 1 rule holds, 3 listening sockets']
"""
