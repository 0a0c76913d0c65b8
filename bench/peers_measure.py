# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The part of bench_peers.py that measures whole processes (and runs inside the socket table's namespace).

    python peers_measure.py SPEC_JSON     (bench_peers.py starts it with `ip netns exec`; prints one JSON line)

Every measured thing is a whole process, timed by `spawn` from fork to reaping (os.wait4). Its peak RSS is the
ru_maxrss of that one child, but taken in the untimed runs (the check and the warm-ups) through GNU time: a
child's ru_maxrss is never below the RSS of the process that forked it (the kernel carries the forker's high-water
mark over the exec), so a 25 MiB Python measurer would report 25 MiB for `ss`. /usr/bin/time forks from ~1 MiB.
Runners, one of each per round (interleaved, so load that comes and goes hits all alike):
  ss_tan      `ss -tan`                          ours_tan     gather(tables=[tcp], processes=False) + JSON out
  ss_tanp     `ss -tanp`                         ours_tanp    the same with processes=True (owners)
  ss_filter   `ss -tan FILTER`                   ours_filter  gather(filter_text=FILTER, processes=False)
  psutil      psutil.net_connections('tcp') + JSON out, in a Python with psutil (compared with ours_tanp)
Before timing, each pair must select the same sockets (and owners, where both give them); else it stops.
"""

import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import bench_filter

GNU_TIME = '/usr/bin/time'

SS_TAN = ['ss', '-t', '-a', '-n']
SS_TANP = SS_TAN + ['-p']
PSUTIL_SCRIPT = ("import json, sys, psutil\n"
                 "sys.stdout.write(json.dumps([conn._asdict() for conn in psutil.net_connections('tcp')]))\n")
PAIRS = (('ours_tan', 'ss_tan'), ('ours_tanp', 'ss_tanp'), ('ours_filter', 'ss_filter'), ('ours_tanp', 'psutil'))
_PIDS = re.compile(r'pid=(\d+)')


class Mismatch(AssertionError):
    """Two sides of a comparison selected different sockets: their timings would compare different answers."""


class Sample(object):
    """One whole-process run: seconds, peak RSS of that process in KiB, its stdout (when captured), exit status."""

    def __init__(self, seconds, maxrss_kib, stdout, status, stderr):
        self.seconds, self.maxrss_kib, self.stdout, self.status, self.stderr = (seconds, maxrss_kib, stdout, status,
                                                                                stderr)


def spawn(argv, env=None, capture=True, check=True, rss=False):
    """Run argv to its end; a Sample. stdout is read through a pipe (or goes to /dev/null), stderr to a file.
    rss: run it under GNU time for its true peak RSS (slightly slower: use it for untimed runs); without it
    maxrss_kib is wait4's, floored at this process's own RSS."""
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile(prefix='na-bench-rss-') as report:
        if rss and os.access(GNU_TIME, os.X_OK):
            argv = [GNU_TIME, '-f', '%M', '-o', report.name, '--'] + list(argv)
        else:
            rss = False
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                                stderr=errors, env=env)
        try:
            stdout = proc.stdout.read() if capture else None
        except BaseException:
            proc.kill()   # interrupted: do not wait for a long run to finish
            raise
        finally:
            if capture:
                proc.stdout.close()
            pid, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)   # reaped here: Popen must not wait for it again
        errors.seek(0)
        stderr = errors.read().decode('utf-8', 'replace')
        maxrss = usage.ru_maxrss
        if rss:
            lines = [line for line in report.read().decode('ascii', 'replace').splitlines() if line.strip()]
            maxrss = int(lines[-1]) if lines and lines[-1].strip().isdigit() else None
    if check and proc.returncode:
        raise RuntimeError('%s failed (exit %d): %s' % (' '.join(argv[:4]), proc.returncode, stderr.strip()[-2000:]))
    return Sample(elapsed, maxrss, stdout, proc.returncode, stderr)


def rounds(runners, warmup, repeat, results=None, budget=None, least=3):
    """{name: {'ms': [...], 'rss_kib': [...]}}: `repeat` timed rounds after `warmup` untimed ones, which run under
    GNU time for the peak RSS. runners: [(name, runner(rss) -> Sample)]; results: add to these; budget: seconds
    after which no new timed round starts once `least` rounds are done."""
    results = results if results is not None else {}
    for name, runner in runners:
        results.setdefault(name, {'ms': [], 'rss_kib': []})
    started = time.monotonic()
    for number in range(warmup + repeat):
        if (budget is not None and number - warmup >= least and time.monotonic() - started > budget):
            break
        for name, runner in runners:
            sample = runner(number < warmup)
            sample.stdout = None   # freeing a large output is not part of the work measured
            if number >= warmup:
                results[name]['ms'].append(sample.seconds * 1000.0)
            elif sample.maxrss_kib is not None:
                results[name]['rss_kib'].append(sample.maxrss_kib)
    return results


# -- what each side selected --------------------------------------------------------------------------------------

def _wild(address):
    return '*' if address in ('*', '0.0.0.0', '::', '') else address


def ss_sockets(stdout, owners=False):
    """Counter of (local, port, peer, port[, pids]) from `ss -tan[p]` output (header skipped; ss leaves the State
    column out when the filter selects a single state; -p adds a users:((...)) column when there are owners)."""
    found = collections.Counter()
    for line in stdout.decode('utf-8', 'replace').splitlines()[1:]:
        fields = line.split()
        users = fields.pop() if fields and fields[-1].startswith('users:(') else ''
        if len(fields) < 2:
            continue
        key = bench_filter._ss_endpoint(fields[-2]) + bench_filter._ss_endpoint(fields[-1])  # pylint: disable=protected-access
        if owners:
            key += (tuple(sorted(int(pid) for pid in _PIDS.findall(users))),)
        found[key] += 1
    return found


def our_sockets(stdout, owners=False):
    found = collections.Counter()
    for record in json.loads(stdout)['sockets']:
        key = (_wild(record['local_address']), record['local_port'], _wild(record['peer_address']), record['peer_port'])
        if owners:
            key += (tuple(sorted(owner['pid'] for owner in record['processes'])),)
        found[key] += 1
    return found


def psutil_sockets(stdout):
    """psutil lists one connection per (process, descriptor): merge them per socket, as ss and ours do."""
    merged = collections.defaultdict(list)
    for conn in json.loads(stdout):
        laddr, raddr = conn['laddr'], conn['raddr'] or ['*', 0]
        merged[(_wild(laddr[0]), laddr[1], _wild(raddr[0]), raddr[1], conn['status'])].append(conn['pid'])
    found = collections.Counter()
    for key, pids in merged.items():
        found[key[:4] + (tuple(sorted(pid for pid in set(pids) if pid is not None)),)] += 1
    return found


def check_same(label, theirs, ours, expected):
    if theirs != ours:
        raise Mismatch('%s: the peer selected %d sockets, ours %d; only the peer: %s; only ours: %s'
                       % (label, sum(theirs.values()), sum(ours.values()), sorted(theirs - ours)[:3],
                          sorted(ours - theirs)[:3]))
    if expected is not None and sum(ours.values()) != expected:
        raise Mismatch('%s: both selected %d sockets, but the table predicts %d' % (label, sum(ours.values()), expected))
    return sum(ours.values())


# -- the measuring process ---------------------------------------------------------------------------------------

def measure(spec):
    """spec: python (runs gather), psutil_python, filter, expected (TCP sockets in the table), expected_filter,
    warmup, repeat, budget (see rounds). Returns {'runs': {runner: {ms, rss_kib}}, 'matched': {...}, 'argv': {...}}."""
    python, text = spec['python'], spec['filter']
    options = {'tables': ['tcp'], 'processes': False, 'summary': False}
    owners = dict(options, processes=True)

    def ours(filter_text, opts):
        return [python, '-c', bench_filter.WHOLE_PROCESS, filter_text, json.dumps(opts)]

    argv = {'ss_tan': SS_TAN, 'ours_tan': ours('', options), 'ss_tanp': SS_TANP, 'ours_tanp': ours('', owners),
            'ss_filter': SS_TAN + text.split(), 'ours_filter': ours(text, options),
            'psutil': [spec['psutil_python'], '-c', PSUTIL_SCRIPT]}
    with tempfile.TemporaryDirectory(prefix='na-bench-pycache-') as cache_dir:
        env = bench_filter._python_envs(cache_dir)[0]   # pylint: disable=protected-access
        envs = dict((name, env if name.startswith('ours') else None) for name in argv)
        checked = dict((name, spawn(argv[name], envs[name], rss=True)) for name in argv)
        out = dict((name, sample.stdout) for name, sample in checked.items())
        matched = {
            'ss_tan': check_same('ss -tan', ss_sockets(out['ss_tan']), our_sockets(out['ours_tan']), spec['expected']),
            'ss_tanp': check_same('ss -tanp (with owners)', ss_sockets(out['ss_tanp'], owners=True),
                                  our_sockets(out['ours_tanp'], owners=True), spec['expected']),
            'ss_filter': check_same('ss -tan %s' % text, ss_sockets(out['ss_filter']), our_sockets(out['ours_filter']),
                                    spec['expected_filter']),
            'psutil': check_same("psutil.net_connections('tcp') (with owners)", psutil_sockets(out['psutil']),
                                 our_sockets(out['ours_tanp'], owners=True), spec['expected']),
        }
        out = None
        runs = dict((name, {'ms': [], 'rss_kib': [sample.maxrss_kib] if sample.maxrss_kib else []})
                    for name, sample in checked.items())
        checked = None
        runners = [(name, lambda rss, name=name: spawn(argv[name], envs[name], rss=rss)) for name in
                   ('ss_tan', 'ours_tan', 'ss_tanp', 'ours_tanp', 'ss_filter', 'ours_filter', 'psutil')]
        rounds(runners, spec['warmup'], spec['repeat'], runs, spec.get('budget'))
    shown = dict((name, ' '.join(args) if not name.startswith('ours') and name != 'psutil' else None)
                 for name, args in argv.items())
    return {'runs': runs, 'matched': matched, 'argv': shown}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print('usage: peers_measure.py SPEC_JSON (bench_peers.py runs it inside the namespace)', file=sys.stderr)
        return 2
    # Teardown sends SIGTERM: exit through the context managers, so no temporary file is left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        print(json.dumps(measure(json.loads(argv[0]))))
    except (Mismatch, RuntimeError, OSError) as exc:
        print(json.dumps({'error': '%s: %s' % (type(exc).__name__, exc)}))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
