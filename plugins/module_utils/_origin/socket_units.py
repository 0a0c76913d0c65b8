# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: socket activation. Which `.socket` unit of a systemd manager declares a listening
socket the manager holds, and which service it starts.

A manager's `.socket` units are read from its unit files and drop-ins (unit_files.py; systemctl is never run). In
their [Socket] section, `ListenStream=`, `ListenDatagram=` and `ListenSequentialPacket=` add an address each (an
empty one clears the list), written as a port alone (`22`: `[::]:22`, or `0.0.0.0:22` on a host without IPv6),
`a.b.c.d:port`, `[v6]:port` (with `%dev` after the port or the address), `/path`, `@abstract`, `vsock:CID:PORT`.
`SocketProtocol=` turns streams into sctp or mptcp, `BindIPv6Only=` decides whether `[::]` takes IPv4,
`BindToDevice=` binds to a device. The service is `Service=`, else the socket's own name with `.service`, or the
template `NAME@.service` with `Accept=yes` (one instance per connection).

A record matches a unit when table, address, port (or path) and device agree. Two units that declare it, or none,
leave the unit unknown with the reason; units that could not be read are named in it. A value systemd would have
refused (a bad address, an unknown %-specifier) makes the whole unit unknown rather than half-read.
"""

from __future__ import annotations

import re
import socket
from typing import Dict, List, NamedTuple, Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import units
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.managers import Manager
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.unit_files import LoadedUnit, UnitFiles

_KINDS = {'ListenStream': 'stream', 'ListenDatagram': 'datagram', 'ListenSequentialPacket': 'seqpacket'}
_UNIX_NETIDS = {'stream': 'u_str', 'datagram': 'u_dgr', 'seqpacket': 'u_seq'}
_INET_NETIDS = {('stream', ''): 'tcp', ('stream', 'tcp'): 'tcp', ('stream', 'sctp'): 'sctp',
                ('stream', 'mptcp'): 'mptcp', ('datagram', ''): 'udp', ('datagram', 'udp'): 'udp'}
_VSOCK_NETIDS = {'stream': 'v_str', 'datagram': 'v_dgr'}
_BOOLEANS = {'1': True, 'yes': True, 'y': True, 'true': True, 't': True, 'on': True,
             '0': False, 'no': False, 'n': False, 'false': False, 'f': False, 'off': False}
_IFNAME = re.compile(r'\A[^/:\s%]{1,15}\Z')
_EXPANDED = ('ListenStream', 'ListenDatagram', 'ListenSequentialPacket', 'Service')
UNIX_PATH_MAX = 108


class Listen(NamedTuple):
    """One address a unit listens on: `netid` (a table name of the records); `address` (canonical text, a unix
    path or @name, a CID) or None for a port alone; `port` (None for unix); `interface` from `%dev`."""
    kind: str
    address: Optional[str]
    port: Optional[int]
    interface: Optional[str]
    text: str


class SocketUnit(NamedTuple):
    name: str
    service: Optional[str]
    listens: List[Listen]
    bind_ipv6_only: str
    bind_to_device: Optional[str]
    protocol: str
    problem: Optional[str]


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError('"%s" is not a port' % text)
    return int(text)


def _inet(family: int, text: str) -> str:
    packed = socket.inet_pton(family, text)     # OSError for anything but the strict forms systemd takes
    return _records.inet_address_text(family, packed)


def parse_listen(kind: str, value: str) -> Listen:
    """One Listen*= value; raises ValueError saying why systemd would refuse it."""
    if value.startswith('/'):
        if len(value.encode('utf-8')) >= UNIX_PATH_MAX:
            raise ValueError('the path is longer than a unix socket path can be')
        return Listen(kind, value, None, None, value)
    if value.startswith('@'):
        if len(value.encode('utf-8')) > UNIX_PATH_MAX:
            raise ValueError('the abstract name is longer than a unix socket name can be')
        return Listen(kind, value, None, None, value)
    if value.startswith('vsock:'):
        cid, colon, port = value[6:].rpartition(':')
        if not colon or (cid and not cid.isdigit()):
            raise ValueError('not vsock:CID:PORT')
        return Listen(kind, cid or '*', _port(port), None, value)
    if value.isdigit():
        return Listen(kind, None, _port(value), None, value)
    if '#' in value:
        raise ValueError('a server name (#) has no place in a listening address')
    address, interface = value, None
    if value.startswith('[') and '%' in value.partition(']')[0]:      # [v6%dev]:port
        inside, _bracket, rest = value[1:].partition(']')
        address, _percent, interface = inside.partition('%')
        address = '[%s]%s' % (address, rest)
    elif '%' in value:                                                # [v6]:port%dev, a.b.c.d:port%dev
        address, _percent, interface = value.partition('%')
    if interface is not None and not _IFNAME.match(interface):
        raise ValueError('"%s" is not a device name' % interface)
    host, colon, port = address.rpartition(':')
    if not colon:
        raise ValueError('no port')
    try:
        if host.startswith('[') and host.endswith(']'):
            return Listen(kind, _inet(socket.AF_INET6, host[1:-1]), _port(port), interface, value)
        return Listen(kind, _inet(socket.AF_INET, host), _port(port), interface, value)
    except OSError:
        raise ValueError('"%s" is not an IPv4 address or a bracketed IPv6 address' % host) from None


def expand_specifiers(value: str, name: str, table: Dict[str, str]) -> str:
    """value with systemd's %-specifiers replaced: those of the unit's name, and the manager's (table); raises
    ValueError naming one this module does not know (hostname, machine id ...)."""
    prefix = units.unit_prefix(name)
    instance = units.unit_instance(name) or ''
    last = prefix.rpartition('-')[2]
    own = {'%': '%', 'n': name, 'N': name.rpartition('.')[0], 'p': prefix, 'P': units.unescape_instance(prefix),
           'i': instance, 'I': units.unescape_instance(instance), 'j': last, 'J': units.unescape_instance(last),
           'f': '/' + units.unescape_instance(instance or prefix)}
    out = []
    index = 0
    while index < len(value):
        char = value[index]
        if char != '%':
            out.append(char)
            index += 1
            continue
        key = value[index + 1:index + 2]
        found = own.get(key, table.get(key)) if key else None
        if found is None:
            raise ValueError('the specifier %%%s is not resolved here' % key)
        out.append(found)
        index += 2
    return ''.join(out)


def interpret(loaded: LoadedUnit, manager: Manager) -> SocketUnit:
    """The socket settings of a loaded unit, the assignments applied in order (the last one wins, an empty one
    resets)."""
    if loaded.problem:
        return SocketUnit(loaded.name, None, [], 'default', None, '', loaded.problem)
    listens: List[Listen] = []
    service = bind_to_device = None
    accept = False
    bind_ipv6_only, protocol = 'default', ''
    try:
        for section, key, value, where in loaded.assignments:
            if section != 'Socket':
                continue
            try:
                if key in _EXPANDED:
                    value = expand_specifiers(value, loaded.name, manager.specifiers)
                if key in _KINDS:
                    listens = [] if not value else listens + [parse_listen(_KINDS[key], value)]
                elif key == 'Service':
                    if value and not (value.endswith('.service') and units.valid_unit_name(value)):
                        raise ValueError('not a service name')
                    service = value or None
                elif key == 'Accept':
                    if value.lower() not in _BOOLEANS:
                        raise ValueError('not a boolean')
                    accept = _BOOLEANS[value.lower()]
                elif key == 'BindIPv6Only':
                    if value not in ('default', 'both', 'ipv6-only', ''):
                        raise ValueError('not default, both or ipv6-only')
                    bind_ipv6_only = value or 'default'
                elif key == 'BindToDevice':
                    if value and not _IFNAME.match(value):
                        raise ValueError('not a device name')
                    bind_to_device = value or None
                elif key == 'SocketProtocol':
                    if value not in ('', 'tcp', 'udp', 'udplite', 'sctp', 'mptcp'):
                        raise ValueError('not a protocol systemd takes')
                    protocol = value
            except ValueError as exc:
                raise ValueError('%s: %s=%s: %s' % (where, key, value, exc)) from None
    except ValueError as exc:
        return SocketUnit(loaded.name, None, [], bind_ipv6_only, None, '', 'unit %s: %s' % (loaded.name, exc))
    if accept:
        service = '%s@.service' % units.unit_prefix(loaded.name)
    elif service is None:
        service = loaded.name.rpartition('.')[0] + '.service'
    return SocketUnit(loaded.name, service, listens, bind_ipv6_only, bind_to_device, protocol, None)


def _netid(kind: str, listen: Listen, protocol: str) -> Optional[str]:
    if listen.address is not None and listen.address[:1] in ('/', '@'):
        return _UNIX_NETIDS[kind]
    if listen.text.startswith('vsock:'):
        return _VSOCK_NETIDS.get(kind)
    return _INET_NETIDS.get((kind, protocol))


def describe(record: dict) -> str:
    """The record's table and local address, as ss writes them ('tcp [::]:22', 'u_str /run/foo.sock')."""
    address, port = record.get('local_address'), record.get('local_port')
    if record.get('family') == 'inet6':
        address = '[%s]' % address
    return '%s %s%s' % (record.get('netid'), address, '' if port is None else ':%s' % port)


