# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""socket_facts' gather with netns: all, against namespaces this test makes (named, held by a process, deleted mid-run)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._netns import calling
from support.scratch_netns import scratch_namespace, unshared

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('ip') or not shutil.which('unshare'),
                                reason='needs root, ip and unshare to make network namespaces')

LISTEN = ("import socket, sys\n"
          "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)\n"
          "print('ready', flush=True); sys.stdin.read()\n")


def _listener(argv):
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'ready'
    return proc


@pytest.fixture()
def lab():
    procs = []
    with contextlib.ExitStack() as namespaces:
        named, gone = [namespaces.enter_context(scratch_namespace('na-gn-' + role, tools=('ip', 'unshare')))
                       for role in ('named', 'gone')]
        try:
            for name in (named, gone):
                subprocess.run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], check=True)
            procs.append(_listener(['ip', 'netns', 'exec', named, sys.executable, '-c', LISTEN, '41001']))
            held = _listener(unshared(['sh', '-c', 'ip link set lo up && exec "$0" -c "$1" 41002', sys.executable, LISTEN]))
            procs.append(held)
            yield {'named': named, 'gone': gone, 'held_pid': held.pid, 'own': os.stat('/proc/self/ns/net').st_ino}
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()


def test_netns_all_labels_each_namespace_and_reports_the_vanished_one(lab, monkeypatch):
    real_call_in = calling.call_in

    def deleting_first(namespace, func, *args, **kwargs):
        if namespace.label == lab['gone']:
            subprocess.run(['ip', 'netns', 'delete', lab['gone']], check=True)
        return real_call_in(namespace, func, *args, **kwargs)

    monkeypatch.setattr(calling, 'call_in', deleting_first)
    facts = _gather.gather(tables=['tcp'], listening=True, netns='all')
    meta = facts['socket_meta']
    held_label = 'pid %d (python%d.%d)' % (lab['held_pid'], sys.version_info[0], sys.version_info[1])
    # netns all also reads the namespaces of other tests running at the same time (pytest -n 2), which may listen on
    # the same ports: keep the records of this lab's two namespaces.
    held_prefix = 'pid %d (' % lab['held_pid']
    by_port = dict((r['local_port'], r) for r in facts['sockets'] if r['local_port'] in (41001, 41002)
                   and (r['netns'] == lab['named'] or str(r['netns']).startswith(held_prefix)))
    assert sorted(by_port) == [41001, 41002], facts['sockets']
    assert by_port[41001]['netns'] == lab['named']
    assert by_port[41002]['netns'].startswith(held_prefix), (by_port[41002]['netns'], held_label)
    assert by_port[41001]['processes'] and by_port[41002]['processes'][0]['pid'] == lab['held_pid']
    assert lab['named'] in meta['netns'] and by_port[41002]['netns'] in meta['netns']
    assert lab['gone'] not in meta['netns']
    assert [reason for reason in meta['incomplete_reasons'] if lab['gone'] in reason and 'vanished' in reason]
    assert meta['complete'] is False
    assert os.stat('/proc/self/ns/net').st_ino == lab['own'], 'the gathering process never changes namespace'


def test_netns_by_name_reads_only_that_namespace(lab):
    facts = _gather.gather(tables=['tcp'], listening=True, netns=lab['named'])
    assert [(r['local_port'], r['netns']) for r in facts['sockets']] == [(41001, lab['named'])]
    assert facts['socket_meta']['netns'] == [lab['named']]


def test_the_same_namespace_twice_is_read_once(lab):
    facts = _gather.gather(tables=['tcp'], listening=True, netns=[lab['named'], '/run/netns/' + lab['named']])
    assert [r['local_port'] for r in facts['sockets']] == [41001]


AUTOBOUND = ("import socket, sys\n"
             "s = socket.socket(); s.listen(4)\n"        # no bind: the kernel picks a port from the namespace's range
             "print('ready', flush=True); sys.stdin.read()\n")


def test_autobound_uses_each_namespace_port_range(lab):
    """A namespace whose ip_local_port_range (20000-20011) lies outside this host's: its listener that the kernel
    bound is `autobound` there, as ss run inside it says, although the host's range would not hold its port."""
    named = lab['named']
    subprocess.run(['ip', 'netns', 'exec', named, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=20000 20011'], check=True)
    holder = _listener(['ip', 'netns', 'exec', named, sys.executable, '-c', AUTOBOUND])
    # One in this namespace too, so that with netns all the host's range is read first.
    here = socket.socket()
    here.listen(4)
    try:
        ss = subprocess.run(['ip', 'netns', 'exec', named, 'ss', '-H', '-t', '-l', '-n', 'autobound'], check=True,
                            capture_output=True, text=True).stdout
        theirs = sorted(int(line.split()[-2].rsplit(':', 1)[1]) for line in ss.splitlines())
        assert len(theirs) == 1 and 20000 <= theirs[0] <= 20011, ss
        for netns in (named, 'all'):
            facts = _gather.gather(tables=['tcp'], listening=True, netns=netns, filter_text='autobound')
            ours = sorted(r['local_port'] for r in facts['sockets'] if r['netns'] == named)
            assert ours == theirs, (netns, facts['sockets'])
    finally:
        here.close()
        holder.kill()
        holder.wait()


def test_unknown_namespace_is_a_clear_error():
    with pytest.raises(_gather.GatherError) as info:
        _gather.gather(netns='na-gn-does-not-exist')
    assert str(info.value).startswith('netns: ') and 'na-gn-does-not-exist' in str(info.value)
