# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: which sockets listen, on what (stack, exposure) and whose they are, and listening_ports."""

from __future__ import annotations

import functools
import ipaddress

from collections.abc import Mapping, Sequence
from typing import Any, Union, cast

from ansible_collections.netaudit.sockets.plugins.module_utils._records import is_listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import (
    PolicyError, check_records, is_int, parse_boolean, socket_records,
)


Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@functools.lru_cache(maxsize=8192)
def parse_ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.split('%', 1)[0])
    except ValueError:
        return None


def bracketed(address: str) -> str:
    return '[%s]' % address if ':' in address else address


# Why a listening socket's owner is unknown: the record's `owner_unknown` (docs/records.md), and the words messages use.
OWNER_UNKNOWN_REASONS = {
    'not_gathered': 'processes were not gathered',
    'not_visible': 'not visible to the module',
    'exited': 'the owner exited or changed pid while the module looked',
    'kernel': 'held by the kernel, no process',
    # Facts from a version before owner_unknown: no owner, and the record does not say why.
    'unknown': 'the facts do not say why',
}


def owner_unknown(record: Mapping[str, Any], default: str | None = None) -> str | None:
    """Why the record's owner is unknown, or None when an owning process is named.

    A record names its reason in `owner_unknown`. Records without one (from before that key): an inode of 0 is the
    kernel's; any other gets `default` ('not_gathered' or 'not_visible' when socket_meta says so), else 'unknown'.
    A record that names no process is never taken as known, whatever its `owner_unknown` says.
    """
    for process in record.get('processes') or ():
        if isinstance(process, Mapping) and isinstance(process.get('name'), str):
            return None
    reason = record.get('owner_unknown')
    if isinstance(reason, str) and reason:
        return _hoststr.clean(reason)
    if reason is None and is_int(record.get('inode')) and record['inode'] == 0:
        return 'kernel'
    return default or 'unknown'


def owner_unknown_text(reason: str) -> str:
    """The words for an owner_unknown reason (an unknown reason from a newer host is shown as it is, made safe)."""
    return OWNER_UNKNOWN_REASONS.get(reason) or _hoststr.text(reason)


# The record fields the policy keys of the same name judge (docs/records.md): null with no `origin_unknown` entry is
# "none" (no unit, no container, no package); an entry, or facts without `origin_unknown`, is unknown.
ORIGIN_FIELDS = ('unit', 'container', 'package')
# The reason of a field the facts do not say anything about (facts from before `origin_unknown`), and the words for
# the reasons the host uses that are codes; every other reason is the host's own sentence, shown made safe.
ORIGIN_NOT_SAID = 'not_said'
ORIGIN_UNKNOWN_REASONS = {
    ORIGIN_NOT_SAID: 'the facts do not say (gathered before this field)',
    'not_gathered': 'not gathered',
    'not_visible': 'the owner is not visible to the module',
    'exited': 'the owner exited or changed pid while the module looked',
}


def origin_unknown(record: Mapping[str, Any], field: str) -> str | None:
    """Why the record's `field` (unit, container, package) is unknown (cleaned), or None when the facts tell it (its
    value, or null for none). Facts without an `origin_unknown` dict do not say: ORIGIN_NOT_SAID."""
    reasons = record.get('origin_unknown')
    if not isinstance(reasons, Mapping):
        return ORIGIN_NOT_SAID
    if field not in reasons:
        return None
    reason = reasons[field]
    return _hoststr.clean(reason if isinstance(reason, str) else str(reason))


def origin_unknown_text(reason: str) -> str:
    """The words for an origin_unknown reason: a code's words, else the host's sentence made safe."""
    return ORIGIN_UNKNOWN_REASONS.get(reason) or _hoststr.text(reason) or 'no reason given'


def origin_values(record: Mapping[str, Any], field: str) -> list[str]:
    """The strings a `unit`, `container` or `package` pattern is matched against (cleaned, unique, in this order):

    - unit: its `name` and its `service` (a socket unit's service);
    - container: its `name`, its `id` and the first 12 characters of it (as docker shows it), and for Kubernetes
      `namespace/pod` and `namespace/pod/container`;
    - package: each name of the list (dpkg Multi-Arch: "libc6:amd64, libc6:i386"), with and without its `:arch`.
    """
    value = record.get(field)
    if not isinstance(value, Mapping):
        return []

    def text(key: str, length: int | None = None) -> str | None:
        item = value.get(key)
        return _hoststr.clean(item[:length]) if isinstance(item, str) and item else None

    found: list[str | None] = []
    if field == 'unit':
        found = [text('name'), text('service')]
    elif field == 'container':
        namespace, pod, container = text('namespace'), text('pod'), text('container')
        found = [text('name'), text('id'), text('id', 12)]
        if namespace and pod:
            found.append('%s/%s' % (namespace, pod))
            if container:
                found.append('%s/%s/%s' % (namespace, pod, container))
    elif field == 'package':
        for name in (text('name') or '').split(','):
            name = name.strip()
            found += [name, name.split(':', 1)[0]] if name else []
    unique: list[str] = []
    for item in found:
        if item and item not in unique:
            unique.append(item)
    return unique


