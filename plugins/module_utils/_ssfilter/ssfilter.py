# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: SSFilter, a parsed ss filter that judges socket records as a live ss would, and
parse(), which makes one from the text."""

from __future__ import annotations

import functools
import os
import socket
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar, cast

from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.module_utils._records import PORT_RANGE_FILE, read_ephemeral_range
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.bytecode import compile_program
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.conditions import (
    Condition, DevCond, Junction, Node, Not, PortRange, RecordProblem,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError, fail_at, shown
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.parser import filter_text, parse_text
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.record_view import View
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.states import (
    StateOp, record_state_bit, state_mask,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.values import Resolver, ll_name_to_index

RecordT = TypeVar('RecordT', bound=Mapping[str, Any])
# One judgement of a whole tree: (view, ephemeral port range or None) -> bool.
Judge = Callable[[View, Optional[PortRange]], bool]

SS_DEFAULT_EPHEMERAL = (1024, 4999)     # what ss assumes when it cannot read ip_local_port_range


def expand_tables(tables: str | Iterable[object] | None) -> tuple[str, ...]:
    """The tables (in ss's order) behind table names and aliases, as _table_names.resolve reads them; None means
    tcp and udp, a string one name. Raises FilterError naming an unknown or unread table."""
    try:
        return tuple(_table_names.resolve(('tcp', 'udp') if tables is None else tables)[0])
    except _table_names.TableError as exc:
        raise FilterError(str(exc)) from exc


def evaluator(tree: Node, which: str) -> Judge:
    """The judgement of a whole tree, from each condition's userspace ('user') or kernel ('kernel') judgement."""
    if isinstance(tree, Not):
        inner = evaluator(tree.inner, which)
        return lambda view, ephemeral: not inner(view, ephemeral)
    if isinstance(tree, Condition):
        return cast(Judge, getattr(tree, which))
    if not isinstance(tree, Junction):
        raise TypeError('not a node of a filter tree: %r' % (tree,))
    head, chain = tree.chain()
    first = evaluator(head, which)
    steps = [(op == 'or', evaluator(right, which)) for op, right in chain]

    def run(view: View, ephemeral: PortRange | None) -> bool:
        # ss's C logic short-circuits, left to right with equal precedence.
        value = first(view, ephemeral)
        for is_or, right in steps:
            if value != is_or:
                value = right(view, ephemeral)
        return value
    return run


class SSFilter(object):
    """A parsed filter: its state clauses, the families it forces, and its expression."""

    def __init__(self, text: str, tree: Node | None = None, state_ops: Iterable[StateOp] = (),
                 families: frozenset[str] | None = None, tables: Sequence[str] = ('tcp', 'udp'),
                 ephemeral_range: Sequence[int] | None = None) -> None:
        self.text = text
        self.tree = tree
        self.state_ops = tuple(state_ops)
        self.has_state_clause = bool(self.state_ops)
        self.families = families
        self.tables = tables
        self._ephemeral = cast(PortRange, tuple(ephemeral_range)) if ephemeral_range else None
        self._state_bits = self.state_mask() if self.state_ops else None
        self._program = compile_program(tree)
        self._user = evaluator(tree, 'user') if tree is not None else None
        self._kernel = evaluator(tree, 'kernel') if tree is not None and self._program else None
        # The conditions are judged with the ephemeral port range when one of them reads it (autobound).
        self._reads_range = any(term.needs_ephemeral_range for term in self.terms())

    def __repr__(self) -> str:
        return 'SSFilter(%r)' % (self.text,)

    def terms(self) -> list[Condition]:
        """Every condition of the expression (HostCond, PortCmp, MarkCond ...), left to right."""
        return self.tree.leaves() if self.tree is not None else []

    def set_ephemeral_range(self, found: Sequence[int] | None) -> None:
        """Judge `autobound` with this [low, high] from here on (None: ss's default, as when ss cannot read it)."""
        self._ephemeral = cast(PortRange, tuple(found)) if found else SS_DEFAULT_EPHEMERAL

    def bind_devices(self, where: str | None = None) -> SSFilter:
        """Read the filter's device words (`dev NAME|INDEX`, the device of `link:` specs) in the current network
        namespace, as ss run there reads them, and judge records by those indexes from here on. The module calls
        this in each namespace it reads; ss_filter on the controller never does, and keeps matching names.

        where: the namespace's label for the message (None: the host's own). Raises FilterError, naming the word
        and its position, for a device ss refuses there: a typo must not read as "no sockets"."""
        place, there = ('on this host', '') if where is None else ('in network namespace %s' % where, ' run there')
        for term in self.terms():
            if isinstance(term, DevCond) and term.value is not None:
                if not term.bind():
                    fail_at(term.value_word, 'no device "%s" %s' % (shown(term.value), place), term.value,
                            'ss%s refuses it too, with "Cannot parse device."; a number is read as a device index'
                            % there)
                continue
            device = term.device
            if device is None:
                continue
            index = ll_name_to_index(device)
            if not index:
                fail_at(term.device_word, 'no device "%s" %s' % (shown(device), place), term.text.split(' ')[-1],
                        'ss%s refuses it too, with "Cannot parse dst/src address."' % there)
            if term.bind_device(index):
                self._program = compile_program(self.tree)
        return self

    def ephemeral_range(self) -> PortRange:
        """The ephemeral port range `autobound` judges inet sockets by: the one given, else read once (it is per
        network namespace)."""
        if self._ephemeral is None:
            # As ss reads it: PROC_IP_LOCAL_PORT_RANGE, else the file under PROC_ROOT (or /proc); else ss's default.
            path = os.environ.get('PROC_IP_LOCAL_PORT_RANGE') or os.path.join(
                os.environ.get('PROC_ROOT', '/proc'), PORT_RANGE_FILE)
            found = read_ephemeral_range(path=path)
            self._ephemeral = cast(PortRange, tuple(found)) if found else SS_DEFAULT_EPHEMERAL
        return self._ephemeral

    def state_mask(self, listening: bool = False) -> int:
        """The state bits to dump: the clauses' (or the tables' defaults when they come to nothing), else
        LISTEN|UNCONN when listening, else every state."""
        return state_mask(self.state_ops, self.tables, listening)

    def bytecode(self, family: int | str) -> bytes | None:
        """The INET_DIAG_REQ_BYTECODE program for an AF_INET/AF_INET6 dump: b'' without an expression, None
        when the kernel cannot run it (dev, unix/link/netlink/vsock hosts). ss sends the same for both."""
        if family not in (socket.AF_INET, socket.AF_INET6, 'inet', 'inet6'):
            raise ValueError('bytecode is only for AF_INET and AF_INET6 dumps, not %r' % (family,))
        return self._program

    def _check(self, record: Mapping[str, Any], kernel: bool, ephemeral: PortRange | None) -> bool:
        if self._state_bits is not None and not self._state_bits & record_state_bit(record):
            return False
        if self.families is not None and record.get('family') not in self.families:
            return False
        if self._user is None:
            return True
        view = View(record)
        try:
            if not self._user(view, ephemeral):
                return False
            kernel_check = self._kernel
            if kernel and view.inet and kernel_check is not None:
                return kernel_check(view, ephemeral)
        except RecordProblem as exc:
            raise FilterError('filter: "%s" (word %d) needs %s, which the socket records do not carry'
                              % (exc.term.text, exc.term.word, exc.what))
        return True

    def match(self, record: Mapping[str, Any]) -> bool:
        """Whether a live ss would show this record: states, forced families, the kernel's program (inet
        sockets, when the expression compiles) and ss's userspace check. Socket facts carry what the
        kernel's checks need: `mark`, `cgroup_id` and `port_locked` (its SOCK_BINDPORT_LOCK, for autobound); the
        module's own records carry `_ifindex` too."""
        return self._check(record, True, self.ephemeral_range() if self._reads_range else None)

    def select(self, records: Iterable[RecordT], kernel_filtered: bool = False) -> list[RecordT]:
        """The records that match; kernel_filtered=True for records the kernel already ran bytecode() on."""
        # The kernel already ran the program on kernel-filtered records; the userspace checks (which
        # ss always runs too) add what it cannot do: the ephemeral range, ports past 65535, v4/v6 quirks.
        ephemeral = self.ephemeral_range() if self._reads_range else None
        return [record for record in records if self._check(record, not kernel_filtered, ephemeral)]


def parse(text: object, tables: str | Iterable[object] | None = ('tcp', 'udp'), resolver: Resolver | None = None,
          ephemeral_range: Sequence[int] | None = None) -> SSFilter:
    """Parse a filter as typed after ss's options ('state listening ( sport = :ssh or sport = :https )').

    tables: the selected tables (ss names or aliases), for service-name lookups (tcp/udp) and for the states ss
    falls back to when the state clauses come to nothing. resolver(name, family) -> addresses replaces the
    getaddrinfo lookup of host names (family 'inet', 'inet6' or None). ephemeral_range=(low, high) replaces
    ip_local_port_range for `autobound` (read lazily otherwise; it is per network namespace).
    None, '' or only state clauses mean no expression. Raises FilterError."""
    text = filter_text(text)
    expanded = expand_tables(tables)
    state_ops, tree, families = parse_text(text, expanded, resolver)
    return SSFilter(text, tree, state_ops, families, expanded, ephemeral_range)


@functools.lru_cache(maxsize=128)
def _cached(expression: str, tables: tuple[str, ...]) -> SSFilter:
    return parse(expression, tables)


def filter_records(records: Iterable[RecordT], expression: str | None,
                   tables: Iterable[str] | None = None) -> list[RecordT]:
    """The records that match an ss filter (with optional leading state clauses)."""
    chosen = tuple(tables) if tables else ('tcp', 'udp')
    return _cached(expression or '', chosen).select(records)
