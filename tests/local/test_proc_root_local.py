# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts with proc_root: a copy of the hand-written /proc tree (with processes added)
read through the module, against the real ss reading the same tree (PROC_ROOT)."""

import pytest

from support.natest import run_adhoc
from support.procnet_trees import PROCESSES, SS_USERS, as_ss_prints_inet, compare_rows, inet_identity, sstext, tree_with_processes

pytestmark = pytest.mark.skipif(not sstext.available(), reason='needs the ss command')


def facts_of(args):
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', args, extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return results['localhost']['ansible_facts']


def test_module_reads_a_foreign_proc_tree_like_ss(tmp_path):
    """socket_facts proc_root=TREE tables=tcp,udp,raw against `ss -H -a -n -p -t -u -w` and `ss -s` with
    PROC_ROOT=TREE: records (identities, queues), owners from TREE/PID/fd, the summary, and the meta."""
    root = tree_with_processes(tmp_path)
    facts = facts_of('proc_root=%s tables=tcp,udp,raw' % root)
    meta = facts['socket_meta']
    assert meta['backend'] == 'proc' and meta['tables'] == ['raw', 'udp', 'tcp']
    assert meta['complete'] is False and any(r.startswith('table tcp read from /proc: ') for r in meta['incomplete_reasons'])
    records = facts['sockets']
    text = sstext.run(root, '-H', '-a', '-n', '-p', '-t', '-u', '-w')
    rows = sstext.inet_rows(text)
    assert len(rows) == len(records) == 17
    assert sorted(inet_identity(r) + (r['recv_q'], r['send_q']) for r in rows) == sorted(as_ss_prints_inet(r) for r in records)
    lines = [line for line in text.splitlines() if line.strip()]
    theirs = sorted(inet_identity(row) + (tuple(sorted(SS_USERS.findall(line))),) for line, row in zip(lines, rows))
    ours = sorted(inet_identity(r) + (tuple(sorted((p['name'], str(p['pid']), str(p['fd'])) for p in r['processes'])),)
                  for r in records)
    assert theirs == ours
    assert sum(len(r['processes']) for r in records) == sum(1 for _name, fds in PROCESSES.values() for i in fds.values() if i)
    summary = facts['socket_summary']
    assert dict((key, summary[key]) for key in ('total', 'tcp', 'transport')) == sstext.summary(sstext.run(root, '-s'))


@pytest.mark.parametrize('text', ['src 10.0.0.1', 'state time-wait', 'src [fe80::/10]'])
def test_module_filters_a_foreign_proc_tree_like_ss(tmp_path, text):
    """socket_facts proc_root=TREE filter=F against `ss -H -a -n -t -u F` with PROC_ROOT=TREE (v4-mapped,
    TIME-WAIT and link-local sockets of the hand-written tree)."""
    root = tree_with_processes(tmp_path)
    facts = facts_of('proc_root=%s filter="%s" processes=false summary=false' % (root, text))
    assert facts['socket_meta']['backend'] == 'proc' and facts['socket_meta']['filter'] == text
    assert 'socket_summary' not in facts
    theirs, ours = compare_rows(sstext.inet_rows(sstext.run(root, '-H', '-a', '-n', '-t', '-u', *text.split())), facts['sockets'])
    assert ours and theirs == ours
