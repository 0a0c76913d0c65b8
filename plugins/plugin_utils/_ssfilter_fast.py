# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: ss_filter, an ss filter compiled to one list comprehension over socket records."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Dict, Iterable

from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.module_utils._records import STATE_NUMBERS, Record
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.conditions import (
    Condition, HostCond, Junction, Node, Not, PortCmp, RecordProblem,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError, shown
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.record_view import View
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.ssfilter import SSFilter, parse
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import (
    PolicyError, check_records, is_int, parse_port_range, socket_records, strip_filter_prefix, type_name,
)

# A memo holds at most _MEMO_LIMIT verdicts during one select(), and keeps at most _MEMO_KEEP between calls.
_MEMO_LIMIT = 1 << 20
_MEMO_KEEP = 1 << 16


class _Memo(Dict[Any, bool]):
    """Verdicts of one filter term per field value (an address, a port), each judged once by the term itself."""
    __slots__ = ('judge',)

    def __init__(self, judge: Callable[[Any], object]) -> None:
        super(_Memo, self).__init__()
        self.judge = judge

    def __missing__(self, key: Any) -> bool:
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        value = self[key] = bool(self.judge(key))
        return value


class FastFilter(object):
    """An SSFilter compiled to Python source: one list comprehension over the records.

    For IPv4 and IPv6 records, states and ports are compared inline (the two comparisons ss makes, in its userspace
    check and in the kernel's program, written out once when they read the same). Addresses are judged by the terms
    themselves (their user() and kernel() methods, on a stand-in record), once per distinct address, and memoised;
    an expression that reads only one address is judged whole that way. Terms that need more of the record (dev,
    fwmark, cgroup, autobound, unix/link hosts) are called per record, and records of other families go to
    SSFilter.match() as they are. The result equals SSFilter.select(records), a live ss's answer: the unit tests
    check it for every filter of the differential suite and for random expressions."""

    def __init__(self, flt: SSFilter, netids: Iterable[str] | None = None) -> None:
        self.flt = flt
        self.netids = frozenset(netids) if netids is not None else None
        self.namespace: dict[str, Any] = {'_slow': flt.match}
        self.memos: list[_Memo] = []
        self.source: str | None = None
        self._run: Callable[[Iterable[Record]], list[Record]]
        try:
            self.source = self._generate()
            code = compile(self.source, '<ss_filter %s>' % flt.text[:60], 'exec')
            exec(code, self.namespace)  # pylint: disable=exec-used  # our own generated source
            self._run = self.namespace['_select']
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            # Too deeply nested for the compiler: the tree walk gives the same answer, more slowly.
            self._run = self._walk

    def _walk(self, records: Iterable[Record]) -> list[Record]:
        netids, match = self.netids, self.flt.match
        return [r for r in records if (netids is None or r['netid'] in netids) and match(r)]

    def _name(self, prefix: str, value: object) -> str:
        name = '_%s%d' % (prefix, len(self.namespace))
        self.namespace[name] = value
        if isinstance(value, _Memo):
            self.memos.append(value)
        return name

    def _generate(self) -> str:
        flt = self.flt
        inet = self._family_expr('inet')
        inet6 = self._family_expr('inet6')
        test = "(%s if r['family'] == 'inet' else %s if r['family'] == 'inet6' else _slow(r))" % (inet, inet6)
        if self.netids is not None:
            test = "r['netid'] in %s and %s" % (self._name('n', self.netids), test)
        if flt.tree is None and not flt.has_state_clause and flt.families is None and self.netids is None:
            test = 'True'
        return 'def _select(records):\n    return [r for r in records if %s]\n' % test

    def _family_expr(self, family: str) -> str:
        flt = self.flt
        if flt.families is not None and family not in flt.families:
            return 'False'
        parts = []
        if flt.has_state_clause:
            mask = flt.state_mask()
            names = frozenset(name for name, number in STATE_NUMBERS.items() if mask & (1 << number))
            test = "r['state'] in %s" % self._name('s', names)
            if 'UNKNOWN' in names:
                # A state name the records should not have counts as UNKNOWN, as SSFilter reads it.
                test = "(%s or r['state'] not in %s)" % (test, self._name('k', frozenset(STATE_NUMBERS)))
            parts.append(test)
        if flt.tree is not None:
            kernel = bool(flt.bytecode('inet'))
            terms = flt.terms()
            fields = self._fields(terms)
            if fields is not None and len(fields) <= 1 and not fields & set(('local_port', 'peer_port')):
                # The whole expression reads one address (or nothing) of these records: judge it once per value.
                # (Ports are compared inline: a memo lookup costs more than a comparison.)
                whole = SSFilter(flt.text, flt.tree, tables=flt.tables)
                if not fields:
                    parts.append('True' if whole.match({'family': family}) else 'False')
                else:
                    field = fields.pop()
                    memo = _Memo(lambda value: whole.match({'family': family, field: value}))
                    parts.append('%s[r[%r]]' % (self._name('m', memo), field))
            elif len(terms) == 1 and isinstance(flt.tree, HostCond):
                # One host term: its user and kernel judgements share one memo.
                parts.append(self._term(flt.tree, family, ('user', 'kernel') if kernel else ('user',)))
            else:
                user = self._tree(flt.tree, family, 'user')
                parts.append(user)
                if kernel:
                    other = self._tree(flt.tree, family, 'kernel')
                    if other != user:
                        parts.append(other)
        return '(%s)' % ' and '.join(parts) if parts else 'True'

    @staticmethod
    def _fields(terms: list[Condition]) -> set[str] | None:
        """The fields of an IPv4/IPv6 record that the terms read, or None when one of them reads more."""
        fields = set()
        for term in terms:
            if isinstance(term, HostCond) and term.is_inet:
                if term.port != -1:
                    fields.add(term.port_key)
                if not term.passes_any_address('kernel'):
                    fields.add(term.address_key)
            elif isinstance(term, PortCmp):
                fields.add(term.port_key)
            else:
                return None
        return fields

    def _tree(self, node: Node, family: str, mode: str) -> str:
        if isinstance(node, Not):
            return '(not %s)' % self._tree(node.inner, family, mode)
        if isinstance(node, Junction):
            first, steps = node.chain()
            text = self._tree(first, family, mode)
            for op, right in steps:
                text = '(%s %s %s)' % (text, op, self._tree(right, family, mode))
            return text
        if not isinstance(node, Condition):
            raise TypeError('not a node of a filter tree: %r' % (node,))
        return self._term(node, family, (mode,))

    def _term(self, term: Condition, family: str, modes: tuple[str, ...]) -> str:
        flt = self.flt

        judgements = [getattr(term, mode) for mode in modes]
        reads_range = term.needs_ephemeral_range

        def judged(record: Record) -> bool:
            view = View(record)
            ephemeral = flt.ephemeral_range() if reads_range else None
            for judgement in judgements:
                if not judgement(view, ephemeral):
                    return False
            return True

        if isinstance(term, HostCond) and term.is_inet:
            addr_key, port_key = term.address_key, term.port_key
            parts = []
            if term.port != -1:
                parts.append("r[%r] == %d" % (port_key, term.port) if term.port else "not r[%r]" % port_key)
            if not all(term.passes_any_address(mode) for mode in modes):
                stand_in_port = term.port if term.port != -1 else 0

                def judge(text: object) -> bool:
                    # The port test of the term passes on the stand-in, so this is the address test alone.
                    return judged({'family': family, addr_key: text, 'local_port': stand_in_port,
                                   'peer_port': stand_in_port})
                parts.append('%s[r[%r]]' % (self._name('m', _Memo(judge)), addr_key))
            return '(%s)' % ' and '.join(parts) if parts else 'True'
        if isinstance(term, PortCmp) and len(modes) == 1:
            # PortCmp.user() compares the record's port (0 when missing) with the term's; kernel() with its low 16 bits.
            return "(r[%r] or 0) %s %d" % (term.port_key, '>=' if term.op == 'ge' else '<=', term.limit(modes[0]))
        return '%s(r)' % self._name('t', judged)

    def select(self, records: Iterable[Record]) -> list[Record]:
        try:
            return self._run(records)
        except RecordProblem:
            # The tree walk raises the FilterError that names the term and what the records lack.
            return self._walk(records)
        finally:
            for memo in self.memos:
                if len(memo) > _MEMO_KEEP:
                    memo.clear()


@functools.lru_cache(maxsize=256)
def compile_filter(expression: str, tables: tuple[str, ...] | None = None,
                   ephemeral_range: tuple[int, int] | None = None) -> FastFilter:
    """A FastFilter for an ss filter; tables (a tuple of ss table names or aliases) also select records by netid;
    ephemeral_range (low, high) for `autobound`, else this machine's. Raises FilterError."""
    flt = parse(expression, tables=tables if tables else ('tcp', 'udp'), ephemeral_range=ephemeral_range)
    return FastFilter(flt, _table_names.netids(flt.tables) if tables else None)


def ss_filter(sockets: object, expression: object, tables: object = None,
              ephemeral_range: object = None) -> list[Record]:
    """The records that a live ss would show for this filter (state clauses included), in their order.

    ephemeral_range: the host's ip_local_port_range for `autobound` (two ports, or 'LOW-HIGH'); by default the
    facts' socket_meta.ephemeral_range when the facts themselves are given, else this machine's."""
    records, meta = socket_records(sockets)
    if ephemeral_range is None and isinstance(meta, Mapping):
        ephemeral_range = meta.get('ephemeral_range')
    port_range = _port_pair(ephemeral_range) if ephemeral_range is not None else None
    if expression is None:
        expression = ''
    if not isinstance(expression, str):
        raise PolicyError('expression: expected a string, got %s' % type_name(expression))
    if tables is not None:
        if isinstance(tables, str):
            tables = [tables]
        if not isinstance(tables, Sequence) or not all(isinstance(t, str) for t in tables) or not tables:
            raise PolicyError('tables: expected a list of table names (tcp, udp, unix ...), got %s' % type_name(tables))
        try:
            tables = tuple(_table_names.resolve(tables)[0])
        except _table_names.TableError as exc:
            raise PolicyError(str(exc)) from exc
    try:
        fast = compile_filter(expression, tables, port_range)
    except FilterError as exc:
        raise PolicyError('expression "%s": %s' % (shown(expression), strip_filter_prefix(str(exc))))
    try:
        return fast.select(records)
    except FilterError as exc:
        raise PolicyError('expression "%s": %s' % (shown(expression), strip_filter_prefix(str(exc))))
    except (KeyError, TypeError, AttributeError, ValueError):
        keys = ['family', 'netid'] + (['state'] if fast.flt.has_state_clause else [])
        keys += ['local_address', 'local_port', 'peer_address', 'peer_port'] if fast.flt.tree is not None else []
        check_records(records, keys)
        raise


def _port_pair(value: object) -> tuple[int, int]:
    """(low, high) from [low, high] or 'LOW-HIGH'; PolicyError naming ephemeral_range otherwise."""
    if isinstance(value, str):
        low, high = parse_port_range(value, 'ephemeral_range')
    elif isinstance(value, Sequence) and len(value) == 2 and all(is_int(port) for port in value):
        low, high = int(value[0]), int(value[1])
    else:
        raise PolicyError('ephemeral_range: expected two ports [LOW, HIGH] or "LOW-HIGH", got %s' % type_name(value))
    if not 1 <= low <= high <= 65535:
        raise PolicyError('ephemeral_range: expected 1 <= LOW <= HIGH <= 65535, got %d-%d' % (low, high))
    return low, high
