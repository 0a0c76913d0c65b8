# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): hostile filters. 20,000 generated ones in process (NUL bytes, unicode with lone surrogates,
numbers of thousands of digits, deep nesting, long chains, blanks only), named ones that each hit one value reader,
and 1 MB filters in a child process with a time and memory budget (hostile_child.py)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import values

from robustness import filtergen, hostile_child, oracles

HERE = os.path.dirname(os.path.abspath(__file__))
PARTS = 2
PER_PART = 10000
LARGE_STEP_SECONDS = 5.0        # one entry point, one 1 MB filter
LARGE_RSS_GROWTH_MB = 200
MESSAGE_LIMIT = 2000            # characters: an error message a person can read


@pytest.fixture(autouse=True)
def no_dns(monkeypatch):
    monkeypatch.setattr(values, 'default_resolver', filtergen.fake_resolver)


@pytest.mark.parametrize('part', range(PARTS))
def test_hostile_filters(part):
    fuzzer = oracles.Fuzzer(filtergen.seed(200 + part))
    fuzzer.run(filtergen.filters(fuzzer.seed, PER_PART, kinds=('hostile',)))
    if fuzzer.failures:
        pytest.fail(fuzzer.report(), pytrace=False)
    assert fuzzer.counts['filters'] == PER_PART


HUGE = '9' * 5000       # more decimal digits than Python's int() takes (4300)
NAMED = {
    # one reader each: ports, addresses and prefixes, marks, devices, link/netlink/vsock specs
    'port of 5000 digits': 'sport = ' + HUGE,
    'hex port of 5000 digits': 'dport > 0x' + 'f' * 5000,
    'prefix of 5000 digits': 'src 10.0.0.1/' + HUGE,
    'octet of 5000 digits': 'src 1.' + HUGE,
    'mark of 5000 digits': 'fwmark ' + HUGE + '/' + HUGE,
    'device index of 5000 digits': 'dev ' + HUGE,
    'vsock cid of 5000 digits': 'src vsock:' + HUGE + ':1',
    'netlink port of 5000 digits': 'src netlink:1:' + HUGE,
    'link port of 5000 digits': 'sport > link:' + HUGE,
    'octet below -2**64': 'src -18446744073709551617',
    'prefix below -2**64': 'src 10.0.0.1/-18446744073709551617',
    # NUL bytes and lone surrogates where a value goes to the operating system
    'NUL in a cgroup path': 'cgroup /a\x00b',
    'surrogate in a cgroup path': 'cgroup /\ud800',
    'NUL in a device name': 'dev lo\x00',
    'surrogate in a device name': 'dev \ud800',
    'NUL in a host name': 'src localhost\x00',
    'surrogate in a host name': 'dst \udc80example',
    'surrogate in a service name': 'sport = \udcff',
    'surrogate in a unix glob': 'src unix:*\ud800*',
    'NUL in a unix glob': 'src unix:\x00*',
    'surrogate as a state': 'state \ud800',
    'fullwidth digits': 'sport = \uff12\uff12',
    'arabic-indic digits': 'dport = \u0662\u0662',
    'unicode blanks': 'sport\u2003=\u200322',
    # nesting at and past the parser's limit, and far past it
    'nesting 199': '( ' * 199 + 'autobound' + ' )' * 199,
    'nesting 201': '( ' * 201 + 'autobound' + ' )' * 201,
    'not 199 times': 'not ' * 199 + 'autobound',
    'not 5000 times': 'not ' * 5000 + 'autobound',
    'bang 5000 times': '!' * 5000 + 'autobound',
    'parens 5000 deep': '(' * 5000 + 'autobound' + ')' * 5000,
    # globs with many stars against real unix socket names (fnmatch-style backtracking)
    'glob with 12 stars': 'src unix:' + '*a' * 12 + 'b',
    'glob with 25 stars': 'src unix:' + '*a' * 25 + 'b',
    'glob with 1000 stars': 'src unix:' + '*' * 1000 + 'x',
    # nothing at all
    'empty': '',
    'blanks': ' \t\n\x0b\x0c\r ',
    'lone backslash': '\\',
}


@pytest.mark.parametrize('text', list(NAMED.values()), ids=list(NAMED))
def test_named_hostile_filter(text):
    fuzzer = oracles.Fuzzer(filtergen.seed())
    fuzzer.run([('named', text, tables) for tables in (('tcp', 'udp'), ('all',))])
    if fuzzer.failures:
        pytest.fail(fuzzer.report(), pytrace=False)


# --- 1 MB filters, each in a child process: a hang or a blow-up cannot take the suite down ---------------------

def _large_run(case):
    """The report of one case's child; a child killed here has the report of what it finished."""
    try:
        run = subprocess.run([sys.executable, os.path.join(HERE, 'hostile_child.py'), case], capture_output=True, text=True,
                             timeout=4 * hostile_child.STEP_LIMIT + 10, check=False,
                             env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        stdout, stderr, code = run.stdout, run.stderr, run.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, code = (exc.stdout or b'').decode(), (exc.stderr or b'').decode(), 'killed'
    lines = [line for line in stdout.splitlines() if line.startswith('{')]
    report = json.loads(lines[-1]) if lines else {'steps': {}}
    report.update(exit=code, stderr=stderr[-2000:])
    return report


@pytest.fixture(scope='module')
def large_runs():
    """Every 1 MB case, run once, two children at a time: {case: report}."""
    cases = sorted(hostile_child.CASES)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(cases, pool.map(_large_run, cases)))


@pytest.mark.parametrize('case', sorted(hostile_child.CASES))
def test_large_filter_is_bounded(large_runs, case):
    """parse, select, the ss_filter plugin and gather() each answer a 1 MB filter within 5 s, with one of our errors
    or a result, and the child's peak memory grows by less than 200 MB."""
    report = large_runs[case]
    assert report['exit'] == 0 and not report.get('partial'), 'the child did not finish: %s' % json.dumps(report)[:3000]
    problems = []
    for step, result in report['steps'].items():
        if not result['outcome'].startswith(('ok', 'expected')):
            problems.append('%s: %s' % (step, result['outcome']))
        if result['seconds'] > LARGE_STEP_SECONDS:
            problems.append('%s took %.1f s (budget %.0f s)' % (step, result['seconds'], LARGE_STEP_SECONDS))
    if report.get('rss_growth_mb', 0) > LARGE_RSS_GROWTH_MB:
        problems.append('peak memory grew by %s MB' % report['rss_growth_mb'])
    if problems:
        pytest.fail('%s (%d characters):\n  %s' % (case, report.get('length', 0), '\n  '.join(problems)), pytrace=False)


@pytest.mark.parametrize('case', sorted(hostile_child.CASES))
def test_large_filter_error_is_readable(large_runs, case):
    """An error about a 1 MB filter quotes it in part: the message stays short enough to read."""
    lengths = dict((step, result.get('message_length', 0)) for step, result in large_runs[case]['steps'].items())
    too_long = dict((step, length) for step, length in lengths.items() if length > MESSAGE_LIMIT)
    assert not too_long, 'error messages longer than %d characters: %s' % (MESSAGE_LIMIT, too_long)
