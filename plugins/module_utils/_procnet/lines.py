# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the data lines of a /proc/net table, and the malformed ones reported by line."""

from __future__ import annotations

from typing import Pattern

from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import host_text

# A hex digit, as the kernel's %X and %x print them (the line patterns of inet.py, packet_netlink.py, unix.py).
HEX = '[0-9A-Fa-f]'
# Malformed lines named one by one per file; beyond that, a count.
MAX_PROBLEMS_PER_FILE = 5


class Malformed(object):
    """The malformed lines of one file, told in problems: the first MAX_PROBLEMS_PER_FILE each with its number, the
    layout expected and the line itself (cut to 120 characters, or bytes for a file read as bytes), then a count."""

    def __init__(self, source: str, layout: str, problems: list[str]) -> None:
        self.source = source
        self.layout = layout
        self.problems = problems
        self.count = 0

    def skip(self, number: int, line: str | bytes) -> None:
        self.count += 1
        if self.count > MAX_PROBLEMS_PER_FILE:
            return
        if isinstance(line, bytes):
            shown = host_text(line if len(line) <= 120 else line[:117] + b'...')
        else:
            shown = line if len(line) <= 120 else line[:117] + '...'
        self.problems.append('%s line %d: malformed, skipped (expected "%s"): %r' % (self.source, number, self.layout, shown))

    def close(self) -> None:
        """Count the lines past the first few (called once the file is read)."""
        if self.count > MAX_PROBLEMS_PER_FILE:
            self.problems.append('%s: %d more malformed lines skipped' % (self.source, self.count - MAX_PROBLEMS_PER_FILE))


def data_rows(pattern: Pattern[str], text: str, layout: str, source: str, problems: list[str]) -> list[tuple[str, ...]]:
    """The captured fields of every data line. The first line is the header unless it matches. Lines that do
    not match are reported (the first few in full, then a count) and skipped."""
    lines = text.count('\n') + (1 if text and not text.endswith('\n') else 0)
    if pattern.match(text) is None:
        rows = pattern.findall(text)
        if len(rows) == lines - 1:
            return rows
    # Something does not fit (or there is no header): walk line by line to say where.
    rows = []
    malformed = Malformed(source, layout, problems)
    for number, line in enumerate(text.split('\n'), 1):
        match = pattern.match(line)
        if match is not None:
            rows.append(match.groups())
        elif number > 1 and line.strip():
            malformed.skip(number, line)
    malformed.close()
    return rows
