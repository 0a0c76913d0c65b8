# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): 55,000 mutated filters (words and characters deleted, inserted, swapped, repeated; cut short)
through every in-process entry point, with the invariants and oracles of oracles.py."""

from __future__ import annotations

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _ssfilter

from robustness import filtergen, oracles

PARTS = 2
PER_PART = 27500


@pytest.fixture(autouse=True)
def no_dns(monkeypatch):
    monkeypatch.setattr(_ssfilter, 'default_resolver', filtergen.fake_resolver)


@pytest.mark.parametrize('part', range(PARTS))
def test_mutated_filters(part):
    fuzzer = oracles.Fuzzer(filtergen.seed(100 + part), gather_every=1000)
    fuzzer.run(filtergen.filters(fuzzer.seed, PER_PART, kinds=('mutation',)))
    if fuzzer.failures:
        pytest.fail(fuzzer.report(), pytrace=False)
    counts = fuzzer.counts
    assert counts['filters'] == PER_PART
    assert counts['parsed'] > PER_PART // 20 and counts['errors'] > PER_PART // 2, counts
