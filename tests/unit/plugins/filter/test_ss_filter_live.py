# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: ss_filter on the controller selects what socket_facts returns with the filter."""

# The namespace and its sockets are those of the differential suite (test__ssfilter_live.py): its worker fills a fresh
# `na-f-*` namespace. Inside it, a helper gathers every socket once without a filter, and for every filter of that suite
# compares ss_filter(all records, filter) with the module's gather path run with the filter (kernel bytecode and all),
# which the suite itself checks against the real ss. The namespace and the test cgroup are always removed.

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _ssfilter_terms
from unit.plugins.module_utils import test__ssfilter_live as suite

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'ss_filter_live_helper.py')
FILTERS = [ours for ours, _ss in suite.FILTERS]

pytestmark = [pytest.mark.root, pytest.mark.skipif(suite._why_skip() is not None,  # pylint: disable=protected-access
                                                   reason=suite._why_skip() or '')]  # pylint: disable=protected-access


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    ns = 'na-f-%s' % uuid.uuid4().hex[:10]
    cgroup_name = 'na-f-cg-%s' % ns[5:]
    cgroup_root = _ssfilter_terms.cgroup2_mount()
    cgroup_dir = os.path.join(cgroup_root, cgroup_name) if cgroup_root else None
    workers = []
    try:
        suite._run('ip', 'netns', 'add', ns)        # pylint: disable=protected-access
        for cmd in (['link', 'set', 'lo', 'up'], ['link', 'add', 'na-f-ifb0', 'type', 'ifb'],
                    ['addr', 'add', '198.51.100.1/24', 'dev', 'na-f-ifb0'],
                    ['addr', 'add', '198.51.100.3/24', 'dev', 'na-f-ifb0'], ['link', 'set', 'na-f-ifb0', 'up']):
            suite._run('ip', '-n', ns, *cmd)        # pylint: disable=protected-access
        suite._run('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.tcp_syn_retries=8')  # pylint: disable=protected-access
        # Fixed client ports of the worker stay out of the ephemeral pool: see test__ssfilter_live.
        reserved = 'net.ipv4.ip_local_reserved_ports=32768,33000,40000-41000,45000-45010,60999'
        suite._run('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', reserved)  # pylint: disable=protected-access
        if cgroup_dir:
            os.makedirs(cgroup_dir, exist_ok=True)
        for flags in ([], ['--cgroup', '--wait'] if cgroup_dir else None):
            if flags is None:
                continue
            proc = subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, suite.HELPER, 'worker'] + flags,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True,
                                    env=suite._env())         # pylint: disable=protected-access
            workers.append(proc)
            pid = int(proc.stdout.readline())
            if '--wait' in flags:
                with open(os.path.join(cgroup_dir, 'cgroup.procs'), 'w') as handle:
                    handle.write('%d\n' % pid)
                proc.stdin.write('go\n')
                proc.stdin.flush()
            line = proc.stdout.readline().strip()
            assert line == 'ready', 'socket worker failed: %r' % line
        path = str(tmp_path_factory.mktemp('ss_filter') / 'filters.json')
        with open(path, 'w') as handle:
            json.dump([text.replace(suite.CGROUP, cgroup_name) for text in FILTERS], handle)
        done = suite._run('ip', 'netns', 'exec', ns, sys.executable, HELPER, 'compare', path,  # pylint: disable=protected-access
                          env=suite._env(), timeout=180, check=False)  # pylint: disable=protected-access
        assert done.returncode == 0, 'the comparison helper failed: %s' % done.stderr[-3000:]
        data = json.loads(done.stdout)
        data['have_cgroup'] = cgroup_dir is not None
        yield data
    finally:
        for proc in workers:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        suite._run('ip', 'netns', 'delete', ns, check=False)     # pylint: disable=protected-access
        if cgroup_dir and os.path.isdir(cgroup_dir):
            os.rmdir(cgroup_dir)


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
