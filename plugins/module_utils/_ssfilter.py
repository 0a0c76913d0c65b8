# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the ss filter language (states, expression, evaluation, kernel bytecode)."""

from __future__ import annotations

import functools
import os
import re
import socket

from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import (
    ALL_STATES,
    PORT_RANGE_FILE,
    STATE_NUMBERS,
    read_ephemeral_range,
)
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter_bytecode import compile_program
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter_terms import (
    PREFIX_FAMILIES, AutoBound, CgroupCond, DevCond, ETHERTYPES, HostCond, MarkCond, NETLINK_PROTOCOLS,
    PortCmp, RecordProblem, ValueProblem, View, c_integer, c_integer_prefix, c_unsigned_prefix, default_resolver, inet_prefix,
    ll_name_to_index, parse_cgroup, parse_dev, parse_mark, parse_port, resolve_alternatives,
)


class FilterError(NetauditError, ValueError):
    """A filter that cannot be read or applied; the message names the token and its position."""


# Longer than any program the kernel takes (64 KiB); in Python such a filter costs seconds per record.
MAX_FILTER_LENGTH = 65536


def shown(token, limit=80):
    """A token (or a hint) as an error message quotes it: long ones cut short, so a message stays readable."""
    return token if len(token) <= limit else '%s... (%d characters)' % (token[:limit - 20], len(token))


# --- states -------------------------------------------------------------------------------------------

def _bit(name):
    return 1 << STATE_NUMBERS[name]


_LISTEN, _UNCONN = _bit('LISTEN'), _bit('UNCONN')
_SYN_RECV, _TIME_WAIT, _SYN_SENT = _bit('SYN-RECV'), _bit('TIME-WAIT'), _bit('SYN-SENT')
_CONNECTED = ALL_STATES & ~(_UNCONN | _LISTEN)
SS_CONN = _table_names.SS_CONN      # ss's default states for a connection table

# Names accepted after `state`/`exclude`, compared case-insensitively (`listen` is not one of them).
STATE_WORDS = {
    'unknown': _bit('UNKNOWN'), 'established': _bit('ESTAB'), 'syn-sent': _SYN_SENT,
    'syn-recv': _SYN_RECV, 'syn-rcv': _SYN_RECV, 'fin-wait-1': _bit('FIN-WAIT-1'),
    'fin-wait-2': _bit('FIN-WAIT-2'), 'time-wait': _TIME_WAIT, 'unconnected': _UNCONN, 'close': _UNCONN,
    'closed': _UNCONN, 'close-wait': _bit('CLOSE-WAIT'), 'last-ack': _bit('LAST-ACK'),
    'listening': _LISTEN, 'closing': _bit('CLOSING'),
    'all': ALL_STATES, 'connected': _CONNECTED, 'synchronized': _CONNECTED & ~_SYN_SENT,
    'bucket': _SYN_RECV | _TIME_WAIT, 'big': ALL_STATES & ~(_SYN_RECV | _TIME_WAIT),
}


def expand_tables(tables):
    """The tables (in ss's order) behind table names and aliases, as _table_names.resolve reads them; None means
    tcp and udp, a string one name. Raises FilterError naming an unknown or unread table."""
    try:
        return tuple(_table_names.resolve(('tcp', 'udp') if tables is None else tables)[0])
    except _table_names.TableError as exc:
        raise FilterError(str(exc)) from exc


def _record_state_bit(record):
    number = STATE_NUMBERS.get(record.get('state') or 'UNKNOWN', 0)
    return 1 << number


# --- words and the cursor over them ---------------------------------------------------------------------

_NOT = ('!', 'not')
_AND = ('&', '&&', 'and')
_OR = ('|', '||', 'or')
_TERMS = ('src', 'dst', 'sport', 'dport', 'dev', 'fwmark', 'cgroup', 'autobound')
_OPS = {'=': 'eq', '==': 'eq', 'eq': 'eq', '!=': 'ne', 'ne': 'ne', 'neq': 'ne', '<': 'lt', 'lt': 'lt',
        '>': 'gt', 'gt': 'gt', '<=': 'le', 'le': 'le', 'leq': 'le', '>=': 'ge', 'ge': 'ge', 'geq': 'ge'}
_OP_SYMBOLS = ('==', '!=', '<=', '>=', '=', '<', '>')
_RESERVED = frozenset(_NOT + _AND + _OR + _TERMS + tuple(_OPS) + ('(', ')'))
_GLUED_TERM = re.compile(r'(%s)(?=[=!<>)])' % '|'.join(_TERMS))


