# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 5's speed goals, on the controller. Not part of the test suite; needs no root.

    .venv/bin/python bench/bench_policy.py [--records 1000000] [--repeat 5] [--hosts 10000] [--per-host 100]
                                           [--no-walk] [--profile]

1. ss_filter over a million socket records against a hand-written list comprehension for the same predicate
   (goal: at most 3x). The records look like a busy server's table: a few hundred listeners, connections from tens of
   thousands of distinct clients on their ephemeral ports, outgoing connections, TIME-WAIT, UNCONN UDP. Before timing,
   the benchmark checks that the comprehension selects exactly the records ss_filter selects.
     hand          the comprehension, written for these records (canonical address text, ports as ints)
     ss_filter     the filter plugin's function, expression already compiled (the cache is warm), memos kept
     first call    the first ss_filter call for the expression: parse, compile and cold memos
     tree walk     SSFilter.select() (module_utils/_ssfilter/ssfilter.py), the evaluator the module uses (one round)
2. port_audit over a fleet: --hosts hosts of --per-host sockets each, one realistic policy (expected, allowed with an
   exception, forbidden, closed world, an ss `match` rule), timed per host and per fleet.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.cache', 'collections'))

# pylint: disable=wrong-import-position
from ansible_collections.netaudit.sockets.plugins.filter import socket_filters
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record

GOAL = 3.0

# (expression, the same predicate as a hand-written comprehension over these records)
PREDICATES = (
    ('sport = :443', lambda rs: [r for r in rs if r['local_port'] == 443]),
    ('state listening', lambda rs: [r for r in rs if r['state'] == 'LISTEN']),
    ('state established ( dport = :443 or dport = :80 )',
     lambda rs: [r for r in rs if r['state'] == 'ESTAB' and r['peer_port'] in (443, 80)]),
    ('sport >= 32768 and sport <= 60999', lambda rs: [r for r in rs if 32768 <= r['local_port'] <= 60999]),
    ('src 127.0.0.0/8', lambda rs: [r for r in rs if r['local_address'].startswith(('127.', '::ffff:127.'))]),
    ('dst 10.0.0.0/8', lambda rs: [r for r in rs if r['peer_address'].startswith(('10.', '::ffff:10.'))]),
    ('state listening src [::]', lambda rs: [r for r in rs if r['state'] == 'LISTEN' and r['local_address'] == '::']),
)


# --- records --------------------------------------------------------------------------------------------------

def server_table(count, seed=5):
    """Socket records as socket_facts returns them for a busy server."""
    rng = random.Random(seed)
    out = []
    services = [(22, 'sshd'), (80, 'nginx'), (443, 'nginx'), (5432, 'postgres'), (6379, 'redis-server'),
                (8080, 'java'), (9100, 'node_exporter')]
    local4 = ['10.0.0.5', '10.0.0.6', '192.0.2.10', '127.0.0.1']
    clients = ['198.51.100.%d' % i for i in range(256)]
    clients += ['10.%d.%d.%d' % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)) for _i in range(40000)]
    clients6 = ['2001:db8:%x::%x' % (rng.randrange(65536), rng.randrange(65536)) for _i in range(10000)]
    for port, name in services:
        for address, family in (('0.0.0.0', 'inet'), ('::', 'inet6')):
            out.append(new_record(netid='tcp', state='LISTEN', family=family, local_address=address, local_port=port,
                                  peer_address=address, peer_port=0, v6only=True if family == 'inet6' else None,
                                  inode=len(out) + 1, uid=0, user='root',
                                  processes=[{'name': name, 'pid': 100 + port, 'fd': 3}]))
    while len(out) < count:
        roll = rng.random()
        owner = [{'name': 'nginx', 'pid': 2000 + rng.randrange(8), 'fd': rng.randrange(10, 9000)}]
        if roll < 0.55:          # incoming connection to a service
            port, name = rng.choice(services)
            six = rng.random() < 0.2
            out.append(new_record(
                netid='tcp', state=rng.choice(['ESTAB'] * 8 + ['CLOSE-WAIT', 'SYN-RECV']),
                family='inet6' if six else 'inet',
                local_address='2001:db8::5' if six else rng.choice(local4[:3]), local_port=port,
                peer_address=rng.choice(clients6) if six else rng.choice(clients), peer_port=rng.randrange(32768, 61000),
                inode=len(out) + 1, uid=0, user='root', processes=[{'name': name, 'pid': 100 + port, 'fd': 9}]))
        elif roll < 0.75:        # outgoing connection from an ephemeral port
            out.append(new_record(
                netid='tcp', state='ESTAB', family='inet', local_address=rng.choice(local4),
                local_port=rng.randrange(32768, 61000), peer_address=rng.choice(clients[:256] + ['127.0.0.1']),
                peer_port=rng.choice([443, 80, 5432, 6379, 53]), inode=len(out) + 1, uid=33, user='www-data',
                processes=owner))
        elif roll < 0.92:        # TIME-WAIT, no owner
            out.append(new_record(
                netid='tcp', state='TIME-WAIT', family='inet', local_address=rng.choice(local4[:3]),
                local_port=rng.choice([80, 443]), peer_address=rng.choice(clients), peer_port=rng.randrange(32768, 61000),
                inode=0))
        else:                    # UDP: bound, connected, v4-mapped
            mapped = rng.random() < 0.1
            address = '::ffff:127.0.0.1' if mapped else rng.choice(local4)
            out.append(new_record(
                netid='udp', state=rng.choice(['UNCONN', 'ESTAB']), family='inet6' if mapped else 'inet',
                local_address=address, local_port=rng.randrange(1024, 61000), peer_address='::' if mapped else '0.0.0.0',
                peer_port=0, inode=len(out) + 1, uid=0, user='root',
                processes=[{'name': 'chronyd', 'pid': 600, 'fd': 5}]))
    return out


