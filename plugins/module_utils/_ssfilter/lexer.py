# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the words of an ss filter, its keywords, and the cursor the parser reads them with."""

from __future__ import annotations

import re
from typing import NoReturn

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import fail_at

NOT = ('!', 'not')
AND = ('&', '&&', 'and')
OR = ('|', '||', 'or')
STATE_KEYWORDS = ('state', 'exclude', 'excl')
TERMS = ('src', 'dst', 'sport', 'dport', 'dev', 'fwmark', 'cgroup', 'autobound')
# Comparison words and symbols, to the comparison they name.
OPS = {'=': 'eq', '==': 'eq', 'eq': 'eq', '!=': 'ne', 'ne': 'ne', 'neq': 'ne', '<': 'lt', 'lt': 'lt',
       '>': 'gt', 'gt': 'gt', '<=': 'le', 'le': 'le', 'leq': 'le', '>=': 'ge', 'ge': 'ge', 'geq': 'ge'}
# The symbols that may be glued to the value after them, longest first.
OP_SYMBOLS = ('==', '!=', '<=', '>=', '=', '<', '>')
RESERVED = frozenset(NOT + AND + OR + TERMS + tuple(OPS) + ('(', ')'))
# A term keyword glued to an operator or a closing parenthesis (`sport=22`, `autobound)`).
GLUED_TERM = re.compile(r'(%s)(?=[=!<>)])' % '|'.join(TERMS))


def split_words(text: str) -> list[str]:
    """Words as ss reads them: split on blanks, a backslash keeps the next character (blank or not)."""
    words: list[str] = []
    current: list[str] = []
    escaped = started = False
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


class Cursor(object):
    """Walks the words; a word can be eaten in pieces when parentheses or operators are glued to it."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.index = 0
        self.rest: str | None = words[0] if words else None

    @property
    def word(self) -> int:
        """The position of the current word, counted from 1 as error messages count."""
        return self.index + 1

    def peek(self) -> str | None:
        """What is left of the current word; None at the end of the filter."""
        return self.rest

    def take(self, count: int | None = None) -> str:
        """Eat the rest of the current word, or its first `count` characters."""
        rest = self.rest
        if rest is None:
            raise IndexError('no word left to take')
        piece = rest if count is None else rest[:count]
        self.rest = rest[len(piece):]
        if not self.rest:
            self.index += 1
            self.rest = self.words[self.index] if self.index < len(self.words) else None
        return piece

    def fail(self, message: str, hint: str | None = None) -> NoReturn:
        """Raise the FilterError of `message` at the current word, or at the end of the filter."""
        rest = self.rest
        fail_at(None if rest is None else self.word, message, rest or '', hint)
