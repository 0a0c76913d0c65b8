# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the one boundary for strings that come from managed hosts, one function per format.

Every string a host sends (process, user, interface and namespace names, unix socket paths, cgroup paths) is chosen
by whoever runs processes there. Rendered raw, it can break a report's syntax, pull remote content into a Markdown
viewer, or move and blank a terminal. So every place that shows host data passes it through one of these:

- ``text(value)``: for terminals, logs and Ansible messages. Invalid UTF-8 (the surrogate escapes Python decodes
  it to) shows as ``\\xNN``; C0 controls, DEL and C1 controls as ``\\xNN``; the Unicode characters that reorder
  or break lines (bidirectional overrides and isolates, line and paragraph separators) as ``\\uXXXX``.
- ``markdown(value)``: ``text`` with every character that has meaning in Markdown inline or table syntax
  backslash-escaped, so a host string is always literal text inside one table cell.
- ``html(value)``, ``xml(value)``: ``text`` with the markup characters escaped (quotes too: safe in attributes).
- ``clean(value)``: for JSON and other structured output, where the encoder escapes controls itself: only invalid
  UTF-8 becomes ``\\xNN`` (a lone surrogate cannot be encoded, so it would stop the whole file being written).
  ``clean_tree`` applies it to every string, key or value, of a nested structure.

Everything that is not a str is turned into one first (``None`` stays ``None`` in ``clean`` and becomes ``'None'``
elsewhere only if the caller passes it; callers show their own placeholder for missing values).
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from typing import Any, TypeVar, overload

_T = TypeVar('_T')

# Surrogate escapes (\udc80-\udcff: bytes that were not UTF-8) and any other lone surrogate.
_SURROGATE = re.compile('[\ud800-\udfff]')
# C0, DEL, C1; the bidirectional controls (LRE..RLO, LRI..PDI, LRM, RLM, ALM) and the line/paragraph separators;
# the invisible format characters that can disguise a name (soft hyphen, zero-width space and joiners, word joiner,
# invisible operators, byte order mark, tag characters): `n\u200bc` must not look like `nc`;
# U+FFFE and U+FFFF, which XML 1.0 does not allow.
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\xad\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ud800-\udfff'
                     '\ufeff\ufffe\uffff\U000e0000-\U000e007f]')
# What Markdown (CommonMark and GFM tables) gives meaning to inline; each may be backslash-escaped.
_MARKDOWN = re.compile(r'([\\`*_\[\]()<>!|~&#{}$])')


def _surrogate(found: 're.Match[str]') -> str:
    code = ord(found.group(0))
    if 0xdc80 <= code <= 0xdcff:
        return '\\x%02x' % (code - 0xdc00)
    return '\\u%04x' % code


def _unsafe(found: 're.Match[str]') -> str:
    code = ord(found.group(0))
    if 0xdc80 <= code <= 0xdcff:
        return '\\x%02x' % (code - 0xdc00)
    if code <= 0xff:
        return '\\x%02x' % code
    if code > 0xffff:
        return '\\U%08x' % code
    return '\\u%04x' % code


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode('utf-8', 'backslashreplace')
    return str(value)


@overload
def clean(value: str | bytes) -> str: ...


@overload
def clean(value: _T) -> _T: ...


def clean(value: object) -> object:
    """A str with invalid UTF-8 as \\xNN; anything that is not a str or bytes is returned as it is."""
    if isinstance(value, bytes):
        return value.decode('utf-8', 'backslashreplace')
    if isinstance(value, str):
        return _SURROGATE.sub(_surrogate, value) if _SURROGATE.search(value) else value
    return value


def clean_tree(value: object) -> Any:
    """``clean`` applied to every string (keys too) of nested dicts, lists and tuples."""
    if isinstance(value, (str, bytes)):
        return clean(value)
    if isinstance(value, Mapping):
        return dict((clean(key), clean_tree(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [clean_tree(item) for item in value]
    return value


def text(value: object) -> str:
    """Host data for a terminal or a log line: no control character, no invalid UTF-8, no reordering."""
    value = _as_str(value)
    return _UNSAFE.sub(_unsafe, value) if _UNSAFE.search(value) else value


def markdown(value: object) -> str:
    """Host data as literal inline text in Markdown (also inside a table cell). Inline only: callers put their own
    text first on a line, since a line that starts with `- `, `1. ` or spaces is a block of its own."""
    return _MARKDOWN.sub(r'\\\1', text(value))


def html(value: object) -> str:
    """Host data as HTML text or attribute value."""
    return (text(value).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace('"', '&quot;').replace("'", '&#x27;'))


def xml(value: object) -> str:
    """Host data as XML text or attribute value (every character left is allowed in XML 1.0)."""
    return html(value)
