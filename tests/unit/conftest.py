# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures shared by the unit tests."""

import pytest

from support.fake_netlink import install_scripted_netlink


@pytest.fixture
def scripted(monkeypatch):
    """scripted(*steps): the netlink sockets opened after it reply with STEPS (support/fake_netlink.py)."""
    return install_scripted_netlink(monkeypatch)
