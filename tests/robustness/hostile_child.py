# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: one 1 MB filter through parse, select, the ss_filter plugin and gather, in a child process.

Usage: python hostile_child.py CASE. Prints one JSON object: per entry point, the outcome (`ok`, or the exception's
class and the start of its message) and the seconds it took; the peak resident memory before and after. The parent
kills the child when it runs past its time budget, so a hang is a finding rather than a stuck suite."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ansible.errors import AnsibleFilterError  # noqa: E402  (after the path is set)

from ansible_collections.netaudit.sockets.plugins.filter import socket_filters  # noqa: E402
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather  # noqa: E402
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter, values  # noqa: E402
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError  # noqa: E402
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast  # noqa: E402

from robustness import filtergen  # noqa: E402

SIZE = 1 << 20
STEP_LIMIT = 5.5      # seconds: a step still running then is stopped (the test's bound is 5 s)
LARGE = 60000        # a large filter that a length limit (if the project has one) should still take
EXPECTED = (FilterError, _gather.GatherError, AnsibleFilterError)
held = {}       # the parsed filter between steps, and the length of the last error message


def _repeat(unit, joiner=' ', size=SIZE):
    """Whole copies of unit, joined, up to size characters."""
    return joiner.join([unit] * (size // (len(unit) + len(joiner))))


def _latin1():
    rng = random.Random(filtergen.seed(99))
    return bytes(rng.randrange(256) for _i in range(SIZE)).decode('latin-1')


CASES = {
    'or_chain': lambda: _repeat('sport = 22', ' or '),
    'and_chain': lambda: _repeat('autobound'),
    'src_chain_v6': lambda: _repeat('src [2001:db8::/32]', ' || '),
    'mixed_chain': lambda: _repeat('( sport >= 1024 and not dst 10.0.0.0/8 ) or dport = :ssh'),
    'or_chain_60k': lambda: _repeat('sport = 22', ' or ', LARGE),
    'and_chain_60k': lambda: _repeat('autobound', ' ', LARGE),
    'mixed_chain_60k': lambda: _repeat('( sport >= 1024 and not dst 10.0.0.0/8 ) or dport = :ssh', ' ', LARGE),
    'one_word': lambda: 'x' * SIZE,
    'src_word': lambda: 'src ' + 'a' * SIZE,
    'parens': lambda: '(' * SIZE,
    'nots': lambda: _repeat('not') + ' autobound',
    'blanks': lambda: ' \t' * (SIZE // 2),
    'unix_stars': lambda: 'src unix:' + '*' * SIZE,
    'unix_glob': lambda: 'src unix:' + '*a' * (SIZE // 2),
    'digits': lambda: 'sport = ' + '9' * SIZE,
    'nul': lambda: '\x00' * SIZE,
    'latin1': _latin1,
}


class StepTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise StepTimeout('still running after %.1f s' % STEP_LIMIT)


def _timed(call):
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, STEP_LIMIT)
    try:
        call()
        outcome = 'ok'
    except StepTimeout as exc:
        outcome = 'TIMEOUT %s' % exc
    except EXPECTED as exc:
        message = str(exc)
        held['length'] = len(message)
        outcome = 'expected %s: %s' % (type(exc).__name__, message[:160])
    except BaseException as exc:  # pylint: disable=broad-except  # any other is the finding
        outcome = 'UNEXPECTED %s: %s' % (type(exc).__name__, str(exc)[:300])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {'outcome': outcome, 'seconds': round(time.monotonic() - started, 3), 'message_length': held.pop('length', 0)}


def main():
    signal.signal(signal.SIGALRM, _alarm)
    text = CASES[sys.argv[1]]()
    values.default_resolver = filtergen.fake_resolver
    records = filtergen.dump_records()
    facts = filtergen.facts_records()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = {'case': sys.argv[1], 'length': len(text), 'steps': {}}

    def parse():
        held['flt'] = ssfilter.parse(text, tables=('tcp', 'udp', 'unix'), resolver=filtergen.fake_resolver)

    def select():
        held['flt'].select(records)
        _ssfilter_fast.FastFilter(held['flt']).select(records)

    steps = [('parse', parse), ('select', select),
             ('ss_filter', lambda: socket_filters.ss_filter(facts, text, ['tcp', 'udp', 'unix'])),
             ('gather', lambda: _gather.gather(tables=['tcp', 'udp', 'unix'], filter_text=text, processes=False, summary=False))]
    for name, call in steps:
        if name == 'select' and 'flt' not in held:
            continue
        report['steps'][name] = _timed(call)
        print(json.dumps(dict(report, partial=True)), flush=True)
        if report['steps'][name]['outcome'].startswith('TIMEOUT'):
            break
    report['rss_growth_mb'] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024.0, 1)
    print(json.dumps(report), flush=True)


if __name__ == '__main__':
    main()
