# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: _ssfilter against the real ss (and the kernel) on real sockets."""

# The lab (support/ssfilter_lab.py): a network namespace `na-f-*` with an ifb device on 198.51.100.0/24 and a few
# hundred sockets of many kinds; a helper run inside it with `ip netns exec` compares, for every filter, the sockets
# ss prints with the ones _ssfilter selects (from ss -e records and from _netlink.inet dumps) and with what the kernel
# returns for our bytecode. The namespace and the test cgroup are always removed.

from __future__ import annotations

import os

import pytest

from support.ssfilter_lab import CGROUP, FILTERS, compare, filter_lab, why_skip

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, 'fixtures', 'ssfilter_live_helper.py')

pytestmark = [pytest.mark.root, pytest.mark.skipif(why_skip() is not None, reason=why_skip() or '')]


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    with filter_lab() as lab:
        yield compare(lab, HELPER, [{'ours': ours.replace(CGROUP, lab.cgroup_name), 'ss': ss.replace(CGROUP, lab.cgroup_name)}
                                    for ours, ss in FILTERS], tmp_path_factory.mktemp('ssfilter'), timeout=120)


def test_scale(live):
    print('\n%d sockets, %d filters, helper %.1f s' % (live['sockets'], len(live['results']), live['seconds']))
    assert live['sockets'] >= 200, live['sockets']
    assert len(live['results']) >= 200
    assert live['seconds'] < 60


@pytest.mark.parametrize('index', range(len(FILTERS)), ids=[case[0] for case in FILTERS])
def test_filter_agrees_with_ss(live, index):
    entry = live['results'][index]
    if 'cgroup' in entry['filter'] and not live['have_cgroup']:
        pytest.skip('no cgroup2 file system here')
    assert 'parse_error' not in entry, entry['parse_error']
    assert entry['ss_rc'] == 0 and not entry['ss_err'], (entry['ss_rc'], entry['ss_err'])
    unstable = set(live['unstable'])

    def stable(keys):
        return sorted(k for k in keys if k not in unstable)

    assert 'match_error' not in entry, entry['match_error']
    assert 'kernel_error' not in entry, entry['kernel_error']
    expected = stable(entry['ss'])
    checks = [('ours (records parsed from ss -e)', 'ours_ss_records')]
    if live['sockdiag']:
        checks += [('ours (records dumped by _netlink.inet)', 'ours_dump'),
                   ('ours (kernel-filtered dump)', 'ours_kernel'),
                   ('socket_facts (module gather path)', 'module')]
    for label, name in checks:
        got = stable(entry[name])
        assert got == expected, '%s differs from ss: only ours %s, only ss %s' % (
            label, sorted(set(got) - set(expected)), sorted(set(expected) - set(got)))
    if live['sockdiag']:
        # The kernel ran the expression unless it has a dev term (ss also evaluates those in userspace only).
        # None: the filter's families (unix:...) have no table among tcp and udp, so there was nothing to dump.
        inet = not entry['families'] or set(entry['families']) & {'inet', 'inet6'}
        expected_kernel = (entry['program'] is not None) if inet else None
        assert entry['module_kernel_filtered'] is expected_kernel, entry['module_kernel_filtered']
    if live['sockdiag'] and 'kernel_raw' in entry:
        raw, model = stable(entry['kernel_raw']), stable(entry['kernel_model'])
        assert raw == model, 'kernel %s program %s: only kernel %s, only our model %s' % (
            entry['filter'], entry['program'], sorted(set(raw) - set(model)), sorted(set(model) - set(raw)))
