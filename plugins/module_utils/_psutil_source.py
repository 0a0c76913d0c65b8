# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: socket records from psutil.net_connections(), for hosts without sock_diag."""

from __future__ import annotations

import errno
import os
import socket
import traceback
from typing import Any, Iterable

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._records import FIELDS, Record, inet_address_text, new_record
from ansible_collections.netaudit.sockets.plugins.module_utils._table_names import NETIDS, resolve

# The tables psutil lists, and the psutil kind that holds each; it cannot list the others (_table_names.TABLES).
TABLE_KINDS = {'tcp': 'tcp', 'udp': 'udp', 'unix_stream': 'unix', 'unix_dgram': 'unix', 'unix_seqpacket': 'unix'}

# psutil's CONN_* status strings -> the state names ss prints. CLOSE is TCP_CLOSE, which ss calls UNCONN;
# IDLE and BOUND are Solaris's names for a bound, unconnected socket; NONE (UDP, unix) is decided by the peer.
STATES = {
    'ESTABLISHED': 'ESTAB', 'SYN_SENT': 'SYN-SENT', 'SYN_RECV': 'SYN-RECV', 'FIN_WAIT1': 'FIN-WAIT-1',
    'FIN_WAIT2': 'FIN-WAIT-2', 'TIME_WAIT': 'TIME-WAIT', 'CLOSE': 'UNCONN', 'CLOSE_WAIT': 'CLOSE-WAIT',
    'LAST_ACK': 'LAST-ACK', 'LISTEN': 'LISTEN', 'CLOSING': 'CLOSING', 'IDLE': 'UNCONN', 'BOUND': 'UNCONN',
}
# Fields psutil never gives: always null in its records.
LOST_FIELDS = ('recv_q', 'send_q', 'inode', 'uid', 'user')
LOST_INET_FIELDS = ('interface', 'v6only', 'mark', 'cgroup_id', 'port_locked')   # interface: only an IPv6 scope, where shown

_UNIX_NETIDS: dict[int, str] = {socket.SOCK_STREAM: 'u_str', socket.SOCK_DGRAM: 'u_dgr', socket.SOCK_SEQPACKET: 'u_seq'}
_INET_NETIDS: dict[int, str] = {socket.SOCK_STREAM: 'tcp', socket.SOCK_DGRAM: 'udp'}
_AF_UNIX = getattr(socket, 'AF_UNIX', None)
_WILDCARD: dict[int, str] = {socket.AF_INET: '0.0.0.0', socket.AF_INET6: '::'}

# psutil takes ~25 ms to import: it is imported on first use, so only the psutil backend pays for it.
_LOADED: dict[str, Any] = {}


class PsutilError(NetauditError, OSError):
    """psutil is missing, or it could not list the sockets (errno set: EACCES when it needs root)."""


def _load() -> tuple[Any, str | None]:
    """(the psutil module or None, the import traceback or None), imported once."""
    if not _LOADED:
        try:
            import psutil
        except (ImportError, NotImplementedError):    # NotImplementedError: a platform psutil does not support
            _LOADED.update(module=None, error=traceback.format_exc())
        else:
            _LOADED.update(module=psutil, error=None)
    return _LOADED['module'], _LOADED['error']


def __getattr__(name: str) -> Any:
    """HAS_PSUTIL and PSUTIL_IMPORT_ERROR (for missing_required_lib), computed on first access (PEP 562)."""
    if name == 'HAS_PSUTIL':
        return _load()[0] is not None
    if name == 'PSUTIL_IMPORT_ERROR':
        return _load()[1]
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


def plan(tables: Iterable[object]) -> tuple[list[str], list[str], list[str]]:
    """(netids to keep, psutil kinds to ask for, problems) for table names as `ss -A` takes them (resolved one name
    at a time by _table_names.resolve, which raises TableError, a ValueError, for a name it does not take)."""
    netids: list[str] = []
    kinds: set[str] = set()
    problems: list[str] = []
    for name in tables:
        found = resolve([name])[0]
        missing = [table for table in found if table not in TABLE_KINDS]
        for table in found:
            if table in TABLE_KINDS and NETIDS[table] not in netids:
                netids.append(NETIDS[table])
                kinds.add(TABLE_KINDS[table])
        if missing:
            what = 'table %s' % name if missing == found else 'tables %s (of %s)' % (', '.join(missing), name)
            problems.append('%s: psutil cannot list these sockets, so none are reported (the netlink and proc backends '
                            'read them on Linux)' % what)
    asked: Iterable[str] = kinds
    if kinds == {'tcp', 'udp', 'unix'}:
        asked = ['all']
    elif {'tcp', 'udp'} <= kinds:
        asked = ['inet'] + sorted(kinds - {'tcp', 'udp'})
    return netids, sorted(asked), problems


