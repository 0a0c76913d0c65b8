# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): 25,000 filters from the grammar of the ss filter language through every in-process entry point.

The grammar covers every keyword, operator and state name, state/exclude clauses, every host form (IPv4 partial, octal
and hex, prefixes and netmasks, bracketed IPv6, names, wildcards, unix globs, link/netlink/vsock specs), ports in
every base and service names, dev/fwmark/cgroup/autobound, parentheses and not, glued and blank-separated words.
What each filter must satisfy is in oracles.py: only our error classes, naming the position; FastFilter == SSFilter;
the INET_DIAG program, run by an interpreter written from the kernel's, == SSFilter's model of the kernel; the plugin
and gather() agree with parse. One in 250 filters also runs a real gather (netlink dump) on this machine."""

from __future__ import annotations

import pytest

from robustness import oracles

PARTS = 2
PER_PART = 12500


@pytest.mark.parametrize('part', range(PARTS))
def test_grammar_filters(part):
    counts = oracles.check_generated(part, PER_PART, 'grammar', gather_every=250)
    # The generator must keep producing valid filters, kernel programs and errors, or the oracles check little.
    assert counts['parsed'] > PER_PART // 3 and counts['programs'] > PER_PART // 5 and counts['errors'] > PER_PART // 5, counts
