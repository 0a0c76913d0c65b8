# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the socket record, its field names, state names and normalisation."""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import json
import pwd
import socket
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional

# A socket record: every key of FIELDS (and, inside a reader, its private keys such as `_ifindex`), JSON-like values.
Record = Dict[str, Any]
# uid -> user name (None when it does not resolve), as user_namer() makes it.
UserNamer = Callable[[int], Optional[str]]

# Every record carries exactly these keys, in this order (docs/records.md, and the RETURN of socket_facts).
FIELDS = (
    'netid', 'state', 'family',
    'local_address', 'local_port', 'peer_address', 'peer_port',
    'interface', 'v6only', 'recv_q', 'send_q', 'inode', 'uid', 'user',
    'processes', 'owner_unknown', 'netns',
    'mark', 'cgroup_id', 'port_locked',
    'cgroup', 'owner_cgroups', 'unit', 'container', 'package', 'security_context', 'origin_unknown',
)

# State numbers are the kernel's TCP_* values, which are also ss's state bits.
STATE_NAMES = {
    0: 'UNKNOWN',
    1: 'ESTAB',
    2: 'SYN-SENT',
    3: 'SYN-RECV',
    4: 'FIN-WAIT-1',
    5: 'FIN-WAIT-2',
    6: 'TIME-WAIT',
    7: 'UNCONN',
    8: 'CLOSE-WAIT',
    9: 'LAST-ACK',
    10: 'LISTEN',
    11: 'CLOSING',
}
STATE_NUMBERS = dict((name, number) for number, name in STATE_NAMES.items())
ALL_STATES = (1 << 12) - 1

FAMILY_NAMES = {
    socket.AF_INET: 'inet',
    socket.AF_INET6: 'inet6',
    socket.AF_UNIX: 'unix',
    17: 'link',      # AF_PACKET
    16: 'netlink',   # AF_NETLINK
    40: 'vsock',     # AF_VSOCK
}
FAMILY_NUMBERS = dict((name, number) for number, name in FAMILY_NAMES.items())

# ss's netid for each inet protocol number.
INET_NETIDS = {6: 'tcp', 17: 'udp', 255: 'raw', 132: 'sctp', 262: 'mptcp', 33: 'dccp'}

_V4_MAPPED_PREFIX = b'\x00' * 10 + b'\xff\xff'
ETH_P_ALL = 0x0003      # a packet socket bound to every protocol

INET_FAMILIES = ('inet', 'inet6')
# Datagram tables whose bound (UNCONN) sockets with a port count as listening, like `ss -l` shows them.
DATAGRAM_NETIDS = ('udp',)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_listening(record: Mapping[str, Any]) -> bool:
    """Listening sockets (LISTEN) and bound datagram sockets (UDP in UNCONN with a port), IPv4 or IPv6."""
    if record.get('family') not in INET_FAMILIES:
        return False
    port: Any = record.get('local_port')
    if not is_int(port) or port <= 0:
        return False
    state = record.get('state')
    return state == 'LISTEN' or (state == 'UNCONN' and record.get('netid') in DATAGRAM_NETIDS)


def state_name(number: int) -> str:
    """The state as ss prints it; numbers ss has no name for print as UNKNOWN."""
    return STATE_NAMES.get(number, 'UNKNOWN')


def inet_address_text(family: int, raw: bytes | bytearray | memoryview) -> str:
    """Canonical text of an address from its network-order bytes (4 or 16 of them; extra bytes ignored)."""
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, bytes(raw[:4]))
    if bytes(raw[:12]) == _V4_MAPPED_PREFIX:
        # Python < 3.13 prints '::ffff:a00:1'; ss and the records (docs/records.md) use the dotted form on every version.
        return '::ffff:' + socket.inet_ntop(socket.AF_INET, bytes(raw[12:16]))
    return str(ipaddress.IPv6Address(bytes(raw[:16])))


def ethertype_text(protocol: int) -> str:
    """A packet socket's protocol (an ethertype, in host order) as `ss -n` prints it in local_address: `*` for
    ETH_P_ALL, else `[number]` in decimal (`[2048]` for IPv4, `[0]` for none)."""
    return '*' if protocol == ETH_P_ALL else '[%d]' % protocol


