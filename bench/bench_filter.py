# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 3's speed goal: at 100k TCP sockets, a filter matching a handful of them runs within 1.0x the time of
`ss` with the same filter. Prints a table with both, and the ratio. Not part of the test suite.

    sudo .venv/bin/python bench/bench_filter.py [--sizes 1000,10000,100000] [--repeat 15] [--warmup 2] [--profile]

For each size, socket_tables.SocketTable builds the sockets in a throwaway namespace; a measuring process started
inside it (with --python, the interpreter Ansible would use on a managed host) times, round by round:
  ss             `ss -H -t -a -n FILTER` as a whole process (fork, exec, dump, print), output captured;
  ours in-process _gather.gather(tables=['tcp'], processes=False, filter_text=FILTER, summary=False): the module's
                  work (summary=False: `ss FILTER` prints no `ss -s` summary either; --summary adds it);
  ours whole      the same in a fresh `python3 -c` that prints the JSON result: interpreter start-up included
                  (module_utils bytecode cached in a temporary PYTHONPYCACHEPREFIX, as for an installed script).
Before timing a filter it checks that ss and ours select the same (local, port, peer, port) sockets and as many as
the table's known sockets predict; a mismatch stops the benchmark.
"""

import argparse
import collections
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import socket_tables

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.cache', 'collections')
SS = ['ss', '-H', '-t', '-a', '-n']
GATHER_IMPORT = 'from ansible_collections.netaudit.sockets.plugins.module_utils import _gather'
# json.dumps as AnsibleModule.exit_json does (json.dump would take the pure-Python encoder: 4x slower).
WHOLE_PROCESS = GATHER_IMPORT + '''
import json, sys
sys.stdout.write(json.dumps(_gather.gather(filter_text=sys.argv[1] or None, **json.loads(sys.argv[2]))))
'''
# (filter, how many of the known sockets it matches: see socket_tables' docstring); None is the unfiltered row.
FILTERS = (
    ('sport = :40001', lambda pairs: 1),
    ('( sport >= :40000 and sport <= :40004 )', lambda pairs: 5 + pairs),
    ('dst 127.9.9.9', lambda pairs: pairs),
    ('state listening sport = :40002', lambda pairs: 1),
)


class Mismatch(AssertionError):
    """ss and ours selected different sockets: the timings would compare different answers."""


# -- inside the namespace ----------------------------------------------------------------------------------------

def _ss_endpoint(text):
    host, port = text.rsplit(':', 1)
    host = host.split('%', 1)[0]
    if host.startswith('[') and host.endswith(']'):
        host = host[1:-1]
    return ('*' if host in ('*', '0.0.0.0', '::') else host), (0 if port == '*' else int(port))


def ss_selection(stdout):
    """(local, port, peer, port) of each line of `ss -H -t -a -n` output: [State] Recv-Q Send-Q Local Peer (ss
    leaves the State column out when the filter selects a single state)."""
    found = collections.Counter()
    for line in stdout.splitlines():
        fields = line.split()
        if fields:
            found[_ss_endpoint(fields[-2]) + _ss_endpoint(fields[-1])] += 1
    return found


def our_selection(records):
    found = collections.Counter()
    for record in records:
        local = '*' if record['local_address'] in ('0.0.0.0', '::') else record['local_address']
        peer = '*' if record['peer_address'] in ('0.0.0.0', '::') else record['peer_address']
        found[(local, record['local_port'], peer, record['peer_port'])] += 1
    return found


def _timed(function):
    started = time.perf_counter()
    kept = function()
    elapsed = time.perf_counter() - started
    del kept   # freeing a large result is not part of the work measured
    return elapsed


def _run(argv, env=None):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise RuntimeError('%s failed (exit %d): %s' % (argv[:3], proc.returncode, proc.stderr.strip()[-2000:]))
    return proc


def _rounds(runners, warmup, repeat):
    """Interleaved runs (one of each per round), so load that comes and goes hits every runner alike."""
    times = dict((name, []) for name, runner in runners)
    for number in range(warmup + repeat):
        for name, runner in runners:
            elapsed = _timed(runner)
            if number >= warmup:
                times[name].append(elapsed * 1000.0)
    return times


def _module_utils_zip(path):
    """The collection's module_utils in a zip, as AnsiballZ ships them: zipimport compiles them on every run."""
    package = ('ansible_collections', 'netaudit', 'sockets', 'plugins', 'module_utils')
    source = os.path.join(COLLECTIONS, *package)
    with zipfile.ZipFile(path, 'w') as archive:
        for depth in range(1, len(package) + 1):
            archive.writestr('/'.join(package[:depth] + ('__init__.py',)), '')
        for name in sorted(os.listdir(source)):
            if name.endswith('.py'):
                archive.write(os.path.join(source, name), '/'.join(package + (name,)))
    return path


