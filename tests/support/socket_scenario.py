# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: what the socket scenarios share (tests/unit/plugins/module_utils/fixtures/sockdiag_scenario.py,
sockdiag_other_scenario.py and procnet/scenario.py): sockets opened and held until close(), and the records they
are expected to show. Standard library only: the scenarios run in a namespace of their own (`ip netns exec`)."""

import os
import socket

# The origin keys (issue 14): every reader leaves them None, gather fills them afterwards (_origin/run.py), so the
# records a scenario expects from a reader hold them None.
ORIGIN_KEYS = ('cgroup', 'owner_cgroups', 'unit', 'container', 'package', 'security_context', 'origin_unknown')


def reader_origin():
    """The origin keys as a reader gives them: every one None."""
    return dict.fromkeys(ORIGIN_KEYS)


def inode(sock):
    return os.fstat(sock.fileno()).st_ino


class SocketScenario(object):
    """Holds the sockets it opens until close() (or the end of a `with` block); `expected` lists the records the kernel
    should show for them.

    A subclass opens its sockets in open(), which __init__ calls: when it fails, everything opened so far is closed."""

    def __init__(self):
        self.keep = []
        self.expected = []
        try:
            self.open()
        except BaseException:
            self.close()
            raise

    def open(self):
        raise NotImplementedError

    def close(self):
        for sock in self.keep:
            sock.close()
        self.keep = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _socket(self, family, kind, protocol=0):
        sock = socket.socket(family, kind, protocol)
        self.keep.append(sock)
        return sock

    @staticmethod
    def _v6only(sock):
        return bool(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))

    def _listener(self, family, address, backlog, v6only=None, device=None, mark=None):
        sock = self._socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6only is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        if device:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        if mark:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        sock.bind(address)
        sock.listen(backlog)
        return sock

    def _udp_binds(self, base):
        """The UDP sockets that every reader is checked on, bound to ports BASE+1 to BASE+5: (any4 on 0.0.0.0, conn4
        on 127.0.0.1 connected to any4, dual on :: for both families, only6 on :: for IPv6 only, conn6 on ::1
        connected to dual)."""
        inet, inet6, dgram = socket.AF_INET, socket.AF_INET6, socket.SOCK_DGRAM
        any4 = self._socket(inet, dgram)
        any4.bind(('0.0.0.0', base + 1))
        conn4 = self._socket(inet, dgram)
        conn4.bind(('127.0.0.1', base + 2))
        conn4.connect(('127.0.0.1', base + 1))
        dual = self._socket(inet6, dgram)
        dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        dual.bind(('::', base + 3))
        only6 = self._socket(inet6, dgram)
        only6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        only6.bind(('::', base + 4))
        conn6 = self._socket(inet6, dgram)
        conn6.bind(('::1', base + 5))
        conn6.connect(('::1', base + 3))
        return any4, conn4, dual, only6, conn6

    def _pair(self, family, listener, target, payload=b'', kind=socket.SOCK_STREAM):
        """A connected client and its accepted peer (stream or seqpacket, of any family); payload is sent by the
        client and left unread."""
        client = self._socket(family, kind)
        client.connect(target)
        server = listener.accept()[0]
        self.keep.append(server)
        if payload:
            client.sendall(payload)
        return client, server