class SocketUnits:
    """The `.socket` units of one manager, indexed by what they listen on; loaded on first use."""

    def __init__(self, manager: Manager, root: str = '/', ipv6: bool = True) -> None:
        self.manager, self.root, self.ipv6 = manager, root, ipv6
        self._index: Optional[Dict[Tuple[str, object], List[Tuple[SocketUnit, Listen]]]] = None
        self.problems: List[str] = []

    def _load(self) -> Dict[Tuple[str, object], List[Tuple[SocketUnit, Listen]]]:
        files = UnitFiles(self.manager.search_path, self.root, 'socket')
        index: Dict[Tuple[str, object], List[Tuple[SocketUnit, Listen]]] = {}
        for loaded in files.load():
            unit = interpret(loaded, self.manager)
            if unit.problem:
                self.problems.append(unit.problem)
            for listen in unit.listens:
                netid = _netid(listen.kind, listen, unit.protocol)
                if netid is None:
                    continue
                key = (netid, listen.port if listen.port is not None else listen.address)
                index.setdefault(key, []).append((unit, listen))
        self.problems = files.problems + self.problems + self.manager.notes
        return index

    def _declares(self, unit: SocketUnit, listen: Listen, record: dict) -> bool:
        if record.get('family') not in _records.INET_FAMILIES:
            return listen.address == record.get('local_address') if listen.port is None else (
                listen.address in ('*', record.get('local_address')))
        if (listen.interface or unit.bind_to_device) != record.get('interface'):
            return False
        if listen.address is not None:
            return listen.address == record.get('local_address')
        if record.get('local_address') != ('::' if self.ipv6 else '0.0.0.0'):
            return False
        v6only = record.get('v6only')
        if self.ipv6 and unit.bind_ipv6_only != 'default' and v6only is not None:
            return v6only == (unit.bind_ipv6_only == 'ipv6-only')
        return True

    def match(self, record: dict) -> Tuple[Optional[SocketUnit], Optional[str]]:
        """(the unit that declares the record's socket, None), or (None, why none can be named)."""
        if self._index is None:
            self._index = self._load()
        by_port = record.get('family') in _records.INET_FAMILIES + ('vsock',)
        key: Tuple[str, object] = (record.get('netid') or '',
                                   record.get('local_port') if by_port else record.get('local_address'))
        found = [unit for unit, listen in self._index.get(key, ()) if self._declares(unit, listen, record)]
        names = sorted(set(unit.name for unit in found))
        if len(names) == 1:
            return found[0], None
        who = self.who()
        if names:
            return None, '%s is declared by more than one .socket unit of %s (%s)' % (
                describe(record), who, ', '.join(names))
        why = ('%s is held by %s, but no .socket unit along its search path declares it (a unit changed since '
               'systemd loaded it, or a socket kept in a service\'s file descriptor store)' % (describe(record), who))
        if self.problems:
            shown = self.problems[:3]
            why += '; units that could not be read: %s%s' % ('; '.join(shown), ' ...' if len(self.problems) > 3 else '')
        return None, why

    def who(self) -> str:
        if self.manager.kind == 'system':
            return 'the system manager (pid 1)'
        return 'the user manager of uid %s (pid %d)' % (self.manager.uid, self.manager.pid)

    def own_socket(self, record: dict) -> bool:
        """A unix socket in the manager's own runtime folder (`/run/systemd/private`, `notify` ...): the manager's,
        when no unit declares it. Only root (or the user, in their runtime folder) can make a socket there."""
        address = record.get('local_address') or ''
        return record.get('family') == 'unix' and address.startswith(self.manager.runtime_dir.rstrip('/') + '/systemd/')


def unit_record(unit: SocketUnit, manager: Manager) -> Dict[str, object]:
    return {'name': unit.name, 'manager': manager.kind, 'uid': manager.uid, 'service': unit.service}


def may_be_activated(record: dict) -> bool:
    """A socket a manager could have made for a .socket unit: listening inet sockets (_records.is_listening), unix
    and vsock sockets in LISTEN, and bound unix datagram sockets."""
    if _records.is_listening(record):
        return True
    family, state = record.get('family'), record.get('state')
    if family in ('unix', 'vsock') and state == 'LISTEN':
        return True
    return family == 'unix' and record.get('netid') == 'u_dgr' and bool(record.get('local_address'))
