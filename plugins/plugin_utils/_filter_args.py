# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the filters' shared argument checks (socket records, booleans, port ranges), PolicyError."""

# The filters (plugins/filter/socket_filters.py) are thin wrappers over ss_filter() (_ssfilter_fast.py),
# listening_ports() (_listening.py), port_audit() (_policy/verdict.py) and socket_diff() (_snapshot_diff.py). Every bad input
# raises PolicyError (a ValueError) whose message names the argument and the offending item; the filters prefix their
# own name.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import is_int
from ansible_collections.netaudit.sockets.plugins.plugin_utils._hoststr import text


class PolicyError(NetauditError, ValueError):
    """Input that cannot be filtered, audited or compared; the message names the argument and the item."""


def type_name(value: object) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, Mapping):
        return 'a dict'
    if isinstance(value, Sequence):
        return 'a list'
    return 'a value of type %s' % type(value).__name__


def strip_filter_prefix(message: str) -> str:
    return message[len('filter: '):] if message.startswith('filter: ') else message


# --- socket records as arguments ------------------------------------------------------------------------------

def socket_records(value: object, argument: str = 'sockets') -> tuple[Sequence[Any], object]:
    """(records, socket_meta or None): a list of records, or a dict holding them under `sockets` (ansible_facts,
    or a host's hostvars with ansible_facts); raises PolicyError for anything else."""
    meta = None
    if isinstance(value, Mapping):
        facts = value
        inner = facts.get('ansible_facts')
        if 'sockets' not in facts and isinstance(inner, Mapping) and 'sockets' in inner:
            facts = inner
        if 'sockets' not in facts:
            raise PolicyError('%s: expected a list of socket records, or facts with a "sockets" key; got a dict with '
                              'keys %s' % (argument, ', '.join(sorted('"%s"' % k for k in facts)[:8]) or 'none'))
        meta = facts.get('socket_meta')
        value = facts['sockets']
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        hint = ' (were the facts gathered with netaudit.sockets.socket_facts?)' if value is None else ''
        raise PolicyError('%s: expected a list of socket records, got %s%s' % (argument, type_name(value), hint))
    return value, meta


def check_records(records: Sequence[object], keys: Sequence[str], argument: str = 'sockets') -> None:
    """Raise PolicyError naming the first record that is not a dict, lacks one of `keys`, or has a bad value."""
    for index, record in enumerate(records):
        problem = record_problem(record, keys)
        if problem:
            raise PolicyError('%s[%d]: %s' % (argument, index, problem))


_KEY_TYPES = {
    'netid': str, 'state': str, 'family': str, 'local_address': str, 'peer_address': str,
    'local_port': int, 'peer_port': int, 'processes': list, 'user': str, 'netns': str, 'interface': str,
    'uid': int, 'v6only': bool,
}


def record_problem(record: object, keys: Sequence[str]) -> str | None:
    """What is wrong with one record for a function that reads `keys`, or None."""
    if not isinstance(record, Mapping):
        return 'expected a socket record (a dict), got %s' % type_name(record)
    missing = [key for key in keys if key not in record]
    if missing:
        return 'not a socket record: no %s (a record from netaudit.sockets.socket_facts has them all)' % (
            ', '.join('"%s"' % key for key in missing))
    for key in keys:
        value, wanted = record[key], _KEY_TYPES.get(key)
        if value is None or wanted is None:
            continue
        if wanted is int and not is_int(value):
            return '"%s" must be an integer or null, got %s' % (key, type_name(value))
        if wanted is str and not isinstance(value, str):
            return '"%s" must be a string or null, got %s' % (key, type_name(value))
        if wanted is list and (isinstance(value, (str, bytes)) or not isinstance(value, Sequence)):
            return '"%s" must be a list, got %s' % (key, type_name(value))
        if wanted is bool and not isinstance(value, bool):
            return '"%s" must be a boolean or null, got %s' % (key, type_name(value))
    return None


def parse_boolean(value: object, argument: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ('true', 'yes', 'on', '1', 'false', 'no', 'off', '0'):
        return value.strip().lower() in ('true', 'yes', 'on', '1')
    raise PolicyError('%s: expected a boolean, got %s' % (argument, type_name(value)))


def parse_choice(value: object, choices: Sequence[str], argument: str) -> str:
    """One of `choices` (a word, any case, surrounding blanks ignored); raises PolicyError naming the argument."""
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    wanted = ' or '.join((', '.join(choices[:-1]), choices[-1])) if len(choices) > 1 else choices[0]
    if isinstance(value, str):
        # The value is the controller's own, but it is echoed into a message: no control character reaches a terminal.
        raise PolicyError('%s: "%s": expected %s' % (argument, text(value), wanted))
    raise PolicyError('%s: expected %s, got %s' % (argument, wanted, type_name(value)))


def parse_port_range(value: object, where: str) -> tuple[int, int]:
    """(low, high) from 22, "22" or "8000-8099"; raises PolicyError."""
    if is_int(value):
        low = high = cast(int, value)
    elif isinstance(value, str):
        text = value.strip()
        low_text, dash, high_text = text.partition('-')
        if not low_text.strip().isdigit() or (dash and not high_text.strip().isdigit()):
            raise PolicyError('%s: "%s": expected a port number 1-65535 or a range LOW-HIGH' % (where, value))
        low = int(low_text)
        high = int(high_text) if dash else low
    else:
        raise PolicyError('%s: expected a port number or a range "LOW-HIGH", got %s' % (where, type_name(value)))
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise PolicyError('%s: "%s": port %d is out of range (1-65535)' % (where, value, port))
    if low > high:
        raise PolicyError('%s: "%s": the range is reversed' % (where, value))
    return low, high
