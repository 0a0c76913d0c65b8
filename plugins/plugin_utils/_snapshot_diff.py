# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: socket_diff, two snapshots of one host compared by stable socket identity."""

from __future__ import annotations

import re

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.netaudit.sockets.plugins.module_utils._records import INET_FAMILIES
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _origin_identity
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import (
    PolicyError, is_int, parse_boolean, parse_port_range, socket_records, type_name,
)
from ansible_collections.netaudit.sockets.plugins.plugin_utils._listening import bracketed, parse_ip

DEFAULT_EPHEMERAL = (32768, 60999)     # Linux's default net.ipv4.ip_local_port_range
_BOUND_STATES = ('LISTEN', 'UNCONN')
_NOT_FLOWS = ('LISTEN', 'UNCONN', 'TIME-WAIT', 'UNKNOWN')
_UNIX_AUTOBIND = re.compile(r'@[0-9a-f]{5}\Z')
_DIFF_KEYS = ('netid', 'state', 'family', 'local_address', 'local_port')
_FLOW_KEYS = _DIFF_KEYS + ('peer_address', 'peer_port')
# Every key the comparison reads, and what its value must be when present (null is always allowed): a snapshot
# from a file (a baseline) is checked against this before anything is compared, so that a bad value is named
# rather than met as a Python error halfway through.
_STRING, _INTEGER, _BOOLEAN, _LIST, _OBJECT = 'a string', 'an integer', 'a boolean', 'a list', 'an object'
_VALUE_TYPES = (
    ('netid', _STRING), ('state', _STRING), ('family', _STRING), ('local_address', _STRING),
    ('local_port', _INTEGER), ('peer_address', _STRING), ('peer_port', _INTEGER), ('interface', _STRING),
    ('v6only', _BOOLEAN), ('uid', _INTEGER), ('user', _STRING), ('processes', _LIST), ('netns', _STRING),
    ('unit', _OBJECT), ('container', _OBJECT), ('package', _OBJECT), ('origin_unknown', _OBJECT),
)
# Inside the origin fields (docs/records.md): what the comparison reads of each, and its kind (null always allowed).
_ORIGIN_VALUE_TYPES = (
    ('unit', (('name', _STRING), ('manager', _STRING), ('uid', _INTEGER), ('service', _STRING))),
    ('container', (('runtime', _STRING), ('id', _STRING), ('name', _STRING), ('pod', _STRING),
                   ('namespace', _STRING), ('container', _STRING))),
    ('package', (('name', _STRING), ('manager', _STRING))),
)


def _type_problem(value: object, wanted: str) -> str | None:
    """'expected ..., got ...' when `value` (not null) is not of the `wanted` kind, else None."""
    if wanted is _STRING:
        good = isinstance(value, str)
    elif wanted is _INTEGER:
        good = is_int(value)
    elif wanted is _BOOLEAN:
        good = isinstance(value, bool)
    elif wanted is _OBJECT:
        good = isinstance(value, Mapping)
    else:
        good = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    return None if good else 'expected %s or null, got %s' % (wanted, type_name(value))


def record_problem(record: object, required: Sequence[str]) -> tuple[str, str] | None:
    """(key path, problem) for the first thing in one record that the comparison cannot read, or None.

    The key path is '' for the record itself, '.local_port' or '.processes[2].name' inside it."""
    if not isinstance(record, Mapping):
        return '', 'expected a socket record (a dict), got %s' % type_name(record)
    missing = [key for key in required if key not in record]
    if missing:
        return '', 'not a socket record: no %s (a record from netaudit.sockets.socket_facts has them all)' % (
            ', '.join('"%s"' % key for key in missing))
    for key, wanted in _VALUE_TYPES:
        value = record.get(key)
        if value is not None:
            problem = _type_problem(value, wanted)
            if problem:
                return '.' + key, problem
    for key, fields in _ORIGIN_VALUE_TYPES:
        origin = record.get(key)
        if origin is None:
            continue
        for field, wanted in fields:
            value = origin.get(field)
            problem = None if value is None else _type_problem(value, wanted)
            if problem:
                return '.%s.%s' % (key, field), problem
    for index, process in enumerate(record.get('processes') or ()):
        if not isinstance(process, Mapping):
            return '.processes[%d]' % index, 'expected a process (a dict with a name), got %s' % type_name(process)
        name = process.get('name')
        if name is not None and not isinstance(name, str):
            return '.processes[%d].name' % index, 'expected a string or null, got %s' % type_name(name)
    return None


