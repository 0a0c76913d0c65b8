# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inside of socket_tables.py: what runs in the namespace (started there with `ip netns exec`).

    python socket_builder.py build SPEC     build batches, fork a holder per batch, print `ready ...`, wait for stdin to close
    python socket_builder.py sysctl JSON    write {name: value} sysctls of the namespace

Address plan (all on loopback, 127.0.0.0/8 is local in the namespace): bulk listeners on 127.3.x.y:10000+, one
accepting address per batch 127.2.x.y:20000, one client address per established pair 127.10.x.y and up (peers as
varied as on a busy server, and no ephemeral port range runs out), UDP on 127.4.x.y:10000+, the known sockets on
127.9.9.9 (peer 127.9.9.10).
"""

import json
import os
import signal
import socket
import sys

SERVER_OCTET, LISTEN_OCTET, UDP_OCTET, CLIENT_OCTET = 2, 3, 4, 10
LISTEN_PORT, SERVER_PORT, UDP_PORT = 10000, 20000, 10000
KNOWN_ADDRESS, KNOWN_PEER = '127.9.9.9', '127.9.9.10'
IP_BIND_ADDRESS_NO_PORT = getattr(socket, 'IP_BIND_ADDRESS_NO_PORT', 24)
PER_SECOND_OCTET = 254 * 254


class PlanError(ValueError):
    """A socket table that cannot be laid out (too many addresses, an unknown kind)."""


def loopback_address(first_octet, index):
    """The index-th address of 127.first_octet.0.0/16 and up, skipping .0 and .255 in the last two octets."""
    second = first_octet + index // PER_SECOND_OCTET
    rest = index % PER_SECOND_OCTET
    if second > 255:
        raise PlanError('out of loopback addresses at index %d of 127.%d/8' % (index, first_octet))
    return '127.%d.%d.%d' % (second, rest // 254 + 1, rest % 254 + 1)


def plan_batches(listeners, pairs, udp, unix, per_holder):
    """Split the sockets into batches of at most per_holder descriptors: [[(kind, count, first), ...], ...].

    first is the index of the batch's first item among all items of that kind; a pair (two descriptors in one
    holder) and a unix socketpair are never split."""
    batches, batch, room = [], [], per_holder
    for kind, total, cost in (('listen', listeners, 1), ('pair', pairs, 2), ('udp', udp, 1),
                              ('unix_pair', unix // 2, 2), ('unix_listen', unix % 2, 1)):
        first = 0
        while first < total:
            fit = min(total - first, room // cost)
            if fit == 0:
                batches.append(batch)
                batch, room = [], per_holder
                continue
            batch.append((kind, fit, first))
            first += fit
            room -= fit * cost
    if batch:
        batches.append(batch)
    return batches


def plan_spread(listeners, pairs, udp, unix, per_holder):
    """As plan_batches, but every batch holds its share of each kind (TCP, UDP and unix sockets in the same holder
    processes, as in a real server's processes), in as few batches as fit per_holder descriptors."""
    kinds = (('listen', listeners, 1), ('pair', pairs, 2), ('udp', udp, 1), ('unix_pair', unix // 2, 2),
             ('unix_listen', unix % 2, 1))
    descriptors = sum(total * cost for kind, total, cost in kinds)
    count = max(1, -(-descriptors // per_holder))
    while True:
        batches = [[] for number in range(count)]
        for kind, total, cost in kinds:
            for number in range(count):
                first, last = total * number // count, total * (number + 1) // count
                if last > first:
                    batches[number].append((kind, last - first, first))
        costs = dict((kind, cost) for kind, total, cost in kinds)
        if all(sum(fit * costs[kind] for kind, fit, first in batch) <= per_holder for batch in batches):
            return [batch for batch in batches if batch]
        count += 1


def split_tcp(tcp, listen_share):
    """(listeners, established pairs) that make exactly tcp TCP sockets, about listen_share of them listening."""
    listeners = min(tcp, int(round(tcp * listen_share)))
    if (tcp - listeners) % 2:
        listeners += 1
    return listeners, (tcp - listeners) // 2


def _set_sysctl(name, value):
    with open('/proc/sys/' + name.replace('.', '/'), 'w', encoding='ascii') as handle:
        handle.write(value)


def _listener(address, port, backlog=1):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(backlog)
    return sock


def _connect_pairs(server_address, server_port, client_addresses, keep_listener=False):
    """Established pairs to server_address:server_port, one client per source address; [client, server, ...]."""
    server = _listener(server_address, server_port, backlog=len(client_addresses) + 1)
    made = []
    try:
        for address in client_addresses:
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            made.append(client)
            client.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            client.bind((address, 0))
            client.connect((server_address, server_port))
            made.append(server.accept()[0])
    finally:
        if keep_listener:
            made.append(server)
        else:
            server.close()   # established sockets outlive their listener
    return made


def _build_batch(index, batch, namespace):
    sockets = []
    try:
        for kind, count, first in batch:
            if kind == 'listen':
                address = loopback_address(LISTEN_OCTET, index)
                sockets.extend(_listener(address, LISTEN_PORT + number) for number in range(count))
            elif kind == 'pair':
                clients = [loopback_address(CLIENT_OCTET, first + number) for number in range(count)]
                sockets.extend(_connect_pairs(loopback_address(SERVER_OCTET, index), SERVER_PORT, clients))
            elif kind == 'udp':
                address = loopback_address(UDP_OCTET, index)
                for number in range(count):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    sockets.append(sock)
                    sock.bind((address, UDP_PORT + number))
            elif kind == 'unix_pair':
                for number in range(count):
                    sockets.extend(socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
            elif kind == 'unix_listen':
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind('\0%s-%d' % (namespace, index))
                sock.listen(1)
            elif kind == 'known':
                ports, pairs = count
                sockets.extend(_listener(KNOWN_ADDRESS, port) for port in ports[1:])
                sockets.extend(_connect_pairs(KNOWN_ADDRESS, ports[0], [KNOWN_PEER] * pairs, keep_listener=True))
            else:
                raise PlanError('unknown socket kind %r' % (kind,))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _hold(hold_read, hold_write):
    """In a forked holder: keep the inherited sockets until the builder's pipe reaches end of file."""
    os.close(hold_write)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        os.read(hold_read, 1)
    finally:
        os._exit(0)


def builder_main(spec):
    """The builder: spec = {namespace, batches: [[index, batch], ...]}. Prints `ready {"holders": [...],
    "sockets": N}` when every holder holds its sockets, then waits for stdin to close."""
    hold_read, hold_write = os.pipe()
    holders, count = [], 0
    for index, batch in spec['batches']:
        sockets = _build_batch(index, batch, spec['namespace'])
        pid = os.fork()
        if pid == 0:
            _hold(hold_read, hold_write)
        for sock in sockets:
            sock.close()
        holders.append(pid)
        count += len(sockets)
    print('ready ' + json.dumps({'holders': holders, 'sockets': count}), flush=True)
    sys.stdin.read()
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] not in ('build', 'sysctl'):
        print('usage: socket_builder.py build SPEC | sysctl JSON (socket_tables.py runs it)', file=sys.stderr)
        return 2
    if argv[0] == 'sysctl':
        for name, value in json.loads(argv[1]).items():
            _set_sysctl(name, value)
        return 0
    return builder_main(json.loads(argv[1]))


if __name__ == '__main__':
    sys.exit(main())
