# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the NETLINK_SOCK_DIAG transport every reader shares: the socket, request framing,
one dump run to its end, the walk over reply messages and their attributes, and the errors, which name the table."""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Callable, Iterator

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import no_cycle_collection

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300          # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3

RECV_BUFFER_SIZE = 1 << 20
TIMEOUT_SECONDS = 30.0
SEQ = 0x6e61   # any value: replies echo it, which tells our dump apart from stray messages

NLMSGHDR = struct.Struct('=IHHII')
RTATTR = struct.Struct('=HH')
U32 = struct.Struct('=I')
I32 = struct.Struct('=i')
U64 = struct.Struct('=Q')

# What a reader hands run_dump: feed(view, length) reads one reply chunk and says whether the dump is over.
Feed = Callable[[memoryview, int], bool]


class SockDiagError(NetauditError, OSError):
    """Netlink sock_diag is unavailable, or the kernel refused a request; errno is set."""


class SockDiagReplyError(NetauditError, ValueError):
    """A netlink sock_diag reply that cannot be read (malformed); the message names the table and the byte."""


def rtattr(attr_type: int, payload: bytes) -> bytes:
    """One request attribute: its header, the payload, and the padding to four bytes."""
    length = RTATTR.size + len(payload)
    return RTATTR.pack(length, attr_type) + payload + b'\0' * (-length % 4)


def states_checked(states: object) -> int:
    """states, a state mask of a request (1 << state number), or ValueError when it is not one."""
    if not isinstance(states, int) or isinstance(states, bool) or not 0 <= states <= 0xffffffff:
        raise ValueError('invalid state mask %r: expected an int from 0 to 0xffffffff' % (states,))
    return states


def diag_request(body: bytes, seq: int = SEQ, msg_type: int = SOCK_DIAG_BY_FAMILY) -> bytes:
    """One dump request (SOCK_DIAG_BY_FAMILY unless msg_type says otherwise): the netlink header, then body (a
    *_diag_req and its attributes)."""
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def control_message(view: memoryview, offset: int, msg_type: int, msg_len: int) -> bool:
    """True for NLMSG_DONE; raise SockDiagError for an error (NLMSG_ERROR, or DONE carrying -errno); else False."""
    if msg_type == NLMSG_DONE:
        # A dump that failed part-way reports -errno in the DONE payload.
        if msg_len >= 20:
            status = I32.unpack_from(view, offset + 16)[0]
            if status < 0:
                raise SockDiagError(-status, 'the dump ended with an error: %s' % os.strerror(-status))
        return True
    if msg_type == NLMSG_ERROR:
        code = I32.unpack_from(view, offset + 16)[0] if msg_len >= 20 else -errno.EBADMSG
        if code < 0:
            raise SockDiagError(-code, os.strerror(-code))
        # code 0 is an acknowledgement: nothing to report.
    return False


class DiagMessages(object):
    """The netlink message walk of the parsers off the hot path (the inet parser keeps its own, inlined).

    Iterating yields (offset, msg_len, end) for each message of type msg_type (SOCK_DIAG_BY_FAMILY unless told)
    in data[:length] whose sequence number is seq (any, when seq is None); control messages of that seq go to
    control_message, and `done` turns True once NLMSG_DONE is seen. A message that claims more bytes than remain
    raises ValueError. `view` is data as a memoryview, for the caller to read the messages from.
    """

    def __init__(self, data: bytes | bytearray | memoryview, length: int | None, seq: int | None,
                 msg_type: int = SOCK_DIAG_BY_FAMILY) -> None:
        self.view = data if isinstance(data, memoryview) else memoryview(data)
        self.length = len(self.view) if length is None else length
        self.seq = seq
        self.msg_type = msg_type
        self.done = False

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        view, length, seq, unpack_header = self.view, self.length, self.seq, NLMSGHDR.unpack_from
        diag_type = self.msg_type
        offset = 0
        while offset + 16 <= length:
            msg_len, msg_type, _flags, msg_seq, _pid = unpack_header(view, offset)
            end = offset + msg_len
            if msg_len < 16 or end > length:
                raise ValueError('malformed netlink reply: the message at byte %d claims %d bytes, %d remain'
                                 % (offset, msg_len, length - offset))
            if seq is None or msg_seq == seq:
                if msg_type == diag_type:
                    yield offset, msg_len, end
                else:
                    self.done = control_message(view, offset, msg_type, msg_len) or self.done
            offset = (end + 3) & ~3


def attributes(view: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each rtattr in view[start:end]; ValueError when one overruns."""
    while start + 4 <= end:
        length, kind = RTATTR.unpack_from(view, start)
        if length < 4 or start + length > end:
            raise ValueError('malformed netlink reply: attribute at byte %d has length %d' % (start, length))
        yield kind, start + 4, start + length
        start += (length + 3) & ~3


def explain_error(table: str, code: int, with_bytecode: bool = False) -> str:
    """The message of a failed dump: the table, the errno's text, and what it usually means."""
    reason = os.strerror(code)
    if code == errno.EINVAL and with_bytecode:
        reason += ' (the kernel rejected the filter bytecode)'
    elif code == errno.EPERM and with_bytecode:
        reason += ' (the filter needs CAP_NET_ADMIN, e.g. a mark condition)'
    elif code in (errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT):
        reason += ' (the kernel has no sock_diag support for this table)'
    return 'netlink sock_diag dump of the %s table failed: %s' % (table, reason)


def run_dump(request: bytes, feed: Feed, table: str, explain: Callable[[int], str] | None = None) -> None:
    """Send one dump request on a fresh NETLINK_SOCK_DIAG socket and hand each reply chunk to
    feed(view, length) until it returns True. Errors name the table: SockDiagError with the
    errno (explain(errno) words the message), SockDiagReplyError (a ValueError) for a malformed reply."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except OSError as exc:
        code = exc.errno or errno.EAFNOSUPPORT
        raise SockDiagError(code, 'cannot open a NETLINK_SOCK_DIAG socket for the %s table: %s'
                            % (table, os.strerror(code))) from exc
    with sock:
        sock.settimeout(TIMEOUT_SECONDS)
        buffer = bytearray(RECV_BUFFER_SIZE)
        view = memoryview(buffer)
        try:
            sock.sendto(request, (0, 0))
            with no_cycle_collection():
                while not feed(view, sock.recv_into(buffer)):
                    pass
        except socket.timeout as exc:
            raise SockDiagError(errno.ETIMEDOUT, 'netlink sock_diag dump of the %s table: no reply in %d seconds'
                                % (table, TIMEOUT_SECONDS)) from exc
        except OSError as exc:   # SockDiagError from the parser, or a socket error
            code = exc.errno or errno.EIO
            message = explain(code) if explain else explain_error(table, code)
            raise SockDiagError(code, message) from exc
        except ValueError as exc:
            raise SockDiagReplyError('%s (dump of the %s table)' % (exc, table)) from exc
        finally:
            view.release()
