# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 7's benchmark: netaudit.sockets against its peers, all measured in the same run. Not part of the test suite.

    sudo tools/bench [--sizes 1000,10000,100000] [--repeat 5] [--fleet 20,50] [--write-docs]

(tools/bench sets up .venv-bench, whose Python must run this.) For each size it builds, in a namespace of its own
(socket_tables.py), N TCP sockets plus 5% UDP and 5% unix sockets spread over holder processes of at most 500
descriptors, and times whole processes round by round inside it (peers_measure.py): ours against `ss -tan`,
`ss -tanp`, `ss -tan FILTER` and psutil.net_connections. At the largest size it also times the module ad hoc,
end to end and alone (peers_ansible.py); then socket_facts against community.general.listen_ports_facts at 1000
listeners, and the audit role against `setup` on namespace fleets (tests/fleet/fleet.py). It prints one table
per size, the Ansible table and the goals; saves the results as JSON and a plot under build/bench/, and with
--write-docs rewrites the generated part of docs/performance.md and docs/performance.png (peers_report.py).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import peers_ansible
import peers_report
import socket_tables

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MEASURE = os.path.join(HERE, 'peers_measure.py')
BUILD = os.path.join(REPO, 'build', 'bench')
DOCS = os.path.join(REPO, 'docs', 'performance.md')
FILTER = '( sport >= :40000 and sport <= :40004 )'   # the 5 known listeners and the known pairs' server ends
KNOWN_PAIRS = 3


class BenchError(RuntimeError):
    """A measurement failed; the message says which and why."""


def log(message):
    print('[bench] %s' % message, file=sys.stderr, flush=True)


def _load():
    return '%.2f %.2f %.2f' % os.getloadavg()


def _ints(text):
    values = [int(value) for value in text.split(',') if value.strip()] if text.strip() not in ('', '0') else []
    if any(value < 1 for value in values):
        raise argparse.ArgumentTypeError('expected positive integers separated by commas, got %r' % text)
    return values


