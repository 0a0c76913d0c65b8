# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The origin tests' shared fixture: container_lab, real cgroups laid out as the runtimes lay them out and state
files under a tmp root (tests/support/container_lab.py), removed afterwards."""

import pytest

from support.container_lab import container_lab_in


@pytest.fixture
def container_lab(tmp_path):
    with container_lab_in(tmp_path) as lab:
        yield lab
