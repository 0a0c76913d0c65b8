# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: the ethertype and netlink protocol names of link: and netlink: conditions,
against the real ss. A namespace `na-tb-...` gets one packet socket per ethertype and one netlink socket per
protocol the kernel has; `src link:NAME` and `src netlink:NAME` then run through ss and through _ssfilter on
our dumps. The namespace is always deleted."""

from __future__ import annotations

import json
import os
import re

import pytest

from support.scratch_netns import run_helper, scratch_namespace

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.values import ETHERTYPES, NETLINK_PROTOCOLS

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'sockdiag_other_live_helper.py')
# Spellings we accept and ss 6.1 refuses (their meaning is not in doubt).
OUR_EXTRAS = {'link': {'8021q', '8021ad', 'pppoe_disc', 'pppoe_sess'}, 'netlink': {'smc'}}

pytestmark = pytest.mark.root

CASES = sorted(('link', name) for name in ETHERTYPES) + sorted(('netlink', name) for name in NETLINK_PROTOCOLS)
# ss matches ethertype names without regard to case; a couple of spellings as people write them.
CASES += [('link', 'IPv6'), ('link', 'LLDP'), ('link', '802.1Q')]


@pytest.fixture(scope='module')
def live(tmp_path_factory):
    with scratch_namespace('na-tb', 'it creates a network namespace and packet sockets') as namespace:
        path = str(tmp_path_factory.mktemp('names') / 'job.json')
        job = {'ethertypes': sorted(set(ETHERTYPES.values())), 'netlink_protocols': sorted(set(NETLINK_PROTOCOLS.values())),
               'filters': [{'table': 'packet' if family == 'link' else 'netlink', 'filter': 'src %s:%s' % (family, name)}
                           for family, name in CASES]}
        with open(path, 'w') as handle:
            json.dump(job, handle)
        yield run_helper(namespace, HELPER, path)


def keys(table, found):
    if isinstance(found, str):
        if table == 'packet':
            return sorted(int(n) for n in re.findall(r'\bino:(\d+)', found))
        return sorted(set(line.split()[-2] for line in found.splitlines() if line.strip()))
    if table == 'packet':
        return sorted(r['inode'] for r in found)
    return sorted(set('%s:%s' % (r['local_address'], r['local_port']) for r in found))


def test_every_ethertype_has_its_socket(live):
    assert len(set(r['local_address'] for r in live['packet'])) == len(set(ETHERTYPES.values()))


@pytest.mark.parametrize('index', range(len(CASES)), ids=['%s:%s' % case for case in CASES])
def test_name_means_what_it_means_to_ss(live, index):
    family, name = CASES[index]
    entry = live['filters'][index]
    assert entry['filter'] == 'src %s:%s' % (family, name)
    assert 'parse_error' not in entry, entry['parse_error']
    if name in OUR_EXTRAS[family]:
        assert entry['ss_rc'] != 0, 'ss 6.1 now accepts %s: it is no longer an extra of ours' % name
        return
    assert entry['ss_rc'] == 0 and not entry['ss_err'], entry
    ours, theirs = keys(entry['table'], entry['ours']), keys(entry['table'], entry['ss'])
    if entry['table'] == 'netlink':
        # ss's own sock_diag socket (4:PID) and our reader's come and go.
        ours = [key for key in ours if not key.startswith('4:') or key == '4:0']
        theirs = [key for key in theirs if not key.startswith('4:') or key == '4:0']
    assert ours == theirs
    if entry['table'] == 'packet':
        assert len(ours) == 1