def _python_envs(cache_dir):
    """Environments for the whole-process runs: module_utils imported from the collection with their bytecode cached
    (in a PYTHONPYCACHEPREFIX of ours, not in the repository), and imported from a zip as AnsiballZ does."""
    cached = dict(os.environ, PYTHONPATH=COLLECTIONS, PYTHONPYCACHEPREFIX=os.path.join(cache_dir, 'pycache'))
    cached.pop('PYTHONDONTWRITEBYTECODE', None)
    zipped = dict(cached, PYTHONPATH=_module_utils_zip(os.path.join(cache_dir, 'module_utils.zip')))
    return cached, zipped


def gather_options(gather, summary):
    """gather's keyword arguments: TCP only, no process owners (ss without -p), and no summary unless asked for
    (older versions of gather have no summary option and no summary)."""
    options = {'tables': ['tcp'], 'processes': False}
    if 'summary' in inspect.signature(gather).parameters:
        options['summary'] = summary
    return options


def measure(spec):
    """Runs inside the namespace; returns the results as a dict (printed as JSON to the controller)."""
    sys.path.insert(0, COLLECTIONS)
    gather = __import__('ansible_collections.netaudit.sockets.plugins.module_utils._gather', fromlist=['gather']).gather
    python, warmup, repeat = sys.executable, spec['warmup'], spec['repeat']
    options = gather_options(gather, spec.get('summary', False))
    results = {'python': '%s (%s)' % (platform.python_version(), python), 'cases': [], 'profiles': [],
               'gather': ', '.join('%s=%r' % item for item in sorted(options.items()))}
    with tempfile.TemporaryDirectory(prefix='na-bench-pycache-') as cache_dir:
        env, zipped_env = _python_envs(cache_dir)
        for text, expected in spec['cases']:
            ss_argv = SS + (text.split() if text else [])
            whole_argv = [python, '-c', WHOLE_PROCESS, text or '', json.dumps(options)]
            theirs = ss_selection(_run(ss_argv).stdout)
            ours = our_selection(gather(filter_text=text, **options)['sockets'])
            whole = our_selection(json.loads(_run(whole_argv, env).stdout)['sockets'])
            if theirs != ours or whole != ours:
                raise Mismatch('filter %r: ss selected %d sockets, ours %d in-process and %d as a whole process; '
                               'only ss: %s; only ours: %s'
                               % (text, sum(theirs.values()), sum(ours.values()), sum(whole.values()),
                                  sorted(theirs - ours)[:5], sorted(ours - theirs)[:5]))
            if expected is not None and sum(ours.values()) != expected:
                raise Mismatch('filter %r: ss and ours agree on %d sockets, but the table predicts %d'
                               % (text, sum(ours.values()), expected))
            times = _rounds((
                ('ss', lambda argv=ss_argv: _run(argv)),
                ('in_process', lambda text=text: gather(filter_text=text, **options)),
                ('whole', lambda argv=whole_argv: _run(argv, env)),
            ), warmup, repeat)
            results['cases'].append({'filter': text, 'matched': sum(ours.values()), 'times': times})
        results['startup'] = _rounds((
            ('ss -V', lambda: _run(['ss', '-V'])),
            ('python3 -c pass', lambda: _run([python, '-c', 'pass'], env)),
            ('python3 -c "import _gather"', lambda: _run([python, '-c', GATHER_IMPORT], env)),
            ('the same from a zip, as AnsiballZ imports it', lambda: _run([python, '-c', GATHER_IMPORT], zipped_env)),
        ), warmup, repeat)
    if spec.get('profile'):
        import gather_profile   # pylint: disable=import-outside-toplevel
        for case in spec['cases']:
            results['profiles'].append(gather_profile.profile(case[0], warmup, repeat, options=options))
    return results


# -- the controller ----------------------------------------------------------------------------------------------

def _cpu_model():
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def _memory_gib():
    try:
        with open('/proc/meminfo', encoding='ascii') as handle:
            return int(handle.readline().split()[1]) / 1048576.0
    except (OSError, ValueError, IndexError):
        return 0.0


def _load():
    return '%.2f %.2f %.2f' % os.getloadavg()


def _cell(samples):
    return '%.1f (%.1f-%.1f)' % (statistics.median(samples), min(samples), max(samples))


def _paired_ratio(ours, theirs):
    """The median of the per-round ratios: each round runs both back to back, so a slow phase of the machine
    (they come and go here for seconds at a time) slows both sides of a ratio alike."""
    return statistics.median(mine / other for mine, other in zip(ours, theirs))


def render(table, results, warmup, repeat, load_before, load_after):
    lines = ['### %s' % table.describe(), '',
             'built in %.1f s (%d holders of at most %d fds); %d rounds after %d warm-ups; times in ms: median (min-max); '
             'ratios: median of the per-round ratios; load average %s before, %s after'
             % (table.build_seconds, len(table.holders), table.max_holder_fds, repeat, warmup, load_before, load_after), '',
             '| filter | matched | `ss` | ours in-process | ours whole process | in-process / ss | whole process / ss |',
             '|---|---:|---:|---:|---:|---:|---:|']
    ratios = []
    for case in results['cases']:
        times = case['times']
        in_ratio = _paired_ratio(times['in_process'], times['ss'])
        whole_ratio = _paired_ratio(times['whole'], times['ss'])
        label = '`%s`' % case['filter'] if case['filter'] else 'none (`ss -tan`, every socket)'
        lines.append('| %s | %d | %s | %s | %s | %.2f | %.2f |'
                     % (label, case['matched'], _cell(times['ss']), _cell(times['in_process']), _cell(times['whole']),
                        in_ratio, whole_ratio))
        if case['filter']:
            ratios.append(in_ratio)
    lines += ['', 'process start-up alone (ms): ' + '; '.join(
        '`%s` %s' % (name, _cell(samples)) for name, samples in results['startup'].items())]
    return '\n'.join(lines), ratios


