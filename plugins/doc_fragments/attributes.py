# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the collection's modules and actions support, for ansible-doc's attributes (each beside the
ansible.builtin.action_common_attributes part that describes the attribute)."""

from __future__ import annotations


class ModuleDocFragment(object):

    # Every module of the collection: check mode, no diff, POSIX hosts.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

    # The actions documented by a docs-only module (port_verdict, port_reports, port_drift): they run on the
    # controller, per host, and not async.
    ACTION = r"""
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
"""

    # Those that return socket facts (socket_facts, and port_verdict and port_drift, which gather them).
    FACTS = r"""
attributes:
  facts:
    support: full
"""