def _measure(argv):
    """Run the measuring process; when interrupted, SIGTERM it first (it then removes its temporary files)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    return proc.returncode, stdout, stderr


def measure_size(size, options, env, wrapper, with_records):
    share = dict(udp=int(round(size * options.udp_share)), unix=int(round(size * options.unix_share)))
    with socket_tables.SocketTable(tcp=size, known_pairs=KNOWN_PAIRS, spread=True, log=log, **share) as table:
        spec = {'python': options.python, 'psutil_python': sys.executable, 'filter': options.filter,
                'expected': table.tcp_total, 'expected_filter': (5 + KNOWN_PAIRS) if options.filter == FILTER else None,
                'warmup': options.warmup, 'repeat': options.repeat, 'budget': options.budget}
        log('measuring %s: %d rounds after %d warm-up(s)' % (table.describe(), options.repeat, options.warmup))
        busy = '%d processes with %d open descriptors' % peers_report.open_descriptors()
        before = _load()
        status, stdout, stderr = _measure(table.exec_argv([sys.executable, MEASURE, json.dumps(spec)]))
        after = _load()
        try:
            measured = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            measured = {'error': 'the measuring process failed (exit %d): %s' % (status, stderr[-3000:])}
        if 'error' in measured:
            raise BenchError('%s: %s' % (table.describe(), measured['error']))
        entry = dict(measured, tcp=table.tcp_total, describe=table.describe(), build_seconds=table.build_seconds,
                     holders=len(table.holders), max_holder_fds=table.max_holder_fds, filter=options.filter,
                     repeat=options.repeat, warmup=options.warmup, load_before=before, load_after=after,
                     machine_processes=busy)
        records = None
        if with_records:
            log('ad hoc socket_facts returning %d records: %d rounds' % (table.tcp_total, options.adhoc_repeat))
            before = _load()
            records = peers_ansible.records(table, env, wrapper, options.adhoc_repeat, table.tcp_total,
                                            options.adhoc_budget)
            records.update(load_before=before, load_after=_load())
    return entry, records


def measure_listeners(options, env):
    with socket_tables.SocketTable(tcp=options.listeners, listen_share=1.0, known_ports=(), known_pairs=0,
                                   spread=True, log=log) as table:
        log('ad hoc at %d listeners: ping, socket_facts, listen_ports_facts; %d rounds'
            % (table.tcp_total, options.adhoc_repeat))
        before = _load()
        listen = peers_ansible.listeners(table, env, options.adhoc_repeat, table.tcp_total, options.adhoc_budget)
        listen.update(load_before=before, load_after=_load())
    return listen


def measure_fleet(size, options, env, workdir):
    log('fleet of %d namespace hosts: setup, the audit role and socket_facts, -f %d; up to %d rounds'
        % (size, options.forks, options.fleet_repeat))
    before = _load()
    try:
        result = peers_ansible.fleet(size, env, workdir, options.fleet_repeat, options.forks, log, options.fleet_budget)
    except (peers_ansible.AnsibleBenchError, RuntimeError, OSError) as exc:   # FleetError is a RuntimeError
        log('fleet of %d hosts not measured: %s' % (size, exc))
        return {'hosts': size, 'error': str(exc)}
    result.update(load_before=before, load_after=_load())
    return result


def run(options, command):
    workdir = tempfile.mkdtemp(prefix='na-bench-peers-')
    try:
        env = peers_ansible.ansible_env(workdir, options.forks)
        collections = peers_ansible.check_collections(env)
        results = {'date': time.strftime('%Y-%m-%d %H:%M %Z'), 'command': command, 'load_start': _load(),
                   'machine': peers_report.machine(options.python, collections), 'sizes': []}
        print('# netaudit.sockets against its peers (issue 7), %s\n' % results['date'])
        print('\n'.join(peers_report.describe_machine(results['machine'])) + '\n', flush=True)
        wrapper = peers_ansible.ansiballz(env, workdir) if options.adhoc else None
        for size in options.sizes:
            entry, records = measure_size(size, options, env, wrapper, options.adhoc and size == max(options.sizes))
            results['sizes'].append(entry)
            if records:
                results['records'] = records
            print(peers_report.size_table(entry, []) + '\n', flush=True)
        if options.adhoc and options.listeners:
            results['listeners'] = measure_listeners(options, env)
        results['fleets'] = [measure_fleet(size, options, env, workdir) for size in options.fleet]
        results['load_end'] = _load()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def publish(results, options):
    """Print the Ansible table and the goals; save the JSON and the plot; rewrite the docs when asked."""
    text, goals = peers_report.render(results)
    if options.from_json:
        print(text, flush=True)
    else:   # the tables of the sizes were printed as they came
        print(text[text.index('#### Ansible') if '#### Ansible' in text else text.index('#### Goals'):], flush=True)
    os.makedirs(BUILD, exist_ok=True)
    if not options.from_json:
        with open(os.path.join(BUILD, 'performance.json'), 'w', encoding='utf-8') as handle:
            json.dump(results, handle, indent=1)
    plots = [os.path.join(BUILD, 'performance.png')]
    if options.write_docs:
        plots.append(os.path.splitext(DOCS)[0] + '.png')
        peers_report.write_docs(DOCS, text, os.path.basename(plots[-1]))
    if results['sizes']:
        for path in plots:
            peers_report.plot(results, path)
    rewrote = '; rewrote %s' % DOCS if options.write_docs else ''
    print('results: %s; plot: %s%s' % (os.path.join(BUILD, 'performance.json'), ', '.join(plots), rewrote))
    return goals


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--sizes', type=_ints, default=[1000, 10000, 100000], help='TCP sockets per table (default '
                        '1000,10000,100000); the ad hoc records run is at the largest')
    parser.add_argument('--repeat', type=int, default=5, help='timed rounds per table (default 5)')
    parser.add_argument('--budget', type=float, default=90, help='seconds per table after which no new round '
                        'starts once 3 are done (default 90)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first (default 1)')
    parser.add_argument('--adhoc-repeat', type=int, default=3, help='rounds of the ad hoc runs (default 3)')
    parser.add_argument('--adhoc-budget', type=float, default=60, help='seconds after which no new ad hoc round '
                        'starts (default 60; one round always runs: at 100k records one takes over a minute here)')
    parser.add_argument('--no-adhoc', dest='adhoc', action='store_false', help='skip the ad hoc Ansible runs')
    parser.add_argument('--listeners', type=int, default=1000, help='listeners for socket_facts vs '
                        'listen_ports_facts (default 1000; 0 skips it)')
    parser.add_argument('--fleet', type=_ints, default=[20, 50], help='fleet sizes (default 20,50; 0 skips them)')
    parser.add_argument('--fleet-repeat', type=int, default=3, help='rounds on each fleet (default 3)')
    parser.add_argument('--fleet-budget', type=float, default=60, help='seconds per fleet after which no new round '
                        'starts once 2 are done (default 60)')
    parser.add_argument('--forks', type=int, default=20, help='ansible forks on the fleet (default 20)')
    parser.add_argument('--filter', default=FILTER, help='the kernel-filtered case (default %r)' % FILTER)
    parser.add_argument('--udp-share', type=float, default=0.05, help='UDP sockets per TCP socket (default 0.05)')
    parser.add_argument('--unix-share', type=float, default=0.05, help='unix sockets per TCP socket (default 0.05)')
    parser.add_argument('--python', default='/usr/bin/python3', help='the managed-host interpreter that runs gather '
                        'and the module (default /usr/bin/python3)')
    parser.add_argument('--write-docs', action='store_true', help='rewrite docs/performance.md (generated part) '
                        'and docs/performance.png')
    parser.add_argument('--from-json', metavar='FILE', help='measure nothing: render a saved run (with --write-docs)')
    options = parser.parse_args(argv)
    if min(options.repeat, options.adhoc_repeat, options.fleet_repeat) < 1 or options.warmup < 0:
        parser.error('the repeats must be at least 1 and --warmup at least 0')
    if options.from_json:
        with open(options.from_json, encoding='utf-8') as handle:
            publish(json.load(handle), options)
        return 0
    if os.geteuid() != 0:
        print('bench_peers.py needs root: it builds socket tables in network namespaces of its own (ip netns add) '
              'and a fleet of namespace hosts. Run: sudo tools/bench', file=sys.stderr)
        return 2
    if not os.path.isdir(os.path.join(peers_ansible.COLLECTIONS, 'ansible_collections', 'netaudit', 'sockets')):
        print('bench_peers.py: run tools/setup first (no collection under %s)' % peers_ansible.COLLECTIONS,
              file=sys.stderr)
        return 2
    socket_tables._stop_on_sigterm()   # pylint: disable=protected-access
    command = 'tools/bench ' + ' '.join(argv)
    try:
        results = run(options, command.strip())
    except KeyboardInterrupt:
        print('bench_peers.py: interrupted; its namespaces and fleets were removed', file=sys.stderr)
        return 130
    except (BenchError, peers_ansible.AnsibleBenchError, socket_tables.TableError) as exc:
        print('bench_peers.py: %s' % exc, file=sys.stderr)
        return 1
    publish(results, options)
    return 0


if __name__ == '__main__':
    sys.exit(main())