class Listener(object):
    """One listening socket as the policy sees it: what it listens on (IPv4 too when it is dual stack), and who owns it.

    Every string taken from the record is host data: stored cleaned (no lone surrogate, so a verdict always encodes
    as JSON), and passed through _hoststr.text() where describe() and owners_text() compose a message.
    """

    __slots__ = ('record', 'index', 'proto', 'family', 'address', 'port', 'endpoints', 'interface', 'stack',
                 'exposure', 'names', 'pids', 'user', 'uid', 'netns', 'owner_unknown')

    def __init__(self, record: Mapping[str, Any], index: int, argument: str = 'sockets',
                 unknown_default: str | None = None) -> None:
        self.record, self.index = record, index
        self.proto = _hoststr.clean(record['netid'])
        self.family = record['family']
        address = record['local_address'] or ('0.0.0.0' if self.family == 'inet' else '::')
        self.port = record['local_port']
        self.interface = _hoststr.clean(record.get('interface')) or None
        ip = parse_ip(address)
        if ip is None:
            raise PolicyError('%s[%d]: local_address "%s" is not an IP address' % (argument, index, _hoststr.text(address)))
        self.address = _hoststr.clean(address)
        ends: list[Address]
        if self.family == 'inet':
            ends = [ip] if ip.version == 4 else [ip.ipv4_mapped or ip]
        elif ip.version == 6 and ip.ipv4_mapped is not None:
            ends = [ip.ipv4_mapped]         # ::ffff:a.b.c.d takes IPv4 connections only
        elif ip.is_unspecified and record.get('v6only') is not True:
            # Dual stack: v6only false (or unknown: Linux's default net.ipv6.bindv6only=0) also listens on IPv4.
            ends = [ip, ipaddress.IPv4Address('0.0.0.0')]
        else:
            ends = [ip]
        self.endpoints = tuple(ends)
        versions = set(end.version for end in ends)
        self.stack = 'dual' if len(versions) == 2 else ('ipv4' if 4 in versions else 'ipv6')
        if self.interface == 'lo' or all(end.is_loopback for end in ends):
            self.exposure = 'loopback'
        elif any(end.is_unspecified for end in ends) and self.interface is None:
            self.exposure = 'all_interfaces'
        else:
            self.exposure = 'local_network'
        names: list[str] = []
        pids: list[int] = []
        for process in record.get('processes') or ():
            if isinstance(process, Mapping):
                name, pid = process.get('name'), process.get('pid')
                if isinstance(name, str):
                    name = _hoststr.clean(name)
                    if name not in names:
                        names.append(name)
                if is_int(pid) and pid not in pids:
                    pids.append(cast(int, pid))
        self.names, self.pids = names, sorted(pids)
        self.user, self.uid, self.netns = _hoststr.clean(record.get('user')), record.get('uid'), _hoststr.clean(record.get('netns'))
        self.owner_unknown = owner_unknown(record, unknown_default)

    def owner_values(self, field: str, kind: type = str) -> list[Any]:
        """The unique values of one field of the owning processes ('name', 'pid'; policy keys such as 'unit' later),
        in the order of the record; strings cleaned, values of another type left out."""
        found = []
        for process in self.record.get('processes') or ():
            if isinstance(process, Mapping):
                value = process.get(field)
                if (kind is int and not is_int(value)) or (kind is str and not isinstance(value, str)):
                    continue
                value = _hoststr.clean(value)
                if value not in found:
                    found.append(value)
        return found

    def origin_values(self, field: str) -> list[str]:
        """The strings a `unit`, `container` or `package` pattern is matched against (see origin_values())."""
        return origin_values(self.record, field)

    def origin_unknown(self, field: str) -> str | None:
        """Why this socket's `unit`, `container` or `package` is unknown, or None when the facts tell it."""
        return origin_unknown(self.record, field)

    def endpoint_text(self) -> str:
        """ss's spelling of the local end: 0.0.0.0:22, [::]:22, 127.0.0.1%lo:22 (cleaned host data, not escaped)."""
        return '%s%s:%d' % (bracketed(self.address), '%' + self.interface if self.interface else '', self.port)

    def port_text(self, with_address: bool = False, with_family: bool = False) -> str:
        """tcp/22, tcp46/22 (dual stack; tcp4, tcp6), tcp/22@[::], tcp/22@127.0.0.1%lo."""
        family = {'ipv4': '4', 'ipv6': '6', 'dual': '46'}[self.stack] if with_family else ''
        text = '%s%s/%d' % (self.proto, family, self.port)
        if with_address:
            text += '@' + bracketed(self.address) + ('%' + self.interface if self.interface else '')
        return text

    def owners_text(self) -> str:
        """sshd pid 712, user root; or: owner unknown: not visible to the module, user root. Safe for a terminal."""
        owners = ', '.join('%s pid %s' % (_hoststr.text(p.get('name')), _hoststr.text(p.get('pid')))
                           for p in self.record.get('processes') or () if isinstance(p, Mapping))
        if self.owner_unknown is not None:
            who = 'owner unknown: ' + owner_unknown_text(self.owner_unknown)
        else:
            who = owners or 'owner unknown'
        if self.user is not None or self.uid is not None:
            who += ', user %s' % _hoststr.text(self.user if self.user is not None else self.uid)
        return who

    def describe(self, keys: Sequence[str] = ()) -> str:
        """tcp 0.0.0.0:22 in netns blue (sshd pid 712, user root): every piece of host data through _hoststr.text().
        `keys`, the origin keys of the rule being reported (unit, container, package), add what the socket has for
        each, or why it is unknown: (sshd pid 712, user root; unit ssh.service; container unknown: REASON)."""
        netns = ' in netns %s' % _hoststr.text(self.netns) if self.netns else ''
        who = [self.owners_text()] + [self.origin_text(key) for key in keys if key in ORIGIN_FIELDS]
        return '%s %s%s (%s)' % (_hoststr.text(self.proto), _hoststr.text(self.endpoint_text()), netns, '; '.join(who))

    def origin_text(self, field: str) -> str:
        """unit ssh.socket (service ssh.service), container docker web, container kubernetes prod/api-1/nginx,
        package openssh-server, no unit, unit unknown: REASON. Safe for a terminal."""
        reason = self.origin_unknown(field)
        value = self.record.get(field)
        if not isinstance(value, Mapping):
            return '%s unknown: %s' % (field, origin_unknown_text(reason)) if reason is not None else 'no ' + field

        def text(key: str, length: int | None = None) -> str:
            item = value.get(key)
            return _hoststr.text(item[:length]) if isinstance(item, str) and item else ''

        if field == 'unit':
            shown = text('name') or '?'
            if text('service') and text('service') != text('name'):
                shown += ' (service %s)' % text('service')
        elif field == 'container':
            kubernetes = '/'.join(part for part in (text('namespace'), text('pod'), text('container')) if part)
            shown = ' '.join(part for part in (text('runtime'), text('name') or kubernetes or text('id', 12)) if part) or '?'
        else:
            shown = text('name') or '?'
        if reason is not None:
            shown += ' (in part unknown: %s)' % origin_unknown_text(reason)
        return '%s %s' % (field, shown)

    def summary(self) -> dict[str, Any]:
        return {
            'id': self.port_text(with_address=True), 'proto': self.proto, 'family': self.family,
            'address': self.address, 'port': self.port, 'interface': self.interface, 'endpoint': self.endpoint_text(),
            'stack': self.stack, 'exposure': self.exposure, 'state': _hoststr.clean(self.record.get('state')),
            'processes': list(self.names), 'pids': list(self.pids), 'user': self.user, 'uid': self.uid,
            'netns': self.netns, 'inode': _hoststr.clean(self.record.get('inode')), 'owner_unknown': self.owner_unknown,
            'unit': _origin_value(self.record, 'unit'), 'container': _origin_value(self.record, 'container'),
            'package': _origin_value(self.record, 'package'),
            'origin_unknown': dict((field, reason) for field, reason in (
                (field, self.origin_unknown(field)) for field in ORIGIN_FIELDS) if reason is not None),
        }


