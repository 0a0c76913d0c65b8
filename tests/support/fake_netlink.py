# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: netlink messages built by hand or captured from the kernel (and the main() of the scripts that
capture them), a scripted stand-in for the kernel's sock_diag socket, and whether the real one is here."""

import json
import os
import socket
import struct
import subprocess
import sys

import pytest

from support.scratch_netns import network_namespace

NETLINK_SOCK_DIAG = 4


def nlmsg(msg_type, payload, seq=1, flags=2):
    length = 16 + len(payload)
    return struct.pack('=IHHII', length, msg_type, flags, seq, 0) + payload + b'\0' * (-length % 4)


def rtattr(attr_type, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, attr_type) + payload + b'\0' * (-length % 4)


DONE = nlmsg(3, struct.pack('=i', 0))


def error_msg(code, seq=1):
    return nlmsg(2, struct.pack('=i', -code) + bytes(16), seq)


def captured_dumps(directory, expected_json):
    """Captured replies in DIRECTORY and what they hold: (the JSON EXPECTED_JSON, read(file name) -> bytes,
    interface_name(index) -> the name the capturing namespace gave that interface)."""
    with open(os.path.join(directory, expected_json)) as handle:
        expected = json.load(handle)
    interfaces = dict((int(index), name) for index, name in expected['interfaces'].items())

    def read(name):
        with open(os.path.join(directory, name), 'rb') as handle:
            return handle.read()

    def interface_name(index):
        return interfaces.get(index) if index else None
    return expected, read, interface_name


def capture_dump(body, seq):
    """(every byte the kernel sends for one SOCK_DIAG_BY_FAMILY dump of request BODY, up to and including DONE or
    ERROR; the errno it reports, or None). The request is built here, independently of the code under test."""
    request = struct.pack('=IHHII', 16 + len(body), 20, 0x301, seq, 0) + body
    chunks = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
        sock.sendto(request, (0, 0))
        finished, error = False, None
        while not finished:
            chunk = sock.recv(1 << 20)
            chunks.append(chunk)
            offset = 0
            while offset + 16 <= len(chunk):
                length, kind = struct.unpack_from('=IH', chunk, offset)
                if kind in (2, 3) and length >= 20:
                    # NLMSG_ERROR carries -errno; a dump that failed in its callback ends with DONE carrying it.
                    error = -struct.unpack_from('=i', chunk, offset + 16)[0] or error
                finished = finished or kind in (2, 3)
                offset += (length + 3) & ~3
    return b''.join(chunks), error


def capture_main(argv, script, prefix, inside, arguments=lambda: ()):
    """main() of a capture script (tests/unit/plugins/module_utils/fixtures/capture_sockdiag*.py): `SCRIPT [OUTDIR]`
    (root; OUTDIR defaults to the script's folder) runs SCRIPT again inside a new network namespace PREFIX-<random>,
    always deleted, as `SCRIPT --inside ARGUMENTS... OUTDIR`, which calls inside(OUTDIR, *ARGUMENTS). arguments()
    gives what the inside run needs from outside the namespace. Returns the exit status."""
    if len(argv) > 1 and argv[1] == '--inside':
        inside(argv[-1], *argv[2:-1])
        return 0
    if os.geteuid() != 0:
        sys.stderr.write('%s must run as root (it makes a network namespace)\n' % os.path.basename(script))
        return 1
    outdir = os.path.abspath(argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(script)))
    with network_namespace(prefix, tools=('ip',)) as namespace:
        subprocess.run(['ip', 'netns', 'exec', namespace, sys.executable, os.path.abspath(script), '--inside']
                       + list(arguments()) + [outdir], check=True)
    return 0


class ScriptedNetlink(object):
    """Replays reply chunks, one per recv_into; an exception in the script is raised instead."""
    opened = []
    next_script = ()

    def __init__(self, family, kind, protocol):
        assert (family, kind, protocol) == (socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
        self.script = list(ScriptedNetlink.next_script)
        self.sent = []
        self.closed = False
        self.timeout = None
        ScriptedNetlink.opened.append(self)

    def settimeout(self, seconds):
        self.timeout = seconds

    def sendto(self, data, address):
        self.sent.append((bytes(data), address))

    def recv_into(self, buffer):
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        buffer[:len(step)] = step
        return len(step)

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def install_scripted_netlink(monkeypatch):
    """Every socket.socket() opened from now on (for the test) is a ScriptedNetlink; returns install(*steps),
    which sets the replies of the sockets opened after it."""
    ScriptedNetlink.opened = []
    ScriptedNetlink.next_script = ()

    def install(*steps):
        ScriptedNetlink.next_script = steps
    monkeypatch.setattr(socket, 'socket', ScriptedNetlink)
    return install


def sock_diag_available():
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG).close()
        return True
    except OSError:
        return False


needs_sock_diag = pytest.mark.skipif(not sock_diag_available(), reason='no NETLINK_SOCK_DIAG on this host')