# --- timing ---------------------------------------------------------------------------------------------------

def timed(func, *args):
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result


def stats(samples):
    return statistics.median(samples), min(samples), max(samples)


def ms(seconds):
    return '%.0f' % (seconds * 1000.0)


def bench_ss_filter(records, repeat, walk, profile):
    print('\n== ss_filter over %d records (goal: median ratio to the hand-written comprehension <= %.0fx) ==' % (
        len(records), GOAL))
    header = ('%-50s %8s | %-17s | %-17s | %6s | %10s | %10s'
              % ('expression', 'matches', 'hand ms med/min/max', 'ss_filter ms', 'ratio', 'first call', 'tree walk'))
    print(header)
    print('-' * len(header))
    failures = []
    for expression, hand in PREDICATES:
        _ssfilter_fast.compile_filter.cache_clear()
        first, selected = timed(socket_filters.ss_filter, records, expression)
        want = hand(records)
        if [id(r) for r in want] != [id(r) for r in selected]:
            raise AssertionError('%s: the hand-written comprehension selects %d records, ss_filter %d'
                                 % (expression, len(want), len(selected)))
        ours, hands = [], []
        for _round in range(repeat):
            ours.append(timed(socket_filters.ss_filter, records, expression)[0])
            hands.append(timed(hand, records)[0])
        if profile:
            cProfile.runctx('socket_filters.ss_filter(records, expression)', globals(), locals(), '/tmp/bench_policy.prof')
            pstats.Stats('/tmp/bench_policy.prof').sort_stats('cumulative').print_stats(8)
        walked = '-'
        if walk:
            flt = ssfilter.parse(expression)
            walked = ms(timed(flt.select, records)[0])
        ratio = statistics.median(ours) / statistics.median(hands)
        if ratio > GOAL:
            failures.append(expression)
        print('%-50s %8d | %5s %5s %5s | %5s %5s %5s | %5.2fx | %10s | %10s' % (
            expression, len(selected), *[ms(v) for v in stats(hands)], *[ms(v) for v in stats(ours)], ratio, ms(first),
            walked))
    print('first call = parse, compile and judge every distinct address or port once; ratio = median / median.')
    return failures


# --- port_audit over a fleet ------------------------------------------------------------------------------------

POLICY = {
    'expected': ['tcp/22', {'name': 'node exporter', 'port': 9100, 'process': 'node_exporter'}],
    'allowed': [
        'udp/68', 'udp/123@loopback', 'udp/323@loopback', {'port': 53, 'bind': 'loopback'}, 'tcp/631@loopback',
        {'name': 'web', 'port': '80', 'proto': 'tcp', 'bind': 'public'}, 'tcp/443@public',
        {'name': 'app', 'port': '8000-8099', 'process': 'java', 'user': 'app'},
        {'name': 'temporary debug port', 'port': 5005, 'until': '2031-01-01', 'reason': 'CHG-42'},
        {'name': 'local services', 'match': 'src 127.0.0.0/8 or src [::1]'},
    ],
    'forbidden': ['tcp/23', 'tcp/21', {'port': '1-1023', 'proto': 'udp', 'bind': 'public', 'family': 'inet'},
                  {'name': 'database exposed', 'port': 5432, 'bind': 'public'}],
    'closed_world': True,
}


