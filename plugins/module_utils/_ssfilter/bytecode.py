# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: compile an ss filter tree to an INET_DIAG_REQ_BYTECODE program."""

from __future__ import annotations

import struct

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.conditions import (
    AutoBound, CgroupCond, HostCond, Junction, MarkCond, Node, Not, PortCmp,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.values import AF_INET6

# Operation codes of the kernel's interpreter (uapi inet_diag.h).
BC_NOP, BC_JMP, BC_S_GE, BC_S_LE, BC_D_GE, BC_D_LE, BC_AUTO = 0, 1, 2, 3, 4, 5, 6
BC_S_COND, BC_D_COND, BC_DEV_COND, BC_MARK_COND = 7, 8, 9, 10
BC_S_EQ, BC_D_EQ, BC_CGROUP_COND = 11, 12, 13

# An op is {u8 code, u8 yes, u16 no}: the interpreter advances by `yes` when the test holds, else by `no`.
# A program accepts when the walk ends exactly at its end; `no` = bytes left + 4 is the reject jump.
OP = struct.Struct('=BBH')
HOSTCOND = struct.Struct('=BBxxi')
# The longest program an INET_DIAG_REQ_BYTECODE attribute carries (its length is a u16, with a 4-byte header).
MAX_PROGRAM = 0xffff - 4


class NotCompilable(NetauditError):
    """The tree holds a condition the kernel cannot judge (dev, unix/link/netlink/vsock hosts)."""


def _op(code: int, yes: int, no: int) -> bytes:
    return OP.pack(code, yes, no)


def _settle(code: bytearray, rejects: list[int], length: int) -> None:
    """Write the reject jumps of the ops at `rejects`: 4 bytes past `length`, the end of the program they end."""
    for offset in rejects:
        struct.pack_into('=H', code, offset + 2, length - offset + 4)


def _host(term: HostCond) -> tuple[bytearray, list[int]]:
    """(program, offset of its reject op): one op per address alternative, joined by JMPs (an OR)."""
    code = BC_S_COND if term.side == 'src' else BC_D_COND
    alen = 16 if any(family == AF_INET6 for family, _bits, _addr in term.alternatives) else 4
    size = OP.size + HOSTCOND.size + alen
    if len(term.alternatives) * (size + 4) > MAX_PROGRAM:
        raise NotCompilable(term)
    pieces = []
    for family, bits, data in term.alternatives:
        raw = data.to_bytes(16, 'big')
        pieces.append(_op(code, size, size + 4) + HOSTCOND.pack(family, bits, term.port) + raw[:alen])
    # Alternatives are an OR: a JMP after each but the last skips to the end when one matched; a failed
    # alternative lands on the next one (size + 4), the last one's failure is the reject.
    program = pieces[-1]
    for piece in reversed(pieces[:-1]):
        program = piece + _op(BC_JMP, 4, len(program) + 4) + program
    return bytearray(program), [len(program) - size]


def _compile(node: Node) -> tuple[bytearray, list[int]]:
    """(program, offsets of the ops whose `no` is its reject jump, not written yet).

    A reject lands 4 bytes past the end of the program, which is known only once the `or` or the `not` that ends
    it is compiled (an `and` appends to the same program): writing each jump then, once, keeps the compiler linear
    in the length of the filter."""
    if isinstance(node, Junction):
        # A left-deep run of and/or, compiled left to right without recursing down the run.
        first, steps = node.chain()
        program, rejects = _compile(first)
        for op, right in steps:
            second, later = _compile(right)
            if len(program) + 4 + len(second) > MAX_PROGRAM:
                raise NotCompilable(first)      # too long for the kernel: it runs in userspace
            if op == 'or':
                # a1 failing lands on a2; a1 passing reaches the JMP, which skips a2
                _settle(program, rejects, len(program))
                rejects = []
                program += _op(BC_JMP, 4, len(second) + 4)
            rejects.extend(len(program) + offset for offset in later)
            program += second
        return program, rejects
    if isinstance(node, Not):
        # a1 passing reaches the JMP, which rejects; a1 failing lands exactly at the end, which accepts
        program, rejects = _compile(node.inner)
        _settle(program, rejects, len(program))
        reject = len(program)
        program += _op(BC_JMP, 4, 8)
        return program, [reject]
    if isinstance(node, HostCond):
        if not node.in_kernel:
            raise NotCompilable(node)
        return _host(node)
    if isinstance(node, PortCmp):
        code = {('src', 'ge'): BC_S_GE, ('src', 'le'): BC_S_LE,
                ('dst', 'ge'): BC_D_GE, ('dst', 'le'): BC_D_LE}[(node.side, node.op)]
        return bytearray(_op(code, 8, 12) + _op(0, 0, node.port & 0xffff)), [0]
    if isinstance(node, AutoBound):
        return bytearray(_op(BC_AUTO, 4, 8)), [0]
    if isinstance(node, MarkCond):
        return bytearray(_op(BC_MARK_COND, 12, 16) + struct.pack('=II', node.mark, node.mask)), [0]
    if isinstance(node, CgroupCond):
        return bytearray(_op(BC_CGROUP_COND, 12, 16) + struct.pack('=Q', node.cgroup_id & 0xffffffffffffffff)), [0]
    raise NotCompilable(node)


def compile_tree(node: Node) -> bytes:
    """Bytes of the program for one tree node; raises NotCompilable (also for a program too long to send)."""
    program, rejects = _compile(node)
    _settle(program, rejects, len(program))
    return bytes(program)


def compile_program(tree: Node | None) -> bytes | None:
    """The program for a whole tree: b'' for no tree, None when the kernel cannot run it."""
    if tree is None:
        return b''
    try:
        program = compile_tree(tree)
    except NotCompilable:
        return None
    if len(program) > MAX_PROGRAM:
        return None
    return program