def _inet_endpoint(family: int, address: Any) -> tuple[str, int, str | None]:
    """(address, port, scope) of a psutil inet address: addr(ip, port), () for none, 'ip%scope' kept apart."""
    if not address:
        return _WILDCARD[family], 0, None
    host, port = address[0], address[1]
    scope = None
    if isinstance(host, bytes):
        host = host.decode('ascii', 'replace')
    if '%' in host:
        host, scope = host.split('%', 1)
        if scope.isdigit():
            try:
                scope = socket.if_indextoname(int(scope))
            except OSError:
                scope = 'if' + scope
    if host in ('', '*'):
        return _WILDCARD[family], int(port or 0), scope
    try:
        packed = socket.inet_pton(family, host)
    except (OSError, ValueError):
        if family == socket.AF_INET6 and '.' in host and ':' not in host:
            return '::ffff:' + host, int(port or 0), scope    # some platforms print a v4-mapped peer as plain IPv4
        return host, int(port or 0), scope      # not an address we can read: shown as psutil gave it
    return inet_address_text(family, packed), int(port or 0), scope


def _unix_path(address: str | bytes | None) -> str:
    if not address:
        return ''
    if isinstance(address, bytes):
        address = address.decode('utf-8', 'backslashreplace')
    if address.startswith('\0'):
        return '@' + address[1:].replace('\0', '@')     # an abstract name, written as ss writes it
    return address


class _Owners(object):
    """pid -> process name, cached; vanished processes are no owners, unreadable names are '?'."""

    def __init__(self, psutil: Any) -> None:
        self.psutil = psutil
        self.names: dict[int, str | None] = {}
        self.denied: set[int] = set()
        self.unknown = 0
        self.root = hasattr(os, 'geteuid') and os.geteuid() == 0

    def owners(self, pid: int | None, fd: object) -> list[dict[str, Any]]:
        if pid is None:
            return []
        try:
            name = self.names[pid]
        except KeyError:
            name = self.names[pid] = self._name(pid)
        if name is None:
            return []
        return [{'name': name, 'pid': pid, 'fd': fd if isinstance(fd, int) and fd >= 0 else None}]

    def unknown_reason(self, pid: int | None, state: str) -> str:
        """owner_unknown of an entry without owner: TIME-WAIT is the kernel's; a pid that vanished exited; no pid is
        an owner out of sight when not root (psutil cannot inspect other users' processes), else one that exited."""
        if state == 'TIME-WAIT':
            return 'kernel'
        if pid is None and not self.root:
            return 'not_visible'
        return 'exited'

    def _name(self, pid: int) -> str | None:
        psutil = self.psutil
        try:
            return psutil.Process(pid).name()
        except psutil.NoSuchProcess:     # ZombieProcess is one too: a zombie holds no sockets
            return None
        except psutil.AccessDenied:
            self.denied.add(pid)
            return '?'


def _state(netid: str, status: str | None, has_peer: bool) -> str:
    state = STATES.get(status) if status else None
    if state is not None:
        return state
    if netid in ('udp', 'u_dgr') or (netid == 'tcp' and status in ('NONE', '', None)):
        return 'ESTAB' if has_peer else 'UNCONN'
    return 'UNKNOWN'


