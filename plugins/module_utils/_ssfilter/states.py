# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the state names of ss's `state` and `exclude` clauses, and the state mask they give."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.module_utils._records import ALL_STATES, STATE_NUMBERS

# One clause: ('state', bits) adds the states, ('exclude', bits) takes them away.
StateOp = Tuple[str, int]


def state_bit(name: str) -> int:
    """The bit of one state (ss's name: LISTEN, ESTAB ...) in a state mask."""
    return 1 << STATE_NUMBERS[name]


LISTEN, UNCONN = state_bit('LISTEN'), state_bit('UNCONN')
_SYN_RECV, _TIME_WAIT, _SYN_SENT = state_bit('SYN-RECV'), state_bit('TIME-WAIT'), state_bit('SYN-SENT')
_CONNECTED = ALL_STATES & ~(UNCONN | LISTEN)
SS_CONN = _table_names.SS_CONN      # ss's default states for a connection table

# Names accepted after `state`/`exclude`, compared case-insensitively (`listen` is not one of them).
STATE_WORDS = {
    'unknown': state_bit('UNKNOWN'), 'established': state_bit('ESTAB'), 'syn-sent': _SYN_SENT,
    'syn-recv': _SYN_RECV, 'syn-rcv': _SYN_RECV, 'fin-wait-1': state_bit('FIN-WAIT-1'),
    'fin-wait-2': state_bit('FIN-WAIT-2'), 'time-wait': _TIME_WAIT, 'unconnected': UNCONN, 'close': UNCONN,
    'closed': UNCONN, 'close-wait': state_bit('CLOSE-WAIT'), 'last-ack': state_bit('LAST-ACK'),
    'listening': LISTEN, 'closing': state_bit('CLOSING'),
    'all': ALL_STATES, 'connected': _CONNECTED, 'synchronized': _CONNECTED & ~_SYN_SENT,
    'bucket': _SYN_RECV | _TIME_WAIT, 'big': ALL_STATES & ~(_SYN_RECV | _TIME_WAIT),
}


def state_mask(state_ops: tuple[StateOp, ...], tables: Iterable[str], listening: bool = False) -> int:
    """The state bits to dump: the clauses' (or the tables' defaults when they come to nothing), else
    LISTEN|UNCONN when listening, else every state."""
    if state_ops:
        mask = 0 if state_ops[0][0] == 'state' else ALL_STATES
        for op, bits in state_ops:
            mask = (mask | bits) if op == 'state' else (mask & ~bits)
        if mask:
            return mask
        # ss ignores a state set that comes to nothing and shows each table's default states.
        return _table_names.default_states(tables)
    return (LISTEN | UNCONN) if listening else ALL_STATES


def record_state_bit(record: Mapping[str, Any]) -> int:
    """The bit of a record's state; a state ss has no name for (or none) counts as UNKNOWN."""
    return 1 << STATE_NUMBERS.get(record.get('state') or 'UNKNOWN', 0)