def split_words(text):
    """Words as ss reads them: split on blanks, a backslash keeps the next character (blank or not)."""
    words, current, escaped, started = [], [], False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == '\\':
            escaped = started = True
        elif char.isspace():
            if started:
                words.append(''.join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    if started or escaped:
        words.append(''.join(current) + ('\\' if escaped else ''))
    return words


class _Cursor(object):
    """Walks the words; a word can be eaten in pieces when parentheses or operators are glued to it."""

    def __init__(self, words):
        self.words = words
        self.index = 0
        self.rest = words[0] if words else None

    @property
    def word(self):
        return self.index + 1

    def peek(self):
        return self.rest

    def take(self, count=None):
        piece = self.rest if count is None else self.rest[:count]
        self.rest = self.rest[len(piece):]
        if not self.rest:
            self.index += 1
            self.rest = self.words[self.index] if self.index < len(self.words) else None
        return piece


def _fail(cursor, message, token=None, hint=None):
    if cursor.peek() is None and token is None:
        text = 'filter: %s at the end of the filter' % message
    else:
        text = 'filter: %s at word %d: "%s"' % (message, cursor.word, shown(cursor.peek() if token is None else token))
    if hint:
        text += ' (%s)' % shown(hint, 400)
    raise FilterError(text)


# --- the parser ---------------------------------------------------------------------------------------

class _Parser(object):
    def __init__(self, text, tables, resolver):
        self.cursor = _Cursor(split_words(text))
        self.tables = tables
        self.resolver = resolver or default_resolver
        self.depth = 0
        self.nesting = 0
        self.families = None
        # ss's preferred_family: a family prefix sets it, and ss then reads every later host and port word of the
        # filter in that family (unix: globs, link:/netlink:/vsock: specs, inet:/inet6: addresses).
        self.preferred = None
        self.preferred_word = None
        self.state_ops = []

    def parse(self):
        cur = self.cursor
        while cur.peek() in ('state', 'exclude', 'excl'):
            keyword = cur.take()
            name = cur.peek()
            if name is None:
                _fail(cur, 'expected a state name after "%s"' % keyword)
            bits = STATE_WORDS.get(name.lower())
            if bits is None:
                hint = 'ss spells it "listening"' if name.lower() == 'listen' else (
                    'known: %s' % ', '.join(sorted(STATE_WORDS)))
                _fail(cur, 'unknown state name after "%s"' % keyword, hint=hint)
            cur.take()
            self.state_ops.append(('state' if keyword == 'state' else 'exclude', bits))
        if cur.peek() is None:
            return None
        tree = self.exprlist()
        if cur.peek() is not None:
            _fail(cur, 'unmatched ")"')
        return tree

    def exprlist(self):
        cur = self.cursor
        left = self.expr(None)
        while True:
            piece = cur.peek()
            if piece is None or piece.startswith(')'):
                return left
            if piece in _AND or piece in _OR:
                cur.take()
                right = self.expr(piece)
                left = ('and' if piece in _AND else 'or', left, right)
            else:
                left = ('and', left, self.expr(None))

    def expr(self, after):
        cur = self.cursor
        piece = cur.peek()
        self.nesting += 1
        if self.nesting > 200:
            _fail(cur, 'the expression is nested too deeply')
        try:
            return self._expr(after, piece)
        finally:
            self.nesting -= 1

    def _expr(self, after, piece):
        cur = self.cursor
        if piece is None:
            _fail(cur, 'expected a condition after "%s"' % after if after else 'expected a condition')
        if piece in _NOT or (piece.startswith('!') and not piece.startswith('!=')):
            word = cur.take(None if piece in _NOT else 1)
            return ('not', self.expr(word))
        if piece.startswith('('):
            opened = cur.word
            cur.take(1)
            self.depth += 1
            if cur.peek() is not None and cur.peek().startswith(')'):
                _fail(cur, 'expected a condition inside "( )"')
            inner = self.exprlist()
            if cur.peek() is None:
                _fail(cur, 'missing ")" for the "(" at word %d' % opened)
            cur.take(1)
            self.depth -= 1
            return inner
        return self.term()

    def term(self):
        cur = self.cursor
        piece = cur.peek()
        glued = _GLUED_TERM.match(piece)
        if piece not in _TERMS and not glued:
            if piece in ('state', 'exclude', 'excl'):
                _fail(cur, '"%s" clauses must come before the expression' % piece)
            hint = None
            if piece.lower() in _TERMS or piece.lower() in _RESERVED:
                hint = 'keywords are lower case'
            _fail(cur, 'expected a condition (src, dst, sport, dport, dev, fwmark, cgroup, autobound, '
                       '"(" or "not")', hint=hint)
        word = cur.word
        keyword = cur.take(None if piece in _TERMS else len(glued.group(1)))
        if keyword == 'autobound':
            return AutoBound(word=word)
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
                return cond if op == 'eq' else ('not', cond)
            port = self.compared_port(cond, context, value, value_word)
            cmp_op = {'ge': 'ge', 'le': 'le', 'gt': 'le', 'lt': 'ge'}[op]
            term = PortCmp(side, cmp_op, port, text='%s %s' % (context, value), word=word,
                           device=getattr(cond, 'device', None), device_word=value_word)
            return ('not', term) if op in ('gt', 'lt') else term
        try:
            if keyword == 'dev':
                index, name = parse_dev(value)
                term = DevCond(index, name, text='%s %s' % (context, value), word=word, value=value, value_word=value_word)
            elif keyword == 'fwmark':
                mark, mask = parse_mark(value)
                term = MarkCond(mark, mask, text='%s %s' % (context, value), word=word)
            else:
                term = CgroupCond(parse_cgroup(value), value, text='%s %s' % (context, value), word=word)
        except ValueProblem as exc:
            _fail_at(value_word, 'expected %s after "%s"' % (
                {'dev': 'a device', 'fwmark': 'a mark[/mask]', 'cgroup': 'a cgroup path'}[keyword], context),
                value, str(exc) if keyword == 'cgroup' else None)
        return ('not', term) if op == 'ne' else term

    def operator(self, keyword):
        cur = self.cursor
        piece = cur.peek()
        word = cur.word
        op, text = 'eq', ''
        if piece is not None and piece in _OPS:
            text = cur.take()
            op = _OPS[text]
        elif piece is not None:
            for symbol in _OP_SYMBOLS:
                if piece.startswith(symbol) and len(piece) > len(symbol):
                    text = cur.take(len(symbol))
                    op = _OPS[text]
                    break
        allowed = {'src': ('eq',), 'dst': ('eq',), 'dev': ('eq', 'ne'), 'fwmark': ('eq', 'ne'),
                   'cgroup': ('eq', 'ne')}.get(keyword, tuple(set(_OPS.values())))
        if op not in allowed:
            hint = 'use "not %s ..."' % keyword if keyword in ('src', 'dst') and op == 'ne' else (
                '"%s" takes %s' % (keyword, ' or '.join('"%s"' % o for o in ('=', '!=')[:len(allowed)])))
            _fail_at(word, 'operator not allowed after "%s"' % keyword, text, hint)
        return op, text

    def value(self, context):
        cur = self.cursor
        piece = cur.peek()
        what = 'a port' if context.split()[0] in ('sport', 'dport') else {
            'src': 'an address', 'dst': 'an address', 'dev': 'a device', 'fwmark': 'a mark[/mask]',
            'cgroup': 'a cgroup path'}[context.split()[0]]
        if piece is None or piece in _RESERVED or piece.startswith(')'):
            _fail(cur, 'expected %s after "%s"' % (what, context))
        # Closing parentheses glued to a value belong to the expression when the value has no use for them.
        closers = len(piece) - len(piece.rstrip(')'))
        excess = piece.count(')') - piece.count('(')
        strip = min(closers, self.depth, max(0, excess))
        return cur.take(len(piece) - strip)

    def compared_port(self, cond, context, text, word):
        """The port `sport/dport >= <= > <` compares with: ss's a->port, which stays -1 (any) for a unix glob."""
        if cond.family == 'unix':
            return -1
        if cond.family not in ('link', 'netlink', 'vsock'):
            return cond.port
        port = cond.other_port
        if isinstance(port, str):
            # A device name: ss compares with its index on this host.
            try:
                port = socket.if_nametoindex(port)
            except (OSError, ValueError, UnicodeError):
                _fail_at(word, 'expected a port after "%s"' % context, text,
                         'no device "%s" here, and ss compares with its index' % port)
        return port

    def host(self, side, text, is_port, context, word):
        """A host or port spec, with its family prefix (or the one an earlier prefix left, as in ss); the family
        also restricts the families shown."""
        family, rest, inherited = self.preferred, text, self.preferred is not None
        for name in PREFIX_FAMILIES:
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
            return HostCond(side, family, -1, pattern=rest, text='%s %s' % (context, text), word=word)
        if family in ('link', 'netlink', 'vsock'):
            try:
                other = _other_spec(family, rest, is_port)
            except ValueProblem as exc:
                _fail_at(word, 'expected %s after "%s"' % (what, context), text, _hints(str(exc), context_hint))
            return HostCond(side, family, -1, other=other, text='%s %s' % (context, text), word=word)
        if is_port:
            addr, port_text = '', rest[1:] if rest.startswith(':') else rest
        elif rest.startswith('['):
            close = rest.find(']')
            if close < 0:
                _fail_at(word, 'expected %s after "%s"' % (what, context), text, 'missing "]"')
            addr, port_text = rest[1:close], rest[close + 1:]
            port_text = port_text[1:] if port_text.startswith(':') else port_text
        elif rest.startswith('*'):
            addr, port_text = '', rest[1:]
            port_text = port_text[1:] if port_text.startswith(':') else port_text
        else:
            colon = rest.rfind(':', max(rest.find('/'), 0))
            addr, port_text = (rest, '') if colon < 0 else (rest[:colon], rest[colon + 1:])
        try:
            port = parse_port(port_text, self.tables)
        except ValueProblem as exc:
            message = str(exc) if exc.args[0] else 'expected a port after "%s"' % context
            hint = None
            if not is_port and colon_split_ipv6(rest):
                hint = 'write IPv6 addresses in brackets: "[%s]"' % rest
            _fail_at(word, message, text, _hints(hint, context_hint))
        if addr in ('', '*'):
            alternatives = [(0, 0, 0)]
        else:
            alt = inet_prefix(addr, family)
            alternatives = [alt] if alt else resolve_alternatives(addr, family, self.resolver)
            if not alternatives:
                hint = None
                if colon_split_ipv6(rest):
                    hint = 'write IPv6 addresses in brackets: "[%s]"' % rest
                elif family:
                    hint = 'not an %s address or a host name that resolves to one' % family
                _fail_at(word, 'expected %s after "%s"' % (what, context), text, _hints(hint, context_hint))
        return HostCond(side, family, port, alternatives, text='%s %s' % (context, text), word=word)


def colon_split_ipv6(text):
    return '[' not in text and text.count(':') >= 2


def _hints(*hints):
    return '; '.join(hint for hint in hints if hint) or None


def _fail_at(word, message, token, hint=None):
    text = 'filter: %s at word %d: "%s"' % (message, word, shown(token))
    if hint:
        text += ' (%s)' % shown(hint, 400)
    raise FilterError(text)


def _other_spec(family, text, is_port):
    """(address value or None, port value or None) of a link:, netlink: or vsock: spec, read as ss's find_port
    splits it: a port word is all port (one leading ':' dropped), else the port follows the first ':'."""
    if is_port:
        addr, port = '', text[1:] if text.startswith(':') else text
    else:
        addr, sep, port = text.partition(':')
        port = port if sep else None
    table = {'link': ETHERTYPES, 'netlink': NETLINK_PROTOCOLS}.get(family, {})
    address = None
    if addr not in ('', '*'):
        address = table.get(addr.lower())
        if address is None:
            address, rest = c_unsigned_prefix(addr)
            if address is None or rest:
                raise ValueProblem('unknown %s address "%s"' % (family, addr))
    return address, _other_port(family, port)


def _other_port(family, port):
    """The port of a link:/netlink:/vsock: spec (None when the spec has no port part): None for any, a number,
    or (link) a device name."""
    if port is None or port == '*':
        return None
    if family == 'vsock':
        # ss's get_u32: a whole number up to 0xffffffff (so not empty, and not negative).
        value, rest = c_unsigned_prefix(port)
        if value is None or rest or value > 0xffffffff:
            raise ValueProblem('"%s" is not a number from 0 to 4294967295' % port)
        return value
    if port == '':
        return None
    # ss's get_integer: a whole number in the range of a C int; else `kernel` (netlink) or a device name (link).
    value = c_integer(port, -(1 << 31), (1 << 31) - 1)
    if value is not None:
        return value
    number, rest = c_integer_prefix(port)
    if number is not None and not rest:
        raise ValueProblem('"%s" is out of range' % port)
    if family == 'netlink':
        if port != 'kernel':
            raise ValueProblem('"%s" is not a number' % port)
        return 0
    if len(port.encode('utf-8', 'replace')) > 15 or any(c in port for c in '/: \t\n\v\f\r'):
        raise ValueProblem('"%s" is not a device name or index' % port)
    return port


# --- the filter -----------------------------------------------------------------------------------------

def chain(node):
    """A left-deep run of and/or nodes as (first, [(op, right), ...]), so long lists need no deep recursion."""
    steps = []
    while isinstance(node, tuple) and node[0] in ('and', 'or'):
        steps.append((node[0], node[2]))
        node = node[1]
    steps.reverse()
    return node, steps


def _build(node, which):
    """A function view -> bool for a tree, using each term's userspace or kernel judgement."""
    if isinstance(node, tuple) and node[0] == 'not':
        inner = _build(node[1], which)
        return lambda view, env: not inner(view, env)
    if not isinstance(node, tuple):
        return getattr(node, which)
    first, steps = chain(node)
    first = _build(first, which)
    steps = [(op == 'or', _build(right, which)) for op, right in steps]

    def run(view, env):
        # ss's C logic short-circuits, left to right with equal precedence.
        value = first(view, env)
        for is_or, right in steps:
            if value != is_or:
                value = right(view, env)
        return value
    return run


SS_DEFAULT_EPHEMERAL = (1024, 4999)     # what ss assumes when it cannot read ip_local_port_range


class SSFilter(object):
    """A parsed filter: its state clauses, the families it forces, and its expression."""

    def __init__(self, text, tree=None, state_ops=(), families=None, tables=('tcp', 'udp'), ephemeral_range=None):
        self.text = text
        self.tree = tree
        self.state_ops = tuple(state_ops)
        self.has_state_clause = bool(self.state_ops)
        self.families = families
        self.tables = tables
        self._ephemeral = tuple(ephemeral_range) if ephemeral_range else None
        self._state_bits = self.state_mask() if self.state_ops else None
        self._program = compile_program(tree)
        self._user = _build(tree, 'user') if tree is not None else None
        self._kernel = _build(tree, 'kernel') if self._program else None

    def __repr__(self):
        return 'SSFilter(%r)' % (self.text,)

    def terms(self):
        """Every term of the expression (HostCond, PortCmp, MarkCond ...), left to right."""
        found = []
        pending = [self.tree] if self.tree is not None else []
        while pending:
            node = pending.pop()
            if isinstance(node, tuple):
                pending.extend(reversed(node[1:]))
            else:
                found.append(node)
        return found

    def set_ephemeral_range(self, found):
        """Judge `autobound` with this [low, high] from here on (None: ss's default, as when ss cannot read it)."""
        self._ephemeral = tuple(found) if found else SS_DEFAULT_EPHEMERAL

    def bind_devices(self, where=None):
        """Read the filter's device words (`dev NAME|INDEX`, the device of `link:` specs) in the current network
        namespace, as ss run there reads them, and judge records by those indexes from here on. The module calls
        this in each namespace it reads; ss_filter on the controller never does, and keeps matching names.

        where: the namespace's label for the message (None: the host's own). Raises FilterError, naming the word
        and its position, for a device ss refuses there: a typo must not read as "no sockets"."""
        place, there = ('on this host', '') if where is None else ('in network namespace %s' % where, ' run there')
        for term in self.terms():
            if isinstance(term, DevCond) and term.value is not None:
                if not term.bind():
                    _fail_at(term.value_word, 'no device "%s" %s' % (shown(term.value), place), term.value,
                             'ss%s refuses it too, with "Cannot parse device."; a number is read as a device index' % there)
                continue
            device = getattr(term, 'device', None)
            if device is None:
                continue
            index = ll_name_to_index(device)
            if not index:
                word = term.device_word if isinstance(term, PortCmp) else term.word
                _fail_at(word, 'no device "%s" %s' % (shown(device), place), term.text.split(' ')[-1],
                         'ss%s refuses it too, with "Cannot parse dst/src address."' % there)
            if isinstance(term, PortCmp):
                if term.port != index:
                    term.port = index
                    self._program = compile_program(self.tree)
            else:
                term.other_port = index
        return self

    def ephemeral_range(self):
        if self._ephemeral is None:
            # As ss reads it: PROC_IP_LOCAL_PORT_RANGE, else the file under PROC_ROOT (or /proc); else ss's default.
            path = os.environ.get('PROC_IP_LOCAL_PORT_RANGE') or os.path.join(
                os.environ.get('PROC_ROOT', '/proc'), PORT_RANGE_FILE)
            found = read_ephemeral_range(path=path)
            self._ephemeral = tuple(found) if found else SS_DEFAULT_EPHEMERAL
        return self._ephemeral

    def state_mask(self, listening=False):
        """The state bits to dump: the clauses' (or the tables' defaults when they come to nothing), else
        LISTEN|UNCONN when listening, else every state."""
        if self.state_ops:
            mask = 0 if self.state_ops[0][0] == 'state' else ALL_STATES
            for op, bits in self.state_ops:
                mask = (mask | bits) if op == 'state' else (mask & ~bits)
            if mask:
                return mask
            # ss ignores a state set that comes to nothing and shows each table's default states.
            return _table_names.default_states(self.tables)
        return (_LISTEN | _UNCONN) if listening else ALL_STATES

    def bytecode(self, family):
        """The INET_DIAG_REQ_BYTECODE program for an AF_INET/AF_INET6 dump: b'' without an expression, None
        when the kernel cannot run it (dev, unix/link/netlink/vsock hosts). ss sends the same for both."""
        if family not in (socket.AF_INET, socket.AF_INET6, 'inet', 'inet6'):
            raise ValueError('bytecode is only for AF_INET and AF_INET6 dumps, not %r' % (family,))
        return self._program

    def _check(self, record, kernel):
        if self._state_bits is not None and not self._state_bits & _record_state_bit(record):
            return False
        if self.families is not None and record.get('family') not in self.families:
            return False
        if self._user is None:
            return True
        view = View(record)
        try:
            if not self._user(view, self):
                return False
            kernel_check = self._kernel
            if kernel and view.inet and kernel_check is not None:
                return kernel_check(view, self)
        except RecordProblem as exc:
            raise FilterError('filter: "%s" (word %d) needs %s, which the socket records do not carry'
                              % (exc.term.text, exc.term.word, exc.what))
        return True

    def match(self, record):
        """Whether a live ss would show this record: states, forced families, the kernel's program (inet
        sockets, when the expression compiles) and ss's userspace check. Socket facts carry what the
        kernel's checks need: `mark`, `cgroup_id` and `port_locked` (its SOCK_BINDPORT_LOCK, for autobound); the
        module's own records carry `_ifindex` too."""
        return self._check(record, True)

    def select(self, records, kernel_filtered=False):
        """The records that match; kernel_filtered=True for records the kernel already ran bytecode() on."""
        # The kernel already ran the program on kernel-filtered records; the userspace checks (which
        # ss always runs too) add what it cannot do: the ephemeral range, ports past 65535, v4/v6 quirks.
        return [record for record in records if self._check(record, not kernel_filtered)]


def parse(text, tables=('tcp', 'udp'), resolver=None, ephemeral_range=None):
    """Parse a filter as typed after ss's options ('state listening ( sport = :ssh or sport = :https )').

    tables: the selected tables (ss names or aliases), for service-name lookups (tcp/udp) and for the states ss
    falls back to when the state clauses come to nothing. resolver(name, family) -> addresses replaces the
    getaddrinfo lookup of host names (family 'inet', 'inet6' or None). ephemeral_range=(low, high) replaces
    ip_local_port_range for `autobound` (read lazily otherwise; it is per network namespace).
    None, '' or only state clauses mean no expression. Raises FilterError."""
    if text is None:
        text = ''
    if isinstance(text, (list, tuple)):
        text = ' '.join(text)
    if not isinstance(text, str):
        raise FilterError('filter: expected a string, got %s' % type(text).__name__)
    if len(text) > MAX_FILTER_LENGTH:
        words = split_words(text[:MAX_FILTER_LENGTH]) or ['']
        raise FilterError('filter: longer than %d characters (%d) at word %d: "%s"'
                          % (MAX_FILTER_LENGTH, len(text), len(words), shown(words[-1])))
    tables = expand_tables(tables)
    parser = _Parser(text, tables, resolver)
    tree = parser.parse()
    return SSFilter(text, tree, parser.state_ops, parser.families, tables, ephemeral_range)


@functools.lru_cache(maxsize=128)
def _cached(expression, tables):
    return parse(expression, tables)


def filter_records(records, expression, tables=None):
    """The records that match an ss filter (with optional leading state clauses)."""
    tables = tuple(tables) if tables else ('tcp', 'udp')
    return _cached(expression or '', tables).select(records)
