# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: numbers in a filter as ss's C helpers read them (strtol, strtoul, a C int)."""

from __future__ import annotations

# The blanks strtol skips (C's isspace).
SPACE = ' \t\n\v\f\r'
# More significant digits than this is past every range a C long holds (strtol saturates there), and int() refuses
# more than 4300 decimal digits: such a number is read as one that no range check lets through.
MAX_DIGITS = 64
_HUGE = 1 << 256


def c_integer(text: str, low: int, high: int) -> int | None:
    """strtol(text, base 0) that must consume everything and land in [low, high]; None otherwise."""
    value, rest = c_integer_prefix(text)
    if value is None or rest or not low <= value <= high:
        return None
    return value


def c_integer_prefix(text: str) -> tuple[int | None, str]:
    """The longest base-0 integer at the start of text (after blanks), as strtol reads it, and the rest."""
    i = 0
    while i < len(text) and text[i] in SPACE:
        i += 1
    sign = 1
    if i < len(text) and text[i] in '+-':
        sign = -1 if text[i] == '-' else 1
        i += 1
    if text[i:i + 2].lower() == '0x' and i + 2 < len(text) and text[i + 2] in '0123456789abcdefABCDEF':
        base, i = 16, i + 2
        digits = '0123456789abcdef'
    elif text[i:i + 1] == '0':
        base, digits = 8, '01234567'
    else:
        base, digits = 10, '0123456789'
    start = i
    while i < len(text) and text[i].lower() in digits:
        i += 1
    if i == start:
        return None, text
    number = text[start:i].lstrip('0') or '0'
    if len(number) > MAX_DIGITS:
        return sign * _HUGE, text[i:]
    return sign * int(number, base), text[i:]


def c_unsigned_prefix(text: str) -> tuple[int | None, str]:
    """strtoul's reading: a negative number wraps around (so it is huge); past 64 bits it saturates at ULONG_MAX."""
    value, rest = c_integer_prefix(text)
    if value is not None:
        if not -(1 << 64) < value < (1 << 64):
            value = (1 << 64) - 1
        elif value < 0:
            value = (1 << 64) + value
    return value, rest


def signed32(value: int) -> int:
    """The low 32 bits of value as a C int reads them (0xffffffff is -1)."""
    value &= 0xffffffff
    return value - (1 << 32) if value & 0x80000000 else value
