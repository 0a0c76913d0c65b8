# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the grammar of ss filters: words to the state clauses and the condition tree."""

# ss's grammar (ssfilter.y in iproute2): `state`/`exclude` clauses first, then an expression of conditions joined by
# and/or (equal precedence, left to right; two conditions side by side are an `and`), `not`, and parentheses.

from __future__ import annotations

import socket
from typing import FrozenSet, List, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import conditions, lexer, values
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import (
    FilterError, fail_at, hints, shown,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.states import STATE_WORDS, StateOp

# Longer than any program the kernel takes (64 KiB); in Python such a filter costs seconds per record.
MAX_FILTER_LENGTH = 65536
# Deeper than this, a filter is refused rather than parsed by deep recursion.
MAX_NESTING = 200

# What parse_text() reads: the state clauses, the tree (None without an expression), and the families a family
# prefix forces (None when no prefix).
Parsed = Tuple[Tuple[StateOp, ...], Optional[conditions.Node], Optional[FrozenSet[str]]]


def filter_text(text: object) -> str:
    """A filter as typed after ss's options: a string, or a list of words joined by blanks (None is no filter).
    Raises FilterError for anything else, and for a filter too long to be a filter."""
    if text is None:
        text = ''
    if isinstance(text, (list, tuple)):
        text = ' '.join(text)
    if not isinstance(text, str):
        raise FilterError('filter: expected a string, got %s' % type(text).__name__)
    if len(text) > MAX_FILTER_LENGTH:
        words = lexer.split_words(text[:MAX_FILTER_LENGTH]) or ['']
        raise FilterError('filter: longer than %d characters (%d) at word %d: "%s"'
                          % (MAX_FILTER_LENGTH, len(text), len(words), shown(words[-1])))
    return text


def parse_text(text: str, tables: tuple[str, ...], resolver: values.Resolver | None = None) -> Parsed:
    """Read a filter's text for the tables given (ss names, resolved), host names resolved by resolver (default:
    values.default_resolver, getaddrinfo). Raises FilterError naming the word at fault."""
    parser = _Parser(text, tables, resolver)
    tree = parser.parse()
    return tuple(parser.state_ops), tree, parser.families


class _Parser(object):
    def __init__(self, text: str, tables: tuple[str, ...], resolver: values.Resolver | None) -> None:
        self.cursor = lexer.Cursor(lexer.split_words(text))
        self.tables = tables
        self.resolver = resolver or values.default_resolver
        self.depth = 0
        self.nesting = 0
        self.families: frozenset[str] | None = None
        # ss's preferred_family: a family prefix sets it, and ss then reads every later host and port word of the
        # filter in that family (unix: globs, link:/netlink:/vsock: specs, inet:/inet6: addresses).
        self.preferred: str | None = None
        self.preferred_word = 0
        self.state_ops: List[StateOp] = []

    def parse(self) -> conditions.Node | None:
        cur = self.cursor
        while cur.peek() in lexer.STATE_KEYWORDS:
            keyword = cur.take()
            name = cur.peek()
            if name is None:
                cur.fail('expected a state name after "%s"' % keyword)
            bits = STATE_WORDS.get(name.lower())
            if bits is None:
                hint = 'ss spells it "listening"' if name.lower() == 'listen' else (
                    'known: %s' % ', '.join(sorted(STATE_WORDS)))
                cur.fail('unknown state name after "%s"' % keyword, hint=hint)
            cur.take()
            self.state_ops.append(('state' if keyword == 'state' else 'exclude', bits))
        if cur.peek() is None:
            return None
        tree = self.exprlist()
        if cur.peek() is not None:
            cur.fail('unmatched ")"')
        return tree

    def exprlist(self) -> conditions.Node:
        cur = self.cursor
        left = self.expr(None)
        while True:
            piece = cur.peek()
            if piece is None or piece.startswith(')'):
                return left
            if piece in lexer.AND or piece in lexer.OR:
                cur.take()
                right = self.expr(piece)
                left = conditions.And(left, right) if piece in lexer.AND else conditions.Or(left, right)
            else:
                left = conditions.And(left, self.expr(None))

    def expr(self, after: str | None) -> conditions.Node:
        cur = self.cursor
        piece = cur.peek()
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            cur.fail('the expression is nested too deeply')
        try:
            return self._expr(after, piece)
        finally:
            self.nesting -= 1

    def _expr(self, after: str | None, piece: str | None) -> conditions.Node:
        cur = self.cursor
        if piece is None:
            cur.fail('expected a condition after "%s"' % after if after else 'expected a condition')
        if piece in lexer.NOT or (piece.startswith('!') and not piece.startswith('!=')):
            word = cur.take(None if piece in lexer.NOT else 1)
            return conditions.Not(self.expr(word))
        if piece.startswith('('):
            opened = cur.word
            cur.take(1)
            self.depth += 1
            following = cur.peek()
            if following is not None and following.startswith(')'):
                cur.fail('expected a condition inside "( )"')
            inner = self.exprlist()
            if cur.peek() is None:
                cur.fail('missing ")" for the "(" at word %d' % opened)
            cur.take(1)
            self.depth -= 1
            return inner
        return self.term(piece)

    def term(self, piece: str) -> conditions.Node:
        cur = self.cursor
        glued = lexer.GLUED_TERM.match(piece)
        if piece not in lexer.TERMS and not glued:
            if piece in lexer.STATE_KEYWORDS:
                cur.fail('"%s" clauses must come before the expression' % piece)
            hint = None
            if piece.lower() in lexer.TERMS or piece.lower() in lexer.RESERVED:
                hint = 'keywords are lower case'
            cur.fail('expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound, '
                     '"(" or "not")', hint=hint)
        word = cur.word
        keyword = cur.take(None if piece in lexer.TERMS or glued is None else len(glued.group(1)))
        if keyword == 'autobound':
            return conditions.AutoBound(word=word)
        op, op_text = self.operator(keyword)
        context = keyword + (' ' + op_text if op_text else '')
        value_word = cur.word
        value = self.value(context)
        if keyword in ('src', 'dst'):
            return self.host(keyword, value, False, context, value_word)
        if keyword in ('sport', 'dport'):
            side = 'src' if keyword == 'sport' else 'dst'
            cond = self.host(side, value, True, context, value_word)
            if op in ('eq', 'ne'):
                return cond if op == 'eq' else conditions.Not(cond)
            port = self.compared_port(cond, context, value, value_word)
            cmp_op = {'ge': 'ge', 'le': 'le', 'gt': 'le', 'lt': 'ge'}[op]
            term = conditions.PortCmp(side, cmp_op, port, text='%s %s' % (context, value), word=word,
                                      device=cond.device, device_word=value_word)
            return conditions.Not(term) if op in ('gt', 'lt') else term
        return self.toggle(keyword, op, context, value, word, value_word)

    def toggle(self, keyword: str, op: str, context: str, value: str, word: int, value_word: int) -> conditions.Node:
        """dev, fwmark or cgroup: the condition, or its negation for `!=`."""
        text = '%s %s' % (context, value)
        term: conditions.Condition
        try:
            if keyword == 'dev':
                index, name = values.parse_dev(value)
                term = conditions.DevCond(index, name, text=text, word=word, value=value, value_word=value_word)
            elif keyword == 'fwmark':
                mark, mask = values.parse_mark(value)
                term = conditions.MarkCond(mark, mask, text=text, word=word)
            else:
                term = conditions.CgroupCond(values.parse_cgroup(value), value, text=text, word=word)
        except values.ValueProblem as exc:
            fail_at(value_word, 'expected %s after "%s"' % (
                {'dev': 'a device', 'fwmark': 'a mark[/mask]', 'cgroup': 'a cgroup path'}[keyword], context),
                value, str(exc) if keyword == 'cgroup' else None)
        return conditions.Not(term) if op == 'ne' else term

    def operator(self, keyword: str) -> tuple[str, str]:
        cur = self.cursor
        piece = cur.peek()
        word = cur.word
        op, text = 'eq', ''
        if piece is not None and piece in lexer.OPS:
            text = cur.take()
            op = lexer.OPS[text]
        elif piece is not None:
            for symbol in lexer.OP_SYMBOLS:
                if piece.startswith(symbol) and len(piece) > len(symbol):
                    text = cur.take(len(symbol))
                    op = lexer.OPS[text]
                    break
        allowed = {'src': ('eq',), 'dst': ('eq',), 'dev': ('eq', 'ne'), 'fwmark': ('eq', 'ne'),
                   'cgroup': ('eq', 'ne')}.get(keyword, tuple(set(lexer.OPS.values())))
        if op not in allowed:
            hint = 'use "not %s ..."' % keyword if keyword in ('src', 'dst') and op == 'ne' else (
                '"%s" takes %s' % (keyword, ' or '.join('"%s"' % o for o in ('=', '!=')[:len(allowed)])))
            fail_at(word, 'operator not allowed after "%s"' % keyword, text, hint)
        return op, text

    def value(self, context: str) -> str:
        cur = self.cursor
        piece = cur.peek()
        what = 'a port' if context.split()[0] in ('sport', 'dport') else {
            'src': 'an address', 'dst': 'an address', 'dev': 'a device', 'fwmark': 'a mark[/mask]',
            'cgroup': 'a cgroup path'}[context.split()[0]]
        if piece is None or piece in lexer.RESERVED or piece.startswith(')'):
            cur.fail('expected %s after "%s"' % (what, context))
        # Closing parentheses glued to a value belong to the expression when the value has no use for them.
        closers = len(piece) - len(piece.rstrip(')'))
        excess = piece.count(')') - piece.count('(')
        strip = min(closers, self.depth, max(0, excess))
        return cur.take(len(piece) - strip)

    def compared_port(self, cond: conditions.HostCond, context: str, text: str, word: int) -> int:
        """The port `sport/dport >= <= > <` compares with: ss's a->port, which stays -1 (any) for a unix glob."""
        if cond.family == 'unix':
            return -1
        if cond.family not in ('link', 'netlink', 'vsock'):
            return cond.port
        port = cond.other_port
        if isinstance(port, str):
            # A device name: ss compares with its index on this host.
            try:
                return socket.if_nametoindex(port)
            except (OSError, ValueError, UnicodeError):
                fail_at(word, 'expected a port after "%s"' % context, text,
                        'no device "%s" here, and ss compares with its index' % port)
        return port

    def host(self, side: str, text: str, is_port: bool, context: str, word: int) -> conditions.HostCond:
        """A host or port spec, with its family prefix (or the one an earlier prefix left, as in ss); the family
        also restricts the families shown."""
        family, rest, inherited = self.preferred, text, self.preferred is not None
        for name in values.PREFIX_FAMILIES:
            if text.startswith(name + ':'):
                family, rest, inherited = name, text[len(name) + 1:], False
                break
        what = 'a port' if is_port else 'an address'
        context_hint = None
        if inherited:
            context_hint = 'the %s: prefix at word %d applies to the later host and port words too, as in ss' % (
                family, self.preferred_word)
        if family is not None:
            self.families = frozenset([family])
            if not inherited:
                self.preferred, self.preferred_word = family, word
        if family == 'unix':
            return conditions.HostCond(side, family, -1, pattern=rest, text='%s %s' % (context, text), word=word)
        if family in ('link', 'netlink', 'vsock'):
            try:
                other = values.other_spec(family, rest, is_port)
            except values.ValueProblem as exc:
                fail_at(word, 'expected %s after "%s"' % (what, context), text, hints(str(exc), context_hint))
            return conditions.HostCond(side, family, -1, other=other, text='%s %s' % (context, text), word=word)
        try:
            addr, port_text = values.split_inet_spec(rest, is_port)
        except values.ValueProblem as exc:
            fail_at(word, 'expected %s after "%s"' % (what, context), text, str(exc))
        try:
            port = values.parse_port(port_text, self.tables)
        except values.ValueProblem as exc:
            message = str(exc) if exc.args[0] else 'expected a port after "%s"' % context
            hint = None
            if not is_port and colon_split_ipv6(rest):
                hint = 'write IPv6 addresses in brackets: "[%s]"' % rest
            fail_at(word, message, text, hints(hint, context_hint))
        if addr in ('', '*'):
            alternatives = [(0, 0, 0)]
        else:
            alt = values.inet_prefix(addr, family)
            alternatives = [alt] if alt else values.resolve_alternatives(addr, family, self.resolver)
            if not alternatives:
                hint = None
                if colon_split_ipv6(rest):
                    hint = 'write IPv6 addresses in brackets: "[%s]"' % rest
                elif family:
                    hint = 'not an %s address or a host name that resolves to one' % family
                fail_at(word, 'expected %s after "%s"' % (what, context), text, hints(hint, context_hint))
        return conditions.HostCond(side, family, port, alternatives, text='%s %s' % (context, text), word=word)


def colon_split_ipv6(text: str) -> bool:
    """Whether a host word looks like an IPv6 address written without brackets (its colons then split it)."""
    return '[' not in text and text.count(':') >= 2