def _origin_value(record: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """The record's `unit`, `container` or `package` for a socket entry: its dict, strings cleaned; else None."""
    value = record.get(field)
    return _hoststr.clean_tree(dict(value)) if isinstance(value, Mapping) else None


_LISTEN_KEYS = ('netid', 'state', 'family', 'local_address', 'local_port')


def listeners(records: Sequence[Any], argument: str = 'sockets', unknown_default: str | None = None) -> list[Listener]:
    """The listening sockets of `records`, as Listeners; `unknown_default` is the owner_unknown reason of records
    from before that key that name no process (see owner_unknown())."""
    check_records(records, _LISTEN_KEYS, argument)
    found = []
    for index, record in enumerate(records):
        if is_listening(record):
            found.append(Listener(record, index, argument, unknown_default))
    return found


def listening_ports(sockets: object, with_address: object = False, with_family: object = False) -> list[str]:
    """Sorted unique proto/port strings of the listening sockets: tcp/22, udp/53 (options: tcp46/22@[::])."""
    records, _meta = socket_records(sockets)
    with_address = parse_boolean(with_address, 'with_address')
    with_family = parse_boolean(with_family, 'with_family')
    keyed: dict[str, tuple[Any, ...]] = {}
    for listener in listeners(records):
        text = listener.port_text(with_address, with_family)
        ip = listener.endpoints[0]
        key = (listener.proto, listener.port, ip.version, len(listener.endpoints), ip.packed, listener.interface or '', text)
        keyed[text] = min(key, keyed.get(text, key))
    return sorted(keyed, key=keyed.__getitem__)
