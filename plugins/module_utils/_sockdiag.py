# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a NETLINK_SOCK_DIAG reader for the inet socket tables, and the shared transport."""

from __future__ import annotations

import _thread
import errno
import os
import socket
import struct
import sys

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import host_name
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import (
    FAMILY_NAMES,
    FIELDS,
    INET_NETIDS,
    inet_address_text,
    key_sharing_template,
    no_cycle_collection,
    state_name,
    user_namer,
)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
# The legacy request (struct inet_diag_req) for TCP: the kernel dumps both address families in one walk of its
# tables (the family-agnostic dump of inet_diag's compatibility path); replies carry this type too.
TCPDIAG_GETSOCK = 18
IPPROTO_TCP = 6
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300          # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3

# Request attributes (inet_diag_req_v2 is followed by these).
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_REQ_PROTOCOL = 3
# Reply attributes we read. The kernel sends them without being asked: SKV6ONLY for AF_INET6 sockets in
# LISTEN or CLOSE state, MARK when the requester has CAP_NET_ADMIN, CGROUP_ID when cgroups are built in.
INET_DIAG_SKV6ONLY = 11
INET_DIAG_MARK = 15
INET_DIAG_CGROUP_ID = 21

IPPROTO_RAW = 255
RECV_BUFFER_SIZE = 1 << 20
TIMEOUT_SECONDS = 30.0
_SEQ = 0x6e61   # any value: replies echo it, which tells our dump apart from stray messages

_NLMSGHDR = struct.Struct('=IHHII')
_REQ_V2 = struct.Struct('=BBBBI48x')            # family, protocol, ext, pad/raw protocol, states, zero sockid
_REQ_V1 = struct.Struct('=BBBB48xII')           # family, src_len, dst_len, ext, zero sockid, states, dbs
_RTATTR = struct.Struct('=HH')
_U32 = struct.Struct('=I')
_I32 = struct.Struct('=i')
_U64 = struct.Struct('=Q')
# nlmsghdr (16 bytes) + inet_diag_msg (72): len, type, -flags, seq, -pid, family, state, -timer, -retrans,
# sport, dport, src, dst, ifindex, -cookie, -expires, rqueue, wqueue, uid, inode.
# What every inet record starts from (see _records.key_sharing_template); netns and port_locked stay None here.
_INET_RECORD = key_sharing_template(FIELDS + ('_ifindex',))
_INET_MSG = struct.Struct('=IH2xI4xBB2xHH16s16sI8x4xIIII')
_SWAP_PORTS = sys.byteorder == 'little'      # the ports were read in host order but travel big-endian

_STATE_TEXT = tuple(state_name(number) for number in range(256))
_MISSING = object()
_ATTRIBUTE_CACHE_SIZE = 4096


class SockDiagError(NetauditError, OSError):
    """Netlink sock_diag is unavailable, or the kernel refused a request; errno is set."""


class SockDiagReplyError(NetauditError, ValueError):
    """A netlink sock_diag reply that cannot be read (malformed); the message names the table and the byte."""


def _table_name(protocol, family):
    netid = INET_NETIDS.get(protocol, 'protocol %s' % protocol)
    if family == socket.AF_UNSPEC:
        return '%s (IPv4 and IPv6)' % netid
    return '%s/%s' % (netid, FAMILY_NAMES.get(family, family))


def reply_type(family):
    """The netlink message type of the replies to inet_request(protocol, family, ...)."""
    return TCPDIAG_GETSOCK if family == socket.AF_UNSPEC else SOCK_DIAG_BY_FAMILY


def _rtattr(attr_type, payload):
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, attr_type) + payload + b'\0' * (-length % 4)