def _positive_ints(text):
    values = [int(value) for value in text.split(',') if value.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError('expected positive integers separated by commas, got %r' % text)
    return values


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['--measure']:
        try:
            print(json.dumps(measure(json.loads(argv[1]))))
        except (Mismatch, RuntimeError) as exc:
            print(json.dumps({'error': str(exc)}))
            return 1
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--sizes', type=_positive_ints, default=[100000], help='bulk TCP sockets, e.g. 1000,10000,100000')
    parser.add_argument('--repeat', type=int, default=15, help='timed runs per measurement (default 15)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs first (default 2)')
    parser.add_argument('--python', default='/usr/bin/python3',
                        help='interpreter that runs gather, as on a managed host (default /usr/bin/python3)')
    parser.add_argument('--filter', action='append', dest='filters', metavar='FILTER',
                        help='time this filter instead of the default ones (repeatable; checked against ss like them)')
    parser.add_argument('--summary', action='store_true', help="let gather also read the `ss -s` summary (the module's default)")
    parser.add_argument('--profile', action='store_true',
                        help='also show where gather spends its time (bench/gather_profile.py) for every filter')
    options = parser.parse_args(argv)
    if options.repeat < 1 or options.warmup < 0:
        parser.error('--repeat must be at least 1 and --warmup at least 0')
    if os.geteuid() != 0:
        print('bench_filter.py needs root: it builds its socket tables in a network namespace of its own '
              '(ip netns add) and measures inside it. Run: sudo .venv/bin/python bench/bench_filter.py', file=sys.stderr)
        return 2
    if not os.path.isdir(os.path.join(COLLECTIONS, 'ansible_collections', 'netaudit', 'sockets', 'plugins')):
        print('bench_filter.py: %s does not hold the collection; run tools/setup first' % COLLECTIONS, file=sys.stderr)
        return 2
    if not os.access(options.python, os.X_OK):
        print('bench_filter.py: no interpreter at %s; name one with --python' % options.python, file=sys.stderr)
        return 2
    socket_tables._stop_on_sigterm()   # pylint: disable=protected-access
    known_pairs = 3
    cases = [(text, count(known_pairs)) for text, count in FILTERS]
    if options.filters:
        cases = [(text, None) for text in options.filters]
    ss_version = subprocess.run(['ss', '-V'], capture_output=True, text=True, check=False).stdout.strip()
    print('# netaudit.sockets filter benchmark (issue 3), %s' % time.strftime('%Y-%m-%d %H:%M %Z'))
    print('')
    print('machine: %s, %d cores, %.0f GiB; kernel %s; ss: %s' % (_cpu_model(), os.cpu_count() or 0, _memory_gib(),
                                                                  platform.release(), ss_version), flush=True)
    worst = {}
    for size in options.sizes:
        try:
            with socket_tables.SocketTable(tcp=size, known_pairs=known_pairs) as table:
                spec = {'warmup': options.warmup, 'repeat': options.repeat, 'profile': options.profile, 'summary': options.summary,
                        'cases': cases + [(None, table.tcp_total)]}
                load_before = _load()
                proc = subprocess.run(table.exec_argv([options.python, os.path.abspath(__file__), '--measure', json.dumps(spec)]),
                                      capture_output=True, text=True, check=False)
                load_after = _load()
        except socket_tables.TableError as exc:
            print('bench_filter.py: %s' % exc, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print('bench_filter.py: interrupted; the namespace was removed', file=sys.stderr)
            return 130
        try:
            results = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            results = {'error': 'the measuring process failed (exit %d): %s' % (proc.returncode, proc.stderr.strip()[-3000:])}
        if 'error' in results:
            print('bench_filter.py: %s' % results['error'], file=sys.stderr)
            return 1
        if size == options.sizes[0]:
            print('python: %s; gather(filter_text=FILTER, %s)' % (results['python'], results['gather']))
        text, ratios = render(table, results, options.warmup, options.repeat, load_before, load_after)
        print('')
        print(text, flush=True)
        for profile in results['profiles']:
            print('')
            print(profile, flush=True)
        worst[size] = max(ratios) if ratios else None
    print('')
    for size, ratio in worst.items():
        if ratio is not None:
            print('%d bulk sockets: worst in-process ratio to ss over the filters %.2f (goal: at most 1.0 at 100k): %s'
                  % (size, ratio, 'met' if ratio <= 1.0 else 'not met'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
