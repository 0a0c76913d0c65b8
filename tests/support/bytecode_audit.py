# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: the kernel's own checks of an INET_DIAG_REQ_BYTECODE program (inet_diag_bc_audit), so the tests
can tell the kernel would accept what module_utils/_ssfilter/bytecode.py compiles."""

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.bytecode import (
    BC_AUTO, BC_CGROUP_COND, BC_D_COND, BC_D_EQ, BC_D_GE, BC_D_LE, BC_DEV_COND, BC_JMP, BC_MARK_COND, BC_NOP,
    BC_S_COND, BC_S_EQ, BC_S_GE, BC_S_LE, HOSTCOND, OP,
)


def audit(program):
    """The kernel's own checks of a program (inet_diag_bc_audit): True when it would be accepted."""
    length = len(program)
    if length < OP.size:
        return False
    offset, left, starts, targets = 0, length, set(), set()
    while left > 0:
        if left < OP.size:
            return False
        starts.add(offset)
        code, yes, no = OP.unpack_from(program, offset)
        minimum = OP.size
        if code in (BC_S_COND, BC_D_COND):
            if left < OP.size + HOSTCOND.size:
                return False
            family, bits, _port = HOSTCOND.unpack_from(program, offset + OP.size)
            alen = {0: 0, 2: 4, 10: 16}.get(family)
            if alen is None or bits > 8 * alen:
                return False
            minimum += HOSTCOND.size + alen
        elif code in (BC_S_GE, BC_S_LE, BC_D_GE, BC_D_LE, BC_S_EQ, BC_D_EQ, BC_DEV_COND):
            minimum += 4
        elif code in (BC_MARK_COND, BC_CGROUP_COND):
            minimum += 8
        elif code not in (BC_AUTO, BC_JMP, BC_NOP):
            return False
        if left < minimum:
            return False
        if code != BC_NOP:
            if no < minimum or no > left + 4 or no & 3:
                return False
            if no < left:
                targets.add(offset + no)
        if yes < minimum or yes > left + 4 or yes & 3:
            return False
        offset += yes
        left -= yes
    return left == 0 and targets <= starts
