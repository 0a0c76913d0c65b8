# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): 200 filters through the real module, each run as its own process (as AnsiballZ runs it).

Each run must print one JSON object: facts with changed false, or failed with a msg; never a traceback, an
`exception` key or text that is not JSON. The oracle is the filter language itself, in this process: the module fails
exactly for the filters that _ssfilter.ssfilter.parse refuses, with the same message, and every socket it returns matches."""

from __future__ import annotations

import concurrent.futures

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError

from robustness import filtergen
from robustness.modulerun import problems_with, run_module

COUNT = 200
# Inputs that reached an exception other than ours in the in-process fuzzing: each must be a clean failure here too.
PINNED = ['sport = ' + '9' * 5000, 'src 1.-18446744073709551617', 'src 10.0.0.1/-18446744073709551617', 'cgroup /a\x00b',
          'src unix:/run/[z-a]*', 'state listening ( sport = :ssh or sport = :https )', '', ' ',
          '( ' * 201 + 'autobound' + ' )' * 201, 'dev lo\x00', 'sport = \uff12\uff12']


def module_filters():
    """[(filter, tables)]: the pinned ones, then generated ones (grammar, mutated, hostile), reproducible from the seed.
    Lone surrogates are left out: AnsibleModule fails on them (encoding the arguments for its log) before any code of
    the module runs, which is ansible-core's limit; the in-process fuzzing covers them."""
    chosen = [(text, ('tcp', 'udp')) for text in PINNED]
    for kind, count in (('grammar', 100), ('mutation', 55), ('hostile', COUNT - 155 - len(PINNED))):
        chosen.extend(filtergen.ansible_safe(filtergen.seed(300), count, kind))
    return chosen


def expected(text, tables):
    """(message of the FilterError parse raises, or None when it parses; the parsed filter or None)."""
    try:
        # As the module reads it: parsed, then its device words read on this host (a device it lacks is refused, as
        # ss refuses it; test__ssfilter_dev_host.py checks that step against the real ss).
        return None, ssfilter.parse(text, tables=_gather.resolve_tables(list(tables))).bind_devices(None)
    except FilterError as exc:
        return str(exc), None
    except Exception as exc:  # pylint: disable=broad-except  # the in-process fuzzing reports these
        return 'crash: %s: %s' % (type(exc).__name__, exc), None


def test_filters_through_the_module_process():
    filters = module_filters()
    assert len(filters) == COUNT

    def one(item):
        text, tables = item
        args = {'filter': text, 'tables': list(tables), 'summary': False}
        if '\x00' in text:
            # AnsibleModule logs its arguments to syslog, which cannot carry a NUL (ansible-core 2.21 fails the run
            # there, before the module's code): no_log skips that line, so the filter reaches the module.
            args['_ansible_no_log'] = True
        return run_module(args)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(one, filters))
    failures = []
    succeeded = 0
    for (text, tables), (result, proc) in zip(filters, runs):
        found = problems_with(result, proc)
        message, flt = expected(text, tables)
        if not found and message is None and result.get('failed'):
            found.append('failed, though the filter parses here: %s' % result.get('msg'))
        elif not found and message is not None:
            if not result.get('failed'):
                found.append('succeeded, though parse refuses the filter here: %s' % message[:300])
            elif result['msg'] != message and not message.startswith('crash'):
                found.append('msg %r, parse here says %r' % (result['msg'][:300], message[:300]))
        if not found and not result.get('failed'):
            succeeded += 1
            sockets = result['ansible_facts']['sockets']
            try:
                kept = flt.select(sockets) if flt is not None else sockets
            except FilterError:
                kept = sockets        # `dev INDEX`: the records no longer carry the index, the module checked it
            if len(kept) != len(sockets):
                found.append('%d of the %d sockets returned do not match the filter' % (len(sockets) - len(kept), len(sockets)))
        if found:
            failures.append('%s (tables %s):\n    %s' % (ascii(text if len(text) < 200 else text[:200] + '...'), list(tables),
                                                         '\n    '.join(found)))
    if failures:
        pytest.fail('%d of %d module runs went wrong:\n%s' % (len(failures), COUNT, '\n'.join(failures)), pytrace=False)
    assert succeeded >= COUNT // 5, 'too few filters were accepted to check the facts path: %d' % succeeded