def check_snapshot(records: Sequence[object], argument: str, required: Sequence[str] = _DIFF_KEYS) -> None:
    """Raise PolicyError naming the first record, key and problem (`argument[3].local_port: expected an integer or
    null, got a list`) of a snapshot that socket_diff cannot compare; one pass over the records."""
    for index, record in enumerate(records):
        found = record_problem(record, required)
        if found:
            raise PolicyError('%s[%d]%s: %s' % (argument, index, found[0], found[1]))


def _ephemeral_range(value: object) -> tuple[int, int]:
    if value is None:
        return DEFAULT_EPHEMERAL
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        value = '%s-%s' % tuple(value)
    low, high = parse_port_range(value if not is_int(value) else str(value), 'ephemeral_range')
    return low, high


def _endpoint(address: str | None, port: object) -> str:
    return '%s:%s' % (bracketed(address or '*'), '*' if port is None else port)


def _bind_text(record: Mapping[str, Any]) -> str:
    address = record.get('local_address') or ''
    text = bracketed(address) if record.get('family') in INET_FAMILIES else (address or '*')
    if record.get('interface'):
        text += '%' + record['interface']
    if record.get('family') == 'inet6':
        ip = parse_ip(address)
        if ip is not None and ip.is_unspecified and record.get('v6only') is not True:
            text += ' (dual stack)'
    return text


def _owner_names(record: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(set(p.get('name') for p in record.get('processes') or () if p.get('name') is not None)))


def _user_text(record: Mapping[str, Any]) -> str | None:
    if record.get('user') is not None:
        return str(record['user'])
    return None if record.get('uid') is None else str(record['uid'])


class _Group(object):
    """The sockets of one stable identity in one snapshot, and what is compared: binds, owners, users."""

    def __init__(self, key: tuple[Any, ...], ident: str, kind: str, record: Mapping[str, Any], port: int | None) -> None:
        self.key, self.id, self.kind = key, ident, kind
        self.proto, self.netns, self.port = record.get('netid'), record.get('netns'), port
        self.ephemeral = port is None and kind == 'listening'
        self.binds: set[str] = set()
        self.processes: set[str] = set()
        self.users: set[str] = set()
        self.origins = dict((field, _origin_identity.Origin()) for field in _origin_identity.ORIGIN_FIELDS)
        self.count = 0

    def add(self, record: Mapping[str, Any]) -> None:
        self.count += 1
        if self.kind == 'listening':
            self.binds.add(_bind_text(record))
        self.processes.update(_owner_names(record))
        user = _user_text(record)
        if user is not None:
            self.users.add(user)
        for field, origin in self.origins.items():
            origin.add(field, record)

    def state(self) -> dict[str, list[str]]:
        return {'binds': sorted(self.binds), 'processes': sorted(self.processes), 'users': sorted(self.users)}

    def entry(self) -> dict[str, Any]:
        entry = {'id': self.id, 'kind': self.kind, 'proto': self.proto, 'netns': self.netns, 'port': self.port,
                 'ephemeral': self.ephemeral, 'sockets': self.count}
        entry.update(self.state())
        for field in _origin_identity.ORIGIN_FIELDS:
            entry[_origin_identity.PLURAL[field]] = self.origins[field].texts()
        entry['origin_unknown'] = dict((field, sorted(origin.unknown)) for field, origin in self.origins.items()
                                       if origin.unknown)
        return entry

    def order(self) -> tuple[Any, ...]:
        return (self.kind != 'listening', self.netns or '', self.proto or '', self.port is None, self.port or 0, self.id)


