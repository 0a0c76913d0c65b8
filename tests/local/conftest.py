# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the tests that run real ansible on this machine."""

import os
import socket

import pytest


@pytest.fixture()
def tcp_listener():
    """A TCP socket of this test process listening on 127.0.0.1 (a port the kernel picks): the oracle that the
    socket facts, filters and verdicts must show."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(5)
    yield sock
    sock.close()


@pytest.fixture()
def listener(tcp_listener):
    """tcp_listener as the socket facts name it: (port, inode, fd)."""
    return tcp_listener.getsockname()[1], os.fstat(tcp_listener.fileno()).st_ino, tcp_listener.fileno()


@pytest.fixture()
def listener_port(tcp_listener):
    """tcp_listener's port, as a policy names it."""
    return tcp_listener.getsockname()[1]