def inet_request(protocol, family, states, bytecode=None, seq=_SEQ):
    """The bytes of one SOCK_DIAG_BY_FAMILY dump request for an inet table; for TCP with family AF_UNSPEC, the
    legacy TCPDIAG_GETSOCK request, which dumps IPv4 and IPv6 sockets in one walk (the same records, the same
    bytecode semantics: the kernel runs the program on each socket with that socket's own family)."""
    if protocol not in INET_NETIDS:
        raise ValueError('unsupported inet protocol %r: expected one of %s'
                         % (protocol, ', '.join('%d (%s)' % item for item in sorted(INET_NETIDS.items()))))
    both = family == socket.AF_UNSPEC and protocol == IPPROTO_TCP
    if family not in (socket.AF_INET, socket.AF_INET6) and not both:
        raise ValueError('unsupported address family %r for an inet socket dump: expected AF_INET or AF_INET6 '
                         '(or AF_UNSPEC for TCP)' % (family,))
    if not isinstance(states, int) or isinstance(states, bool) or not 0 <= states <= 0xffffffff:
        raise ValueError('invalid state mask %r: expected an int from 0 to 0xffffffff' % (states,))
    attributes = b''
    if bytecode is not None:
        if not isinstance(bytecode, (bytes, bytearray, memoryview)):
            raise ValueError('invalid filter bytecode %r: expected bytes' % (bytecode,))
        if len(bytecode) % 4 or len(bytecode) > 0xffff - _RTATTR.size:
            raise ValueError('invalid filter bytecode: %d bytes (must be a multiple of 4 and at most 65528)'
                             % len(bytecode))
        attributes += _rtattr(INET_DIAG_REQ_BYTECODE, bytes(bytecode))
    if both:
        return diag_request(_REQ_V1.pack(family, 0, 0, 0, states, 0) + attributes, seq, TCPDIAG_GETSOCK)
    if protocol > 0xff:
        # sdiag_protocol is one byte: larger protocol numbers (MPTCP 262) travel in an attribute.
        attributes += _rtattr(INET_DIAG_REQ_PROTOCOL, _U32.pack(protocol))
    # For raw sockets the pad byte selects the raw protocol; IPPROTO_RAW asks for all of them.
    raw_protocol = IPPROTO_RAW if protocol == IPPROTO_RAW else 0
    return diag_request(_REQ_V2.pack(family, protocol & 0xff, 0, raw_protocol, states) + attributes, seq)


def diag_request(body, seq=_SEQ, msg_type=SOCK_DIAG_BY_FAMILY):
    """One dump request (SOCK_DIAG_BY_FAMILY unless msg_type says otherwise): the netlink header, then body (a
    *_diag_req and its attributes)."""
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def _address_text(family, raw):
    """_records.inet_address_text, faster: the C inet_ntop agrees with it except for dotted IPv4 forms."""
    if family == socket.AF_INET:
        return socket.inet_ntop(family, raw[:4])
    text = socket.inet_ntop(family, raw)
    if '.' in text:
        return inet_address_text(family, raw)
    return text


def _interface_namer():
    """index -> name in the caller's network namespace, cached for one dump (ss writes an unknown index as ifN)."""
    cache = {0: None}

    def interface_name(index):
        try:
            return cache[index]
        except KeyError:
            try:
                # Python decodes the name with surrogateescape; facts show bytes that are not UTF-8 as \\xNN.
                name = host_name(socket.if_indextoname(index))
            except OSError:
                name = 'if%d' % index
            cache[index] = name
            return name
    return interface_name


