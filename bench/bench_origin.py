# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 14: what telling where each socket comes from (cgroup, unit, container, security context; and packages)
costs, against the same gather without it and against the owners walk it follows.

    .venv/bin/python bench/bench_origin.py [--processes 200] [--sockets 50] [--cgroups 20] [--rounds 7]

As root, from the repository root. It starts PROCESSES holders in a throwaway network namespace, spread over
CGROUPS cgroups made under the cgroup2 mount (named like systemd's services, so each holder has a unit), each
holding SOCKETS sockets (half TCP listeners on loopback, half unix), then times in alternating rounds:
- gather (tcp and unix of that namespace, owners on) without the origin fields (`_gather._origins` replaced by a
  function that leaves them null), with them, and with `packages: true`;
- the owners walk alone (`_owners.find_owners` over the same inodes).
It prints the medians, the machine load before and after, and the goal row: the origin fields add at most 20% to
the owners walk. Everything it made is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.cache', 'collections'))

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather, _owners  # noqa: E402

NAMESPACE = 'netaudit-bench-origin'
HOLDER = r'''
import os, socket, sys
count = int(sys.argv[1])
held = []
for index in range(count):
    if index % 2:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind('\0netaudit-bench-%d-%d' % (os.getpid(), index))
    else:
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
    sock.listen(1)
    held.append(sock)
sys.stdout.write('ready\n')
sys.stdout.flush()
sys.stdin.read()
'''


def cgroup2_mount() -> str:
    with open('/proc/self/mounts') as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 2 and fields[2] == 'cgroup2':
                return fields[1]
    raise SystemExit('no cgroup2 mount on this host')


def start(processes: int, sockets: int, cgroups: int) -> tuple[list[subprocess.Popen], str]:
    subprocess.run(['ip', 'netns', 'add', NAMESPACE], check=True)
    top = os.path.join(cgroup2_mount(), 'netaudit-bench.slice')
    os.makedirs(top, exist_ok=True)
    holders = []
    for index in range(processes):
        group = os.path.join(top, 'bench-%d.service' % (index % cgroups))
        os.makedirs(group, exist_ok=True)
        holder = subprocess.Popen(['ip', 'netns', 'exec', NAMESPACE, sys.executable, '-c', HOLDER, str(sockets)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        with open(os.path.join(group, 'cgroup.procs'), 'w') as procs:
            procs.write(str(holder.pid))
        holders.append(holder)
    for holder in holders:
        if holder.stdout is None or holder.stdout.readline().strip() != 'ready':
            raise SystemExit('a holder did not start')
    return holders, top


def stop(holders: list[subprocess.Popen], top: str) -> None:
    for holder in holders:
        if holder.stdin is not None:
            holder.stdin.close()
    for holder in holders:
        holder.wait(timeout=30)
    for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        path = os.path.join(top, name)
        if os.path.isdir(path):
            os.rmdir(path)
    if os.path.isdir(top):
        os.rmdir(top)
    subprocess.run(['ip', 'netns', 'delete', NAMESPACE], check=False)


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--processes', type=int, default=200)
    parser.add_argument('--sockets', type=int, default=50)
    parser.add_argument('--cgroups', type=int, default=20)
    parser.add_argument('--rounds', type=int, default=7)
    options = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit('run as root: it makes a network namespace and cgroups')
    load_before = os.getloadavg()
    holders, top = start(options.processes, options.sockets, options.cgroups)
    real_origins = _gather._origins
    try:
        def gather(packages: bool = False) -> dict:
            return _gather.gather(tables=('tcp', 'unix'), netns=NAMESPACE, summary=False, packages=packages)

        facts = gather()
        records = [record for record in facts['sockets'] if record['processes']]
        inodes = set(record['inode'] for record in facts['sockets'] if record['inode'])
        units = set(record['unit']['name'] for record in records if record['unit'])

        def without() -> None:
            _gather._origins = lambda *args, **kwargs: None      # the fields stay null: the run without them
            try:
                gather()
            finally:
                _gather._origins = real_origins

        samples: dict[str, list[float]] = {'without': [], 'with': [], 'packages': [], 'walk': []}
        gather()
        without()
        for _round in range(options.rounds):
            samples['without'].append(timed(without))
            samples['with'].append(timed(gather))
            samples['packages'].append(timed(lambda: gather(packages=True)))
            samples['walk'].append(timed(lambda: _owners.find_owners(inodes)))
    finally:
        _gather._origins = real_origins
        stop(holders, top)
    median = dict((key, statistics.median(values)) for key, values in samples.items())
    added, added_packages = median['with'] - median['without'], median['packages'] - median['without']
    print('sockets %d (%d owned) over %d processes in %d cgroups (%d units seen); %d rounds; load %s / %s'
          % (len(facts['sockets']), len(records), options.processes, options.cgroups, len(units), options.rounds,
             ' '.join('%.2f' % value for value in load_before), ' '.join('%.2f' % value for value in os.getloadavg())))
    print()
    print('| run | median ms | range ms |')
    print('|---|---|---|')
    for key, label in (('without', 'gather, origin fields off'), ('with', 'gather, origin fields on'),
                       ('packages', 'gather, origin fields and packages: true'), ('walk', 'owners walk alone')):
        print('| %s | %.1f | %.1f-%.1f |' % (label, median[key], min(samples[key]), max(samples[key])))
    print()
    share = 100.0 * added / median['walk']
    print('| goal | measured | met |')
    print('|---|---|---|')
    print('| origin fields add at most 20%% to the owners walk | +%.1f ms = %.0f%% of the walk (%.1f ms) | %s |'
          % (added, share, median['walk'], 'yes' if share <= 20 else 'no'))
    print('| packages: true, bounded and measured | +%.1f ms over the run without origin fields | - |' % added_packages)
    return 0


if __name__ == '__main__':
    sys.exit(main())
