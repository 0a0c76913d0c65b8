# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Large socket tables in a throwaway network namespace, for benchmarks (not part of the test suite).

Library::

    with SocketTable(tcp=100000, udp=0, unix=0) as table:
        subprocess.run(table.exec_argv(['ss', '-s']), check=False)   # runs inside the namespace

CLI (as root, from the repository root)::

    .venv/bin/python bench/socket_tables.py --tcp 100000                  # build, report, tear down
    .venv/bin/python bench/socket_tables.py --tcp 10000 -- ss -s          # run a command inside, then tear down
    .venv/bin/python bench/socket_tables.py --tcp 10000 --hold            # keep it until Ctrl-C
    .venv/bin/python bench/socket_tables.py --cleanup                     # remove namespaces left by killed runs

The namespace is named ``na-bench-<pid>-<hex>`` and only it is ever removed. Sockets live in holder processes of at
most ``max_fds`` descriptors each (the hard fd limit here is 20,000). Builders, started inside the namespace with
``ip netns exec`` (socket_builder.py), create a batch of sockets, fork a holder that keeps them, close their own copies and go on.
Every holder waits on a pipe from its builder, and every builder on its stdin from the controller: when the
controller exits, however it exits, the whole tree goes away; teardown then removes the namespace.

Addresses are all on loopback inside the namespace (socket_builder.py has the plan). The known sockets a benchmark
filters for: listeners on 127.9.9.9 ports 40000-40004 and ``known_pairs`` connections from 127.9.9.10 to
127.9.9.9:40000; the namespace reserves the known ports (ip_local_reserved_ports) so that no client ever gets one of
them as its ephemeral port.
"""

import argparse
import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import time

from socket_builder import plan_batches, plan_spread, split_tcp

PREFIX = 'na-bench-'
NAME_RE = re.compile(r'na-bench-(\d+)-[0-9a-f]+')
MAX_FDS = 500
# A holder keeps stdin, stdout, stderr and its builder's pipe besides its sockets; a builder also keeps the
# write end of that pipe and one accepting listener while it builds. Leave room for both.
FD_MARGIN = 8
BUILDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'socket_builder.py')


class TableError(RuntimeError):
    """The socket table could not be built or removed; the message says why."""


# -- the controller: namespace, builders, teardown ---------------------------------------------------------------

def _ip(*args, check=True):
    proc = subprocess.run(('ip',) + args, capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise TableError('ip %s failed: %s' % (' '.join(args), proc.stderr.strip() or 'exit %d' % proc.returncode))
    return proc


def namespace_pids(name):
    proc = _ip('netns', 'pids', name, check=False)
    return [int(pid) for pid in proc.stdout.split()] if proc.returncode == 0 else []


def remove_namespace(name, grace=5.0, limit=60.0):
    """SIGTERM then SIGKILL exactly the processes `ip netns pids NAME` lists, then `ip netns del NAME`."""
    if not NAME_RE.fullmatch(name):
        raise TableError('refusing to remove %r: not a %s namespace' % (name, PREFIX))
    started = time.monotonic()
    signalled = set()
    while True:
        pids = namespace_pids(name)
        waited = time.monotonic() - started
        if not pids or waited > limit:
            break
        for pid in pids:
            if pid not in signalled or waited > grace:
                try:
                    os.kill(pid, signal.SIGTERM if waited <= grace else signal.SIGKILL)
                except ProcessLookupError:
                    pass
        signalled.update(pids)
        time.sleep(0.05)
    _ip('netns', 'del', name, check=False)


def stale_namespaces():
    """Namespaces of this prefix whose creating process is gone (a run that was killed with SIGKILL)."""
    stale = []
    for name in sorted(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else []:
        found = NAME_RE.fullmatch(name)
        if found and not os.path.exists('/proc/%s' % found.group(1)):
            stale.append(name)
    return stale


class SocketTable(object):
    """A network namespace holding a table of sockets; a context manager (build on enter, remove on exit).

    tcp: bulk TCP sockets, about listen_share of them listening and the rest in established pairs; udp: bound
    UDP sockets; unix: unix stream sockets (socketpairs); known_ports / known_pairs: the known sockets (see the
    module docstring), not counted in tcp. jobs: builders working in parallel. spread: every holder gets its share
    of each kind (TCP, UDP and unix in the same processes) instead of one kind after the other."""

    def __init__(self, tcp=0, listen_share=0.1, udp=0, unix=0, known_ports=tuple(range(40000, 40005)), known_pairs=3,
                 max_fds=MAX_FDS, jobs=None, python=None, timeout=600.0, log=None, spread=False):
        if max_fds <= FD_MARGIN + 2:
            raise TableError('max_fds must be more than %d' % (FD_MARGIN + 2))
        self.listeners, self.pairs = split_tcp(tcp, listen_share)
        self.udp, self.unix = udp, unix
        self.spread = spread
        self.known_ports, self.known_pairs = tuple(known_ports), known_pairs
        if known_pairs and not self.known_ports:
            raise TableError('known_pairs needs at least one known port')
        self.max_fds = max_fds
        self.jobs = jobs or min(os.cpu_count() or 1, 4)
        self.python = python or sys.executable
        self.timeout = timeout
        self.log = log or (lambda message: None)
        self.name = None
        self.holders = []
        self.build_seconds = None
        self.teardown_seconds = None
        self.max_holder_fds = None
        self._builders = []

    @property
    def known_sockets(self):
        return len(self.known_ports) + 2 * self.known_pairs if self.known_ports else 0

    @property
    def tcp_total(self):
        """Every TCP socket in the namespace: the bulk ones and the known ones."""
        return self.listeners + 2 * self.pairs + self.known_sockets

    def describe(self):
        parts = ['%d TCP (%d listening, %d in %d established pairs, %d known)'
                 % (self.tcp_total, self.listeners, 2 * self.pairs, self.pairs, self.known_sockets)]
        if self.udp:
            parts.append('%d UDP' % self.udp)
        if self.unix:
            parts.append('%d unix' % self.unix)
        return ', '.join(parts)

    def exec_argv(self, argv):
        """argv run inside the namespace."""
        return ['ip', 'netns', 'exec', self.name] + list(argv)

    def __enter__(self):
        for name in stale_namespaces():
            self.log('removing %s, left by a run that no longer exists' % name)
            remove_namespace(name)
        self.name = '%s%d-%s' % (PREFIX, os.getpid(), secrets.token_hex(3))
        _ip('netns', 'add', self.name)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _build(self):
        started = time.monotonic()
        _ip('-n', self.name, 'link', 'set', 'lo', 'up')
        plan = plan_spread if self.spread else plan_batches
        batches = plan(self.listeners, self.pairs, self.udp, self.unix, self.max_fds - FD_MARGIN)
        numbered = [[index, batch] for index, batch in enumerate(batches)]
        if self.known_sockets:
            if self.known_sockets > self.max_fds - FD_MARGIN:
                raise TableError('%d known sockets do not fit one holder' % self.known_sockets)
            numbered.insert(0, [len(batches), [['known', [list(self.known_ports), self.known_pairs], 0]]])
        if self.known_ports:
            sysctls = {'net.ipv4.ip_local_reserved_ports': ','.join(str(port) for port in self.known_ports)}
            proc = subprocess.run(self.exec_argv([self.python, BUILDER, 'sysctl', json.dumps(sysctls)]),
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                raise TableError('cannot set %s in %s: %s' % (sysctls, self.name, proc.stderr.strip()))
        jobs = max(1, min(self.jobs, len(numbered)))
        self.log('building %s in %s: %d holders, %d builders' % (self.describe(), self.name, len(numbered), jobs))
        for job in range(jobs):
            spec = {'namespace': self.name, 'batches': numbered[job::jobs]}
            # A new session: Ctrl-C reaches only the controller, which then tears down in order.
            self._builders.append(subprocess.Popen(   # pylint: disable=consider-using-with
                self.exec_argv([self.python, BUILDER, 'build', json.dumps(spec)]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True))
        for builder in self._builders:
            self._wait_ready(builder, started)
        self.build_seconds = time.monotonic() - started
        self.max_holder_fds = max(len(os.listdir('/proc/%d/fd' % pid)) for pid in self.holders) if self.holders else 0
        if self.max_holder_fds > self.max_fds:
            raise TableError('a holder has %d descriptors, more than %d' % (self.max_holder_fds, self.max_fds))
        self.log('ready: %s in %s, built in %.1f s, %d holders of at most %d descriptors'
                 % (self.describe(), self.name, self.build_seconds, len(self.holders), self.max_holder_fds))

    def _wait_ready(self, builder, started):
        while True:
            left = self.timeout - (time.monotonic() - started)
            if left <= 0 or not select.select([builder.stdout], [], [], left)[0]:
                raise TableError('the builders did not finish in %d s' % self.timeout)
            line = builder.stdout.readline().decode('utf-8', 'replace')
            if not line:
                raise TableError('a builder exited with status %s before it was ready (its error is above)'
                                 % builder.wait())
            if line.startswith('ready '):
                self.holders.extend(json.loads(line[6:])['holders'])
                return

    def close(self):
        """Stop the builders (their holders follow) and remove the namespace; safe to call twice."""
        if self.name is None:
            return
        started = time.monotonic()
        for builder in self._builders:
            builder.stdin.close()
            if builder.poll() is None:
                builder.terminate()   # a builder still building would read its stdin only once done
        for builder in self._builders:
            try:
                builder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass   # remove_namespace kills what is left
            builder.stdout.close()
        remove_namespace(self.name)
        self.teardown_seconds = time.monotonic() - started
        self.log('removed %s in %.1f s' % (self.name, self.teardown_seconds))
        self.name = None
        self._builders = []


# -- command line -----------------------------------------------------------------------------------------------

def _stop_on_sigterm():
    def stop(signum, frame):   # pylint: disable=unused-argument
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    command = []
    if '--' in argv:
        command = argv[argv.index('--') + 1:]
        argv = argv[:argv.index('--')]
    parser = argparse.ArgumentParser(description='Build a large socket table in a throwaway network namespace.',
                                     epilog='Anything after -- runs inside the namespace once the table is ready.')
    parser.add_argument('--tcp', type=int, default=10000, help='bulk TCP sockets (default 10000)')
    parser.add_argument('--listen-share', type=float, default=0.1, help='share of them listening (default 0.1)')
    parser.add_argument('--udp', type=int, default=0, help='bound UDP sockets')
    parser.add_argument('--unix', type=int, default=0, help='unix stream sockets (socketpairs)')
    parser.add_argument('--spread', action='store_true', help='TCP, UDP and unix sockets in the same holders')
    parser.add_argument('--known-pairs', type=int, default=3, help='connections to 127.9.9.9:40000 (default 3)')
    parser.add_argument('--max-fds', type=int, default=MAX_FDS, help='descriptors per holder (default %d)' % MAX_FDS)
    parser.add_argument('--jobs', type=int, default=None, help='builders in parallel (default: cores, at most 4)')
    parser.add_argument('--hold', action='store_true', help='keep the table until Ctrl-C')
    parser.add_argument('--cleanup', action='store_true', help='remove %s* namespaces of runs that are gone' % PREFIX)
    options = parser.parse_args(argv)
    if os.geteuid() != 0:
        print('socket_tables.py needs root: it creates a network namespace (ip netns add). Run it with sudo.',
              file=sys.stderr)
        return 2
    if options.cleanup:
        for name in stale_namespaces():
            remove_namespace(name)
            print('removed %s' % name)
        return 0
    _stop_on_sigterm()

    def log(message):
        print('[socket_tables] ' + message, file=sys.stderr, flush=True)

    status = 0
    try:
        with SocketTable(tcp=options.tcp, listen_share=options.listen_share, udp=options.udp, unix=options.unix,
                         known_pairs=options.known_pairs, max_fds=options.max_fds, jobs=options.jobs, log=log,
                         spread=options.spread) as table:
            print('namespace %s: %s' % (table.name, table.describe()), flush=True)
            if command:
                status = subprocess.run(table.exec_argv(command), check=False).returncode
            elif options.hold:
                print('holding; Ctrl-C removes it', flush=True)
                signal.pause()
    except KeyboardInterrupt:
        print('socket_tables.py: interrupted; the namespace was removed', file=sys.stderr)
        status = 130
    except TableError as exc:
        print('socket_tables.py: %s' % exc, file=sys.stderr)
        status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
