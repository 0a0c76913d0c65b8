# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: helper processes for the fault tests. Each subcommand prints JSON on stdout.

  refused      (in a quiet network namespace) open sockets, refuse AF_NETLINK with EPERM as a seccomp filter
               would, gather with backend auto and netlink, then read `ss -tuanH` with the sockets still open
  as-nobody    (started as uid 65534) open a listener, gather, report its own listener with the facts
  churn SECS   open a listener, then for SECS seconds keep children opening sockets and exiting; prints the
               listener at once and a summary at the end
  hold         (in a namespace) open the sockets of `refused`, print their inodes, and keep them until stdin closes
"""

from __future__ import annotations

import errno
import json
import os
import random
import socket
import subprocess
import sys
import time

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather


def _listener(family, address, backlog=8):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 0))
    sock.listen(backlog)
    return sock


def open_sockets():
    """Sockets of several kinds and states: TCP listeners (IPv4, IPv6, dual stack), established pairs (one with a
    v4-mapped peer), UDP bound and connected."""
    held = []
    for family, address in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1'), (socket.AF_INET6, '::')):
        server = _listener(family, address)
        held.append(server)
        client = socket.socket(family, socket.SOCK_STREAM)
        client.connect(('127.0.0.1' if address == '::' else address, server.getsockname()[1]) if family == socket.AF_INET
                       else ('::ffff:127.0.0.1' if address == '::' else address, server.getsockname()[1]))
        held.extend([client, server.accept()[0]])
    for family, address in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
        bound = socket.socket(family, socket.SOCK_DGRAM)
        bound.bind((address, 0))
        connected = socket.socket(family, socket.SOCK_DGRAM)
        connected.connect(bound.getsockname()[:2])
        held.extend([bound, connected])
    return held


def refused():
    held = open_sockets()
    real = socket.socket

    class Refusing(real):
        """socket.socket, except that AF_NETLINK is refused with EPERM (what a seccomp filter or an LSM does)."""

        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):  # pylint: disable=redefined-builtin
            if family == socket.AF_NETLINK:
                raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
            super().__init__(family, type, proto, fileno)

    socket.socket = Refusing
    try:
        auto = _gather.gather(tables=['tcp', 'udp'], processes=False, summary=False)
        try:
            _gather.gather(tables=['tcp', 'udp'], backend='netlink', processes=False, summary=False)
            netlink = 'no error'
        except Exception as exc:  # pylint: disable=broad-except  # its class is the answer
            netlink = '%s: %s' % (type(exc).__name__, exc)
    finally:
        socket.socket = real
    ss = subprocess.run(['ss', '-tuanH'], capture_output=True, text=True, check=True)
    print(json.dumps({'auto': auto, 'netlink': netlink, 'ss': ss.stdout, 'held': len(held)}))


def as_nobody():
    own = _listener(socket.AF_INET, '127.0.0.1')
    facts = _gather.gather(tables=['tcp'], processes=True, summary=False)
    print(json.dumps({'uid': os.geteuid(), 'pid': os.getpid(), 'fd': own.fileno(), 'port': own.getsockname()[1],
                      'inode': os.fstat(own.fileno()).st_ino, 'facts': facts}))


def churn(seconds):
    own = _listener(socket.AF_INET, '127.0.0.1')
    print(json.dumps({'pid': os.getpid(), 'fd': own.fileno(), 'port': own.getsockname()[1],
                      'inode': os.fstat(own.fileno()).st_ino}), flush=True)
    rng = random.Random(7)
    children, started, forked = set(), time.monotonic(), 0
    while time.monotonic() - started < seconds:
        while len(children) < 16:
            pid = os.fork()
            if pid == 0:
                try:
                    held = [_listener(socket.AF_INET, '127.0.0.1'), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
                            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)]
                    time.sleep(rng.random() * 0.02)
                    for sock in held[::2]:
                        sock.close()        # some closed, the others still open when the process exits
                finally:
                    os._exit(0)
            children.add(pid)
            forked += 1
        pid, _status = os.waitpid(-1, 0)
        children.discard(pid)
    for pid in children:
        os.waitpid(pid, 0)
    print(json.dumps({'forked': forked}), flush=True)


def hold():
    held = open_sockets()
    print(json.dumps({'pid': os.getpid(), 'inodes': sorted(os.fstat(sock.fileno()).st_ino for sock in held)}), flush=True)
    sys.stdin.read()


if __name__ == '__main__':
    command = sys.argv[1]
    if command == 'refused':
        refused()
    elif command == 'as-nobody':
        as_nobody()
    elif command == 'churn':
        churn(float(sys.argv[2]))
    elif command == 'hold':
        hold()
    else:
        sys.exit('unknown command %s' % command)
