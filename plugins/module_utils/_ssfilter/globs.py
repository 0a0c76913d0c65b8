# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the globs of `unix:` conditions, as fnmatch(3) with FNM_CASEFOLD and no FNM_PATHNAME
matches them, compiled to regular expressions."""

from __future__ import annotations

import re
from typing import Pattern

# A unix socket name is at most 108 bytes (sun_path): a glob that needs more characters matches nothing.
_LONGEST_UNIX_NAME = 108


def _without_reversed_ranges(body: str) -> str:
    """A bracket expression's body without its reversed ranges ([z-a]): fnmatch(3) ignores them, re refuses them."""
    kept, i = [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == '-':
            if body[i] <= body[i + 2]:
                kept.append(body[i:i + 3])
            i += 3
        else:
            kept.append(body[i])
            i += 1
    return ''.join(kept)


def glob_regex(pattern: str) -> Pattern[str]:
    """The regular expression that matches a whole name exactly when fnmatch(3) matches the glob."""
    pieces: list[str | None] = []      # the regex of each item of the pattern; None for a star
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == '*':
            if not pieces or pieces[-1] is not None:
                pieces.append(None)
        elif c == '?':
            pieces.append('.')
        elif c == '\\' and i < n:
            pieces.append(re.escape(pattern[i]))
            i += 1
        elif c == '[':
            j = i
            if j < n and pattern[j] in '!^':
                j += 1
            if j < n and pattern[j] == ']':
                j += 1
            while j < n and pattern[j] != ']':
                j += 1
            if j >= n:
                pieces.append('\\[')
                continue
            body = pattern[i:j]
            i = j + 1
            negate = body[:1] in ('!', '^')
            if negate:
                body = body[1:]
            body = _without_reversed_ranges(body)
            if not body:
                pieces.append('.' if negate else '(?!)')
                continue
            body = body.replace('\\', '\\\\').replace('^', '\\^').replace('[', '\\[')
            pieces.append('[%s%s]' % ('^' if negate else '', body))
        else:
            pieces.append(re.escape(c))
    if sum(1 for piece in pieces if piece is not None) > _LONGEST_UNIX_NAME:
        return re.compile('(?!)')
    # Each star and the items up to the next star are one atomic group, (?=(.*?ITEMS))(?P=g): the shortest match is
    # kept and never retried, which is enough for a glob and cannot backtrack exponentially (fnmatch does the same).
    out: list[str] = []
    group, k = 0, 0
    while k < len(pieces) and pieces[k] is not None:
        out.append(pieces[k] or '')
        k += 1
    while k < len(pieces):
        k += 1
        run: list[str] = []
        while k < len(pieces) and pieces[k] is not None:
            run.append(pieces[k] or '')
            k += 1
        if k == len(pieces):
            out.append('.*' + ''.join(run))
        else:
            group += 1
            out.append('(?=(?P<g%d>.*?%s))(?P=g%d)' % (group, ''.join(run), group))
    return re.compile('(?s:%s)\\Z' % ''.join(out), re.IGNORECASE)
