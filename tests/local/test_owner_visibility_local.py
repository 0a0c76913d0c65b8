# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts from a PID namespace of their own (`unshare -pf --mount-proc ansible ...`), which
shares this machine's network: the listener of this test, outside that namespace, must come back marked, never as a
socket without owner in complete facts (docs/security.md)."""

import os
import shutil

import pytest

from support.natest import assert_owner_not_visible, run_adhoc
from support.scratch_netns import PID_NAMESPACE, unshared

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root for a PID namespace'),
    pytest.mark.skipif(not shutil.which('unshare'), reason='needs unshare'),
]


def adhoc_in_a_pid_namespace(args):
    """`unshare -pf --mount-proc ansible localhost -c local -m netaudit.sockets.socket_facts -a ARGS`; the facts."""
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', args, extra=['-c', 'local'], timeout=180,
                              wrap=lambda argv: unshared(argv, PID_NAMESPACE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return results['localhost']['ansible_facts']


def ours(facts, sock):
    inode = os.fstat(sock.fileno()).st_ino
    found = [record for record in facts['sockets'] if record['inode'] == inode]
    assert len(found) == 1, facts['sockets']
    return found[0]


def test_a_listener_outside_the_modules_pid_namespace_is_not_visible(tcp_listener):
    """Issue item 1, as the issue ran it: the listener shows no owner, so the record says not_visible, socket_meta
    counts it, owners_visible is false, and the facts are incomplete with the PID namespace and the count as reasons
    (through the socket_facts action and its compact transfer, which packs every record key)."""
    port = tcp_listener.getsockname()[1]
    facts = adhoc_in_a_pid_namespace('filter="sport = :%d"' % port)
    record = ours(facts, tcp_listener)
    assert_owner_not_visible(facts, record)


def test_listeners_of_the_whole_host_seen_from_a_pid_namespace_are_never_complete(tcp_listener):
    """Every listener of the host as the issue listed them (tcp and udp, listening: true): none of them is a socket
    without owner and owner_unknown, and the facts are not complete."""
    facts = adhoc_in_a_pid_namespace('tables=tcp,udp listening=true summary=false')
    ours(facts, tcp_listener)
    unmarked = [record for record in facts['sockets'] if not record['processes'] and record.get('owner_unknown') is None]
    assert unmarked == []
    assert facts['socket_meta']['complete'] is False


def test_the_same_listener_from_this_namespace_has_its_owner(tcp_listener):
    """The control: the same module run from the test's PID namespace names this process as the owner."""
    port = tcp_listener.getsockname()[1]
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :%d"' % port, extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = ours(results['localhost']['ansible_facts'], tcp_listener)
    assert os.getpid() in [process['pid'] for process in record['processes']]
    assert record['owner_unknown'] is None
    assert results['localhost']['ansible_facts']['socket_meta']['owners_unknown'] == {}


def test_processes_false_marks_every_record_not_gathered(tcp_listener):
    """processes=false: owner_unknown not_gathered (the caller's choice: owners_visible null, no incomplete reason
    for it)."""
    port = tcp_listener.getsockname()[1]
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :%d" processes=false' % port,
                              extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    assert ours(facts, tcp_listener)['owner_unknown'] == 'not_gathered'
    meta = facts['socket_meta']
    assert meta['owners_visible'] is None and meta['owners_unknown'] == {'not_gathered': 1}
    assert meta['complete'] is True, meta['incomplete_reasons']