class _InetParser(object):
    """Turns netlink reply bytes into records; keeps its name caches across the chunks of one dump."""

    def __init__(self, protocol, seq=None, interface_name=None, user_name=None, msg_type=SOCK_DIAG_BY_FAMILY):
        if protocol not in INET_NETIDS:
            raise ValueError('unsupported inet protocol %r' % (protocol,))
        self.netid = INET_NETIDS[protocol]
        self.seq = seq
        self.msg_type = msg_type
        self.interface_name = interface_name or _interface_namer()
        self.user_name = user_name or user_namer()
        self.users = {}
        self.addresses = {socket.AF_INET: {}, socket.AF_INET6: {}}
        self.attributes = {}
        self.records = []

    def feed(self, data, length=None):
        """Parse data[:length]; return True once NLMSG_DONE is seen. NLMSG_ERROR raises SockDiagError.

        This loop is the hot path of a large dump (100k sockets): locals only, one struct call per message,
        attribute headers read through a 16-bit view, name lookups cached.
        """
        view = data if isinstance(data, memoryview) else memoryview(data)
        if length is None:
            length = len(view)
        halves = view[:length & ~1].cast('H')
        unpack_msg, unpack_header, u32, u64 = (_INET_MSG.unpack_from, _NLMSGHDR.unpack_from,
                                               _U32.unpack_from, _U64.unpack_from)
        append, users, user_name, interface_name = (self.records.append, self.users, self.user_name,
                                                    self.interface_name)
        addresses, netid, seq, state_text, swap = self.addresses, self.netid, self.seq, _STATE_TEXT, _SWAP_PORTS
        diag_type = self.msg_type
        attribute_cache = self.attributes
        new_record = _INET_RECORD.copy
        inet6 = socket.AF_INET6
        msg_size = _INET_MSG.size
        done = False
        offset = 0
        try:
            while offset + 16 <= length:
                if offset + msg_size <= length:
                    (msg_len, msg_type, msg_seq, family, state, sport, dport, src, dst, ifindex,
                     rqueue, wqueue, uid, inode) = unpack_msg(view, offset)
                else:
                    msg_len, msg_type, _flags, msg_seq, _pid = unpack_header(view, offset)
                end = offset + msg_len
                if msg_len < 16 or end > length:
                    raise ValueError('malformed netlink reply: the message at byte %d claims %d bytes, %d remain'
                                     % (offset, msg_len, length - offset))
                if msg_type == diag_type and (seq is None or msg_seq == seq):
                    if msg_len < msg_size:
                        raise ValueError('malformed netlink reply: inet_diag message at byte %d has %d bytes, '
                                         'expected at least %d' % (offset, msg_len, msg_size))
                    attr = offset + msg_size
                    # Most sockets carry byte-identical attributes (same shutdown, mark, cgroup, options):
                    # a dict hit on those bytes replaces the walk below.
                    region = view[attr:end].tobytes()
                    known = attribute_cache.get(region)
                    if known is not None:
                        v6only, mark, cgroup_id = known
                        attr = end
                    else:
                        v6only = mark = cgroup_id = None
                    last_attr = end - 4
                    while attr <= last_attr:
                        attr_len = halves[attr >> 1]
                        if attr_len < 4 or attr + attr_len > end:
                            raise ValueError('malformed netlink reply: attribute at byte %d has length %d'
                                             % (attr, attr_len))
                        # Types are compared with their flag bits: a nested or network-order attribute
                        # is not the plain value we read.
                        attr_type = halves[(attr >> 1) + 1]
                        if attr_type == INET_DIAG_MARK:
                            if attr_len >= 8:
                                mark = u32(view, attr + 4)[0]
                        elif attr_type == INET_DIAG_CGROUP_ID:
                            if attr_len >= 12:
                                cgroup_id = u64(view, attr + 4)[0]
                        elif attr_type == INET_DIAG_SKV6ONLY and attr_len > 4:
                            v6only = view[attr + 4] != 0
                        attr += (attr_len + 3) & ~3
                    if known is None and len(attribute_cache) < _ATTRIBUTE_CACHE_SIZE:
                        attribute_cache[region] = (v6only, mark, cgroup_id)
                    cache = addresses.get(family)
                    if cache is None:
                        raise ValueError('malformed netlink reply: inet_diag message at byte %d has family %d'
                                         % (offset, family))
                    local = cache.get(src)
                    if local is None:
                        local = cache[src] = _address_text(family, src)
                    peer = cache.get(dst)
                    if peer is None:
                        peer = cache[dst] = _address_text(family, dst)
                    user = users.get(uid, _MISSING)
                    if user is _MISSING:
                        user = users[uid] = user_name(uid)
                    if swap:
                        sport = ((sport & 0xff) << 8) | (sport >> 8)
                        dport = ((dport & 0xff) << 8) | (dport >> 8)
                    # A copy of a key-sharing template (keys in _records.FIELDS order, then the private ones; a test
                    # holds the two together): about 140 bytes less per record than a dict literal.
                    record = new_record()
                    record['netid'] = netid
                    record['state'] = state_text[state]
                    record['family'] = 'inet6' if family == inet6 else 'inet'
                    record['local_address'] = local
                    record['local_port'] = sport
                    record['peer_address'] = peer
                    record['peer_port'] = dport
                    if ifindex:
                        record['interface'] = interface_name(ifindex)
                    if family == inet6:
                        record['v6only'] = v6only
                    record['recv_q'] = rqueue
                    record['send_q'] = wqueue
                    record['inode'] = inode
                    record['uid'] = uid
                    record['user'] = user
                    record['processes'] = []
                    record['mark'] = mark
                    record['cgroup_id'] = cgroup_id
                    record['_ifindex'] = ifindex
                    append(record)
                elif seq is None or msg_seq == seq:
                    done = control_message(view, offset, msg_type, msg_len) or done
                offset = (end + 3) & ~3
        finally:
            halves.release()
        return done


