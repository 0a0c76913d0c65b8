# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a dump run on a thread of its own, beside another (in_background)."""

from __future__ import annotations

import _thread
from typing import Any, Callable, TypeVar

T = TypeVar('T')


def in_background(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start function(*args) on a thread of its own and return wait(): it blocks until the call is over, then
    returns its result or raises its exception. A netlink dump spends its time in the kernel, with the GIL
    released, so a dump run this way beside another costs no extra wall time on a machine with two cores.
    Where no thread can be started, the call runs at once."""
    outcome: list[tuple[bool, Any]] = []
    finished = _thread.allocate_lock()
    finished.acquire()

    def run() -> None:
        try:
            outcome.append((True, function(*args)))
        except BaseException as exc:    # handed to whoever waits, as if they had made the call
            outcome.append((False, exc))
        finally:
            finished.release()

    try:
        _thread.start_new_thread(run, ())
    except RuntimeError:
        run()

    def wait() -> T:
        with finished:
            pass
        succeeded, value = outcome[0]
        if succeeded:
            return value
        raise value
    return wait