def fleet(hosts, per_host, seed=11):
    rng = random.Random(seed)
    catalogue = [
        ('tcp', '0.0.0.0', 22, 'sshd', 'root'), ('tcp', '::', 22, 'sshd', 'root'),
        ('tcp', '0.0.0.0', 9100, 'node_exporter', 'prometheus'), ('udp', '0.0.0.0', 68, 'dhclient', 'root'),
        ('udp', '127.0.0.1', 123, 'chronyd', 'chrony'), ('udp', '127.0.0.53', 53, 'systemd-resolve', 'systemd-resolve'),
        ('tcp', '127.0.0.1', 631, 'cupsd', 'root'), ('tcp', '0.0.0.0', 80, 'nginx', 'root'),
        ('tcp', '::', 443, 'nginx', 'root'), ('tcp', '10.0.0.5', 8080, 'java', 'app'),
        ('tcp', '127.0.0.1', 6379, 'redis-server', 'redis'), ('tcp', '0.0.0.0', 5432, 'postgres', 'postgres'),
        ('tcp', '0.0.0.0', 23, 'inetd', 'root'), ('tcp', '0.0.0.0', 5005, 'java', 'app'),
    ]
    out = []
    for _host in range(hosts):
        records = []
        for netid, address, port, name, user in rng.sample(catalogue, rng.randrange(6, len(catalogue))):
            family = 'inet6' if ':' in address else 'inet'
            records.append(new_record(
                netid=netid, state='LISTEN' if netid == 'tcp' else 'UNCONN', family=family, local_address=address,
                local_port=port, peer_address='::' if family == 'inet6' else '0.0.0.0', peer_port=0,
                v6only=False if family == 'inet6' else None, inode=len(records) + 1, uid=0, user=user,
                processes=[{'name': name, 'pid': 1000 + port, 'fd': 3}]))
        while len(records) < per_host:
            records.append(new_record(
                netid='tcp', state=rng.choice(['ESTAB', 'TIME-WAIT', 'CLOSE-WAIT']), family='inet',
                local_address='10.0.0.5', local_port=rng.choice([22, 443, rng.randrange(32768, 61000)]),
                peer_address='198.51.100.%d' % rng.randrange(256), peer_port=rng.randrange(1024, 65536),
                inode=len(records) + 1, uid=0, user='root', processes=[]))
        out.append({'sockets': records, 'socket_meta': {'complete': rng.random() > 0.05,
                                                        'incomplete_reasons': ['not root']}})
    return out


def bench_port_audit(hosts, per_host, repeat):
    print('\n== port_audit over %d hosts x %d sockets (one policy of %d rules, closed world) ==' % (
        hosts, per_host, sum(len(POLICY[k]) for k in ('expected', 'allowed', 'forbidden'))))
    facts = fleet(hosts, per_host)
    per_host_times, totals, compliant = [], [], 0
    for _round in range(repeat):
        started = time.perf_counter()
        for host in facts:
            began = time.perf_counter()
            verdict = socket_filters.port_audit(host, POLICY, now='2025-06-01')
            per_host_times.append(time.perf_counter() - began)
            compliant += verdict['compliant']
        totals.append(time.perf_counter() - started)
    print('%-28s %10s %10s %10s' % ('', 'median', 'min', 'max'))
    print('%-28s %10.3f %10.3f %10.3f' % ('per host (ms)', *[v * 1000.0 for v in stats(per_host_times)]))
    print('%-28s %10.2f %10.2f %10.2f' % ('whole fleet (s)', *stats(totals)))
    print('%d of %d verdicts compliant; %d rounds.' % (compliant // repeat, hosts, repeat))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--records', type=int, default=1000000)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--per-host', type=int, default=100)
    parser.add_argument('--fleet-repeat', type=int, default=3)
    parser.add_argument('--no-walk', action='store_true', help='skip the (slow) tree-walk column')
    parser.add_argument('--profile', action='store_true', help='profile one ss_filter call per expression')
    args = parser.parse_args()
    print('Python %s' % sys.version.split()[0])
    started = time.perf_counter()
    records = server_table(args.records)
    print('built %d records in %.1f s' % (len(records), time.perf_counter() - started))
    failures = bench_ss_filter(records, args.repeat, not args.no_walk, args.profile)
    del records
    bench_port_audit(args.hosts, args.per_host, args.fleet_repeat)
    if failures:
        print('\nover the %.0fx goal: %s' % (GOAL, ', '.join(failures)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