def key_sharing_template(keys: Iterable[str]) -> Record:
    """A dict of `keys` (all None) whose copies share one key table: a "split" dict (PEP 412), the kind that holds
    an object's attributes. A copy costs about 140 bytes less than a dict literal of 20 keys (CPython 3.11-3.13),
    14 MB at 100k records; it stays split while existing keys are assigned (and, from 3.11 on, popped)."""
    shape = type('RecordShape', (object,), {})()
    for key in keys:
        setattr(shape, key, None)
    return shape.__dict__


PORT_RANGE_FILE = 'sys/net/ipv4/ip_local_port_range'


def read_ephemeral_range(proc_root: str = '/proc', path: str | None = None) -> list[int] | None:
    """[low, high] of the namespace's net.ipv4.ip_local_port_range (ss's `autobound` needs it): the file under
    proc_root, or at path when given; None when it cannot be read."""
    if path is None:
        path = proc_root.rstrip('/') + '/' + PORT_RANGE_FILE
    from ansible_collections.netaudit.sockets.plugins.module_utils._bounded import read_bytes    # pylint: disable=import-outside-toplevel
    try:
        # Bounded and without blocking: a FIFO or /dev/zero there is not read (_bounded.py).
        low, high = read_bytes(path).split()[:2]
        return [int(low), int(high)]
    except ValueError:      # BoundedReadError is one
        return None


def new_record(**values: Any) -> Record:
    """A record with every field present: the given values, None (or [] for processes) for the rest.

    owner_unknown stays None (owners known) until the owners are looked for: _gather sets it on the records left
    without an owner (docs/records.md, "Owners")."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError('unknown socket record field(s): %s' % ', '.join(sorted(unknown)))
    record: Record = dict.fromkeys(FIELDS)
    record['processes'] = []
    record.update(values)
    return record


def sort_key(record: Record) -> tuple[str, str, str, int, str, int, int, str]:
    """A stable order: table, family, local address and port, peer address and port, inode."""
    return (
        record['netid'] or '', record['family'] or '',
        record['local_address'] or '', record['local_port'] or 0,
        record['peer_address'] or '', record['peer_port'] or 0,
        record['inode'] or 0, record['netns'] or '',
    )


def user_namer() -> UserNamer:
    """uid -> user name (None when it does not resolve), each uid looked up once per reader run."""
    cache: dict[int, str | None] = {}

    def user_name(uid: int) -> str | None:
        try:
            return cache[uid]
        except KeyError:
            name: str | None
            try:
                found = pwd.getpwuid(uid).pw_name
            except (KeyError, OverflowError):
                name = None
            else:
                # pwd decodes with surrogateescape; facts show bytes that are not UTF-8 as \\xNN (_bounded.py).
                name = found if found.isascii() else found.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')
            cache[uid] = name
            return name
    return user_name


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a reader builds records: a large table allocates ~200k containers
    and no cycles, and the collector's repeated passes over them cost about a third of the parse time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


PACK_CHUNK = 4096


def pack(records: list[Record]) -> str:
    """The records as one compact JSON text, {"fields": FIELDS, "rows": [[value, ...], ...]}, for socket_facts'
    compact transfer (plugin_utils/_module_run.py expands it). Each row holds a record's values in FIELDS order;
    the key names, 40% of a record's JSON, are written once.

    The list is emptied chunk by chunk while the text grows, so that the records and their text are not both held
    in full (the module's peak memory at 100k sockets)."""
    dumps = json.JSONEncoder(separators=(',', ':')).encode
    parts = []
    while records:
        chunk = records[-PACK_CHUNK:]
        del records[-PACK_CHUNK:]
        parts.append(dumps([[record[field] for field in FIELDS] for record in chunk])[1:-1])
        del chunk
    parts.reverse()
    return '{"fields":%s,"rows":[%s]}' % (dumps(list(FIELDS)), ','.join(parts))
