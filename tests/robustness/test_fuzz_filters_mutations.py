# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): 55,000 mutated filters (words and characters deleted, inserted, swapped, repeated; cut short)
through every in-process entry point, with the invariants and oracles of oracles.py."""

from __future__ import annotations

import pytest

from robustness import oracles

PARTS = 2
PER_PART = 27500


@pytest.mark.parametrize('part', range(PARTS))
def test_mutated_filters(part):
    counts = oracles.check_generated(100 + part, PER_PART, 'mutation', gather_every=1000)
    assert counts['parsed'] > PER_PART // 20 and counts['errors'] > PER_PART // 2, counts