def control_message(view, offset, msg_type, msg_len):
    """True for NLMSG_DONE; raise SockDiagError for an error (NLMSG_ERROR, or DONE carrying -errno); else False."""
    if msg_type == NLMSG_DONE:
        # A dump that failed part-way reports -errno in the DONE payload.
        if msg_len >= 20:
            status = _I32.unpack_from(view, offset + 16)[0]
            if status < 0:
                raise SockDiagError(-status, 'the dump ended with an error: %s' % os.strerror(-status))
        return True
    if msg_type == NLMSG_ERROR:
        code = _I32.unpack_from(view, offset + 16)[0] if msg_len >= 20 else -errno.EBADMSG
        if code < 0:
            raise SockDiagError(-code, os.strerror(-code))
        # code 0 is an acknowledgement: nothing to report.
    return False


class DiagMessages(object):
    """The netlink message walk of the parsers off the hot path (_InetParser.feed keeps its own, inlined).

    Iterating yields (offset, msg_len, end) for each message of type msg_type (SOCK_DIAG_BY_FAMILY unless told)
    in data[:length] whose sequence number is seq (any, when seq is None); control messages of that seq go to
    control_message, and `done` turns True once NLMSG_DONE is seen. A message that claims more bytes than remain
    raises ValueError. `view` is data as a memoryview, for the caller to read the messages from.
    """

    def __init__(self, data, length, seq, msg_type=SOCK_DIAG_BY_FAMILY):
        self.view = data if isinstance(data, memoryview) else memoryview(data)
        self.length = len(self.view) if length is None else length
        self.seq = seq
        self.msg_type = msg_type
        self.done = False

    def __iter__(self):
        view, length, seq, unpack_header = self.view, self.length, self.seq, _NLMSGHDR.unpack_from
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


def parse_inet_messages(data, protocol, interface_name=None, user_name=None):
    """Records from the bytes of one or more netlink messages (a captured sock_diag reply).

    Messages of every sequence number are read; NLMSG_DONE does not stop the walk (captures may hold several
    dumps); NLMSG_ERROR raises SockDiagError. interface_name(index) and user_name(uid) replace the lookups in
    this host's interfaces and users (a capture from another namespace names its own interfaces).
    """
    parser = _InetParser(protocol, None, interface_name, user_name)
    with no_cycle_collection():
        parser.feed(memoryview(data))
    return parser.records


def explain_error(table, code, with_bytecode=False):
    """The message of a failed dump: the table, the errno's text, and what it usually means."""
    reason = os.strerror(code)
    if code == errno.EINVAL and with_bytecode:
        reason += ' (the kernel rejected the filter bytecode)'
    elif code == errno.EPERM and with_bytecode:
        reason += ' (the filter needs CAP_NET_ADMIN, e.g. a mark condition)'
    elif code in (errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT):
        reason += ' (the kernel has no sock_diag support for this table)'
    return 'netlink sock_diag dump of the %s table failed: %s' % (table, reason)


def _explain(protocol, family, code, with_bytecode):
    return explain_error(_table_name(protocol, family), code, with_bytecode)


def dump_inet(protocol, family, states, bytecode=None):
    """protocol: 6/17/...; family: socket.AF_INET/AF_INET6 (AF_UNSPEC: both, TCP only); states: bitmask (1 << state number);
    bytecode: bytes of an INET_DIAG_REQ_BYTECODE program or None. Returns a list of records
    (dicts with every public key of _records.FIELDS, `mark` None when the kernel sent no INET_DIAG_MARK and
    `port_locked` None: unlocked_sockets() tells it) plus the private key `_ifindex` (int).
    A table the kernel lacks raises SockDiagError with its errno (ENOENT) and the table's name."""
    request = inet_request(protocol, family, states, bytecode)
    parser = _InetParser(protocol, _SEQ, msg_type=reply_type(family))
    with_bytecode = bytecode is not None
    return run_dump(request, parser.feed, _table_name(protocol, family),
                    lambda code: _explain(protocol, family, code, with_bytecode), parser.records)