def _to_records(connections: Iterable[Any], netids: list[str], owners: _Owners | None) -> tuple[list[Record], int]:
    """Records of the psutil entries whose netid is wanted; counts sockets that show no owner."""
    records = []
    unowned = 0
    for conn in connections:
        family = int(conn.family)
        if family == _AF_UNIX:
            netid = _UNIX_NETIDS.get(int(conn.type))
            if netid not in netids:
                continue
            local, peer = _unix_path(conn.laddr), _unix_path(conn.raddr)
            record = new_record(netid=netid, state=_state(netid, conn.status, bool(peer)), family='unix',
                                local_address=local, peer_address=peer)
        elif family in _WILDCARD:
            netid = _INET_NETIDS.get(int(conn.type))
            if netid not in netids:
                continue
            local, local_port, local_scope = _inet_endpoint(family, conn.laddr)
            peer, peer_port, peer_scope = _inet_endpoint(family, conn.raddr)
            record = new_record(netid=netid, state=_state(netid, conn.status, bool(peer_port)),
                                family='inet6' if family == socket.AF_INET6 else 'inet',
                                local_address=local, local_port=local_port, peer_address=peer, peer_port=peer_port,
                                interface=local_scope or peer_scope)
        else:
            continue
        if owners is None:
            record['owner_unknown'] = 'not_gathered'
        else:
            record['processes'] = owners.owners(conn.pid, getattr(conn, 'fd', None))
            if not record['processes']:
                record['owner_unknown'] = owners.unknown_reason(conn.pid, record['state'])
            unowned += not record['processes'] and record['state'] != 'TIME-WAIT'
        records.append(record)
    return records, unowned


def _lost_fields(netids: list[str]) -> list[str]:
    lost = set(LOST_FIELDS)
    if 'tcp' in netids or 'udp' in netids:
        lost.update(LOST_INET_FIELDS)
    if 'u_str' in netids or 'u_seq' in netids:
        lost.add('state')
    return [field for field in FIELDS if field in lost]


def gather_psutil(tables: Iterable[object], processes: bool = True,
                  psutil_module: Any = None) -> tuple[list[Record], list[str], list[str]]:
    """Socket records from psutil.net_connections() for the given tables (tcp, udp, inet, unix, unix_stream,
    unix_dgram, unix_seqpacket and their ss aliases; raw, sctp, packet, netlink ... are not in psutil: each is a
    problem, not an error). Records have every key of _records.FIELDS; what psutil cannot tell is null.

    Returns (records, lost_fields, problems): lost_fields are the record keys psutil never fills here (the caller
    marks the facts incomplete for them), problems are sentences saying what else is partial. psutil_module
    replaces the real psutil (tests). Raises PsutilError when psutil is missing or refuses to list sockets.
    """
    psutil = psutil_module
    if psutil is None:
        psutil, error = _load()
        if psutil is None:
            raise PsutilError(errno.ENOENT, 'the psutil backend needs the Python library psutil on the managed host; '
                              'importing it failed: %s' % str(error).strip().splitlines()[-1])
    netids, kinds, problems = plan(tables)
    owners = _Owners(psutil) if processes else None
    records = []
    unowned = 0
    for kind in kinds:
        try:
            connections = psutil.net_connections(kind=kind)
        except psutil.AccessDenied as exc:
            raise PsutilError(errno.EACCES, 'psutil.net_connections(kind=%r) was refused (access denied): on this '
                              'system listing sockets needs root (become: true)' % kind) from exc
        except getattr(psutil, 'Error', ()) as exc:
            raise PsutilError(errno.EIO, 'psutil.net_connections(kind=%r) failed: %s' % (kind, exc)) from exc
        found, missing_owner = _to_records(connections, netids, owners)
        records.extend(found)
        unowned += missing_owner
    records.sort(key=_sort_key)

    if 'u_str' in netids or 'u_seq' in netids:
        problems.append('psutil does not tell the state of unix stream and seqpacket sockets: they show UNKNOWN')
    if owners is not None:
        problems.append('psutil names one owner per entry (ss lists every process that holds a socket): a socket '
                        'shared by several processes shows only one of them, or appears once per owner')
        if unowned and hasattr(os, 'geteuid') and os.geteuid() != 0:
            problems.append('not root: psutil could not tell the owner of %d sockets (the processes of other users '
                            'cannot be inspected), so they show no owner' % unowned)
        if owners.denied:
            problems.append('the names of %d processes could not be read (access denied): they show as "?"'
                            % len(owners.denied))
    return records, _lost_fields(netids), problems


def _sort_key(record: Record) -> tuple[Any, ...]:
    return (record['netid'], record['family'], record['local_address'], record['local_port'] or 0,
            record['peer_address'], record['peer_port'] or 0, [p['pid'] for p in record['processes']])
