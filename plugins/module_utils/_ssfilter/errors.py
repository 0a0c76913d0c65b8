# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: FilterError, and how its message names the word of the filter at fault."""

from __future__ import annotations

from typing import NoReturn

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError


class FilterError(NetauditError, ValueError):
    """A filter that cannot be read or applied; the message names the token and its position."""


def shown(token: str, limit: int = 80) -> str:
    """A token (or a hint) as an error message quotes it: long ones cut short, so a message stays readable."""
    return token if len(token) <= limit else '%s... (%d characters)' % (token[:limit - 20], len(token))


def hints(*found: str | None) -> str | None:
    """The hints that apply, joined for one message; None when there is none."""
    return '; '.join(hint for hint in found if hint) or None


def fail_at(word: int | None, message: str, token: str = '', hint: str | None = None) -> NoReturn:
    """Raise the FilterError of `message` about `token`, the word at position `word` (counted from 1); a word of
    None is the end of the filter, where a condition or a value was still due."""
    if word is None:
        text = 'filter: %s at the end of the filter' % message
    else:
        text = 'filter: %s at word %d: "%s"' % (message, word, shown(token))
    if hint:
        text += ' (%s)' % shown(hint, 400)
    raise FilterError(text)
