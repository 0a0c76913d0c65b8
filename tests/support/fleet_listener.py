# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: a listener in a host of the test fleet, run as a program of its own there, so that the socket is
that host's and its owner a process of that host (killed at the fleet's down())."""

import subprocess
import sys

# proto address port [delay]: listen (TCP) or bind (UDP) after `delay` seconds, print `ready`, then wait to be killed.
# An IPv6 address takes both families (IPV6_V6ONLY off).
PROGRAM = """
import socket, sys, time
proto, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0)
family = socket.AF_INET6 if ':' in address else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((address, port))
if proto == 'tcp':
    s.listen(8)
print('ready', flush=True)
time.sleep(3600)
"""


def start_listener(fleet, host, proto, address, port, delay=0, python=sys.executable):
    """PROGRAM run by PYTHON in HOST; its Popen once it has said `ready` (at once when it listens after a delay).
    The process name that the facts show comes from PYTHON's file name."""
    proc = fleet.spawn_in(host, [python, '-c', PROGRAM, proto, address, str(port), str(delay)],
                          stdout=subprocess.PIPE, text=True)
    if not delay:
        assert proc.stdout.readline().strip() == 'ready'
    return proc
