# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: read_summary against `ss -s` in a namespace holding known sockets.

fixtures/procnet/helper.py (run by netns.py in a namespace `na-pn-*`, deleted afterwards) opens the sockets of
scenario.py and reads read_summary(), `ss -s`, and read_summary() again, until the two reads of ours agree: TCP's
`alloc` and `orphan` counters belong to the whole host, so other work can move them in between.
"""

from __future__ import annotations

import pytest

from support.procnet_trees import load_fixture, sstext


netns = load_fixture('netns')

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(netns.why_unavailable() is not None, reason=netns.why_unavailable() or '')]


@pytest.fixture(scope='module')
def attempts():
    try:
        return netns.run_helper('summary')
    except netns.Unavailable as exc:
        pytest.skip(str(exc))


def figures(summary):
    return dict((key, summary[key]) for key in ('total', 'tcp', 'transport'))


def test_read_summary_equals_ss_s_in_the_same_namespace(attempts):
    stable = attempts['attempts'][-1]
    assert stable['before'] == stable['after'], 'the counters never held still for one ss -s'
    assert stable['before']['problems'] == []
    assert figures(stable['before']) == sstext.summary(stable['ss'])


def test_the_namespace_figures_are_the_scenarios(attempts):
    summary = attempts['attempts'][-1]['before']
    expected = attempts['expected']
    hashed = dict((family, sum(1 for r in expected if r['netid'] == 'tcp' and r['family'] == family
                               and r['state'] != 'TIME-WAIT')) for family in ('inet', 'inet6'))
    # Per-namespace counters, from the sockets that were opened: TCP inuse counts the full TCP sockets in a hash
    # table (listening or connected, not TIME-WAIT minisockets), TCP6 likewise; tw counts the TIME-WAIT socket.
    assert summary['transport']['tcp'] == {'total': hashed['inet'] + hashed['inet6'], 'ip': hashed['inet'],
                                           'ipv6': hashed['inet6']}
    assert summary['tcp']['timewait'] == sum(1 for r in expected if r['state'] == 'TIME-WAIT')
    established = sum(1 for r in expected if r['netid'] == 'tcp' and r['state'] == 'ESTAB')
    closing = sum(1 for r in expected if r['netid'] == 'tcp' and r['state'] == 'CLOSE-WAIT')
    # Linux counts CLOSE-WAIT in CurrEstab since 6.10 (as RFC 1213 says), ESTABLISHED only before.
    assert summary['tcp']['estab'] in (established, established + closing)
    udp = dict((family, sum(1 for r in expected if r['netid'] == 'udp' and r['family'] == family))
               for family in ('inet', 'inet6'))
    assert summary['transport']['udp'] == {'total': udp['inet'] + udp['inet6'], 'ip': udp['inet'], 'ipv6': udp['inet6']}
    raw = dict((family, sum(1 for r in expected if r['netid'] == 'raw' and r['family'] == family))
               for family in ('inet', 'inet6'))
    assert summary['transport']['raw'] == {'total': raw['inet'] + raw['inet6'], 'ip': raw['inet'], 'ipv6': raw['inet6']}
