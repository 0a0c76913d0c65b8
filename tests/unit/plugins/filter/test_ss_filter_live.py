# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: ss_filter on the controller selects what socket_facts returns with the filter."""

# The namespace and its sockets are those of the differential suite (test__ssfilter_live.py): the lab of
# support/ssfilter_lab.py, a fresh `na-f-*` namespace filled by its worker. Inside it, a helper gathers every socket
# once without a filter, and for every filter of that suite compares ss_filter(all records, filter) with the module's
# gather path run with the filter (kernel bytecode and all), which the suite itself checks against the real ss.
# The namespace and the test cgroup are always removed.

from __future__ import annotations

import os

import pytest

from support import ssfilter_lab

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'ss_filter_live_helper.py')
FILTERS = [ours for ours, _ss in ssfilter_lab.FILTERS]

pytestmark = [pytest.mark.root, pytest.mark.skipif(ssfilter_lab.why_skip() is not None, reason=ssfilter_lab.why_skip() or '')]


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    with ssfilter_lab.filter_lab() as lab:
        yield ssfilter_lab.compare(lab, HELPER, [text.replace(ssfilter_lab.CGROUP, lab.cgroup_name) for text in FILTERS],
                                   tmp_path_factory.mktemp('ss_filter'), timeout=180)


def test_scale(live):
    print('\n%d sockets, %d filters, helper %.1f s' % (live['sockets'], len(live['results']), live['seconds']))
    assert live['sockets'] >= 200
    assert len(live['results']) == len(FILTERS)
    # Not a tautology: the facts hold marked sockets, a test cgroup's sockets, and both kinds of port.
    locks = set(live['locks'].values())
    assert locks == {True, False}, 'the namespace should hold explicitly bound and kernel-picked ports'
    assert set(live['marks']) - {0}, 'the namespace should hold a marked socket'


def test_facts_carry_the_kernels_port_locks(live):
    """port_locked in the facts agrees with an independent dump of the kernel's own BC_AUTO test."""
    unstable = set(live['unstable'])
    wrong = sorted(k for k, locked in live['locks'].items() if k not in unstable and locked == (k in live['unlocked']))
    assert not wrong, wrong


@pytest.mark.parametrize('index', range(len(FILTERS)), ids=FILTERS)
def test_ss_filter_selects_what_socket_facts_returns(live, index):
    """ss_filter over the facts (what socket_facts returns without a filter) selects exactly what socket_facts
    returns with the filter: fwmark, cgroup and autobound included (the facts carry mark, cgroup_id, port_locked)."""
    entry = live['results'][index]
    text = entry['filter']
    if 'cgroup' in text and not live['have_cgroup']:
        pytest.skip('no cgroup2 file system here')
    assert 'module_error' not in entry, entry['module_error']
    assert 'ours_error' not in entry, entry['ours_error']
    module = set(entry['module']) - set(live['unstable'])
    ours = set(entry['ours']) - set(live['unstable'])
    assert module == ours, 'only ss_filter %s, only socket_facts %s' % (sorted(ours - module), sorted(module - ours))