# One BC_AUTO op (yes: the next op, no: past the end): the kernel's own test that a socket holds no port lock.
_AUTO_OP = struct.Struct('=BBH')
INET_DIAG_BC_AUTO = 6
# nlmsghdr + inet_diag_msg, only what the port-lock dump needs: len, type, seq, family, sport, dport, src, dst,
# inode.
_LOCK_MSG = struct.Struct('=IH2xI4xB3xHH16s16s4x8x4x4x4x4xI')


def autobound_program(bytecode=None):
    """An INET_DIAG bytecode program that keeps the sockets without the kernel's port lock (SOCK_BINDPORT_LOCK),
    and that pass `bytecode` too when given."""
    rest = bytes(bytecode or b'')
    return _AUTO_OP.pack(INET_DIAG_BC_AUTO, 4, 8 + len(rest)) + rest


class _LockParser(object):
    """Collects the sockets of a port-lock dump: inodes, and (src, sport, dst, dport) for those without one."""

    def __init__(self, seq, msg_type=SOCK_DIAG_BY_FAMILY):
        self.seq = seq
        self.msg_type = msg_type
        self.inodes = set()
        self.flows = set()

    def feed(self, data, length=None):
        """Read data[:length]; return True once NLMSG_DONE is seen. NLMSG_ERROR raises SockDiagError."""
        messages = DiagMessages(data, length, self.seq, self.msg_type)
        view, unpack_msg, msg_size = messages.view, _LOCK_MSG.unpack_from, _LOCK_MSG.size
        add_inode, add_flow = self.inodes.add, self.flows.add
        for offset, msg_len, _end in messages:
            if msg_len < msg_size:
                raise ValueError('malformed netlink reply: inet_diag message at byte %d has %d bytes'
                                 % (offset, msg_len))
            family, sport, dport, src, dst, inode = unpack_msg(view, offset)[3:]
            if inode:
                add_inode(inode)
            else:
                add_flow((family, src, sport, dst, dport))
        return messages.done


def unlocked_sockets(protocol, family, states, bytecode=None):
    """The sockets of an inet table that hold no port lock, i.e. whose local port the kernel picked (ss's
    `autobound`, as the kernel judges it; TIME-WAIT and SYN-RECV entries never hold one), among those that pass
    `bytecode` when given: a function is_unlocked(record) for records of that table dumped just before."""
    parser = _LockParser(_SEQ, reply_type(family))
    request = inet_request(protocol, family, states, autobound_program(bytecode))
    run_dump(request, parser.feed, _table_name(protocol, family),
             lambda code: _explain(protocol, family, code, True))
    inodes, flows = parser.inodes, parser.flows
    if not flows:
        return lambda record: record['inode'] in inodes
    texts = set()
    swap = _SWAP_PORTS
    for flow_family, src, sport, dst, dport in flows:
        if swap:
            sport = ((sport & 0xff) << 8) | (sport >> 8)
            dport = ((dport & 0xff) << 8) | (dport >> 8)
        texts.add((_address_text(flow_family, src), sport, _address_text(flow_family, dst), dport))

    def is_unlocked(record):
        inode = record['inode']
        if inode:
            return inode in inodes
        return (record['local_address'], record['local_port'], record['peer_address'], record['peer_port']) in texts
    return is_unlocked


def in_background(function, *args):
    """Start function(*args) on a thread of its own and return wait(): it blocks until the call is over, then
    returns its result or raises its exception. A netlink dump spends its time in the kernel, with the GIL
    released, so a dump run this way beside another costs no extra wall time on a machine with two cores.
    Where no thread can be started, the call runs at once."""
    outcome = []
    finished = _thread.allocate_lock()
    finished.acquire()

    def run():
        try:
            outcome.append((True, function(*args)))
        except BaseException as exc:    # handed to whoever waits, as if they had made the call
            outcome.append((False, exc))
        finally:
            finished.release()

    try:
        _thread.start_new_thread(run, ())
    except RuntimeError:
        run()

    def wait():
        with finished:
            pass
        succeeded, value = outcome[0]
        if succeeded:
            return value
        raise value
    return wait


def run_dump(request, feed, table, explain=None, result=None):
    """Send one dump request on a fresh NETLINK_SOCK_DIAG socket and hand each reply chunk to
    feed(view, length) until it returns True; return result. Errors name the table: SockDiagError with the
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
    return result