def _identities(records: Sequence[Mapping[str, Any]], established: bool, ephemeral: bool,
                port_range: tuple[int, int]) -> dict[tuple[Any, ...], _Group]:
    """{identity: _Group} of one snapshot."""
    low, high = port_range
    listening_ports = set()
    for record in records:
        if record['state'] in _BOUND_STATES and record['family'] in INET_FAMILIES and is_int(record['local_port']):
            listening_ports.add((record.get('netns'), record['netid'], record['local_port']))
    groups: dict[tuple[Any, ...], _Group] = {}
    for record in records:
        state, family, proto, netns = record['state'], record['family'], record['netid'], record.get('netns')
        prefix = 'netns %s: ' % netns if netns else ''
        port = record['local_port']
        key: tuple[Any, ...]
        if state in _BOUND_STATES:
            if family in INET_FAMILIES:
                if not is_int(port) or port <= 0:
                    continue            # an unbound socket listens on nothing
                where = '%s/%d' % (proto, port)
                is_ephemeral = not ephemeral and low <= port <= high
            else:
                address = record['local_address'] or ''
                where = '%s %s' % (proto, address or '*') if family == 'unix' else '%s %s:%s' % (proto, address, port)
                is_ephemeral = not ephemeral and (
                    (family == 'unix' and (not address or _UNIX_AUTOBIND.match(address) is not None))
                    or (family == 'netlink' and port not in (0, None))       # netlink port ids are process ids
                    or (family == 'vsock' and is_int(port) and port > 1023))
            if is_ephemeral:
                # The port (or name) changes on every restart: the owners say which socket it is.
                owners = _owner_names(record)
                base = '%s/ephemeral' % proto if family in INET_FAMILIES else '%s ephemeral' % proto
                where = '%s(%s)' % (base, ','.join(owners) or 'owner unknown')
                key = ('listening', netns, proto, family in INET_FAMILIES, None, owners)
                group_port = None
            else:
                key = ('listening', netns, proto, family in INET_FAMILIES, where, ())
                group_port = port if family in INET_FAMILIES else None
            kind = 'listening'
        elif established and state not in _NOT_FLOWS:
            local, peer = record['local_address'], record['peer_address']
            if family in INET_FAMILIES:
                lport, pport = port, record['peer_port']
                if not ephemeral:
                    if (netns, proto, lport) in listening_ports:
                        pport = None        # the server side: its clients' ports are ephemeral
                    else:
                        lport = None        # the client side: its own port is ephemeral
                where = '%s %s -> %s' % (proto, _endpoint(local, lport), _endpoint(peer, pport))
                key = ('flow', netns, proto, local, lport, peer, pport)
            else:
                where = '%s %s -> %s' % (proto, local or '*', peer or '*')
                key = ('flow', netns, proto, local, None, peer, None)
            kind, group_port = 'flow', None
        else:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key, prefix + where, kind, record, group_port)
        group.add(record)
    return groups


def socket_diff(baseline: object, current: object, established: object = False, ephemeral: object = False,
                ephemeral_range: object = None) -> dict[str, Any]:
    """What opened, closed and changed between two snapshots of one host, by stable socket identity."""
    before, _meta = socket_records(baseline, 'baseline')
    after, _meta = socket_records(current, 'current')
    established = parse_boolean(established, 'established')
    ephemeral = parse_boolean(ephemeral, 'ephemeral')
    port_range = _ephemeral_range(ephemeral_range)
    keys = _FLOW_KEYS if established else _DIFF_KEYS
    check_snapshot(before, 'baseline', keys)
    check_snapshot(after, 'current', keys)
    old = _identities(before, established, ephemeral, port_range)
    new = _identities(after, established, ephemeral, port_range)
    opened = sorted((new[k] for k in new if k not in old), key=_Group.order)
    closed = sorted((old[k] for k in old if k not in new), key=_Group.order)
    changed: list[dict[str, Any]] = []
    cannot_tell: list[dict[str, Any]] = []
    unchanged = 0
    for group in sorted((new[k] for k in new if k in old), key=_Group.order):
        was, now = old[group.key].state(), group.state()
        differences = [name for name in ('binds', 'processes', 'users') if was[name] != now[name]]
        moved, doubts = _origin_identity.compare_origins(old[group.key].origins, group.origins)
        if doubts:
            cannot_tell.append({'id': group.id, 'kind': group.kind, 'why': doubts})
        if moved:
            differences.append('origin')
        if differences:
            change = {'id': group.id, 'kind': group.kind, 'changes': differences,
                      'before': old[group.key].entry(), 'after': group.entry()}
            if moved:
                source, target = _origin_identity.side_text(old[group.key].origins, moved), _origin_identity.side_text(group.origins, moved)
                change['moved'] = {'fields': moved, 'from': source, 'to': target,
                                   'text': '%s moved from %s to %s' % (group.id, source, target)}
            changed.append(change)
        else:
            unchanged += 1
    # Host strings leave cleaned (invalid UTF-8 as \xNN, no lone surrogate), so the result always encodes as JSON.
    return _hoststr.clean_tree({
        'opened': [g.entry() for g in opened],
        'closed': [g.entry() for g in closed],
        'changed': changed,
        'unchanged': unchanged,
        'cannot_tell': cannot_tell,
        'drift': bool(opened or closed or changed),
    })
