# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`dev NAME` on the managed host: the module reads a device word as ss run in the same network namespace reads it.

A device the namespace does not have is refused, as ss refuses it ("Cannot parse device."), with the word, its
position and the namespace; what ss accepts (a device name, an index that need not exist, `if<N>`) is accepted and
gives ss's sockets. The oracle is the real ss, run in the host's namespace and in a namespace the test creates with
a device of its own and sockets bound to it. The controller's ss_filter keeps matching device names (documented in
docs/filter-language.md), so the same filter works on facts from other hosts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.netaudit.sockets.plugins.filter.socket_filters import ss_filter
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import lexer, ssfilter
from support.scratch_netns import COLLECTIONS, scratch_namespace

needs_ss = pytest.mark.skipif(not shutil.which('ss'), reason='needs the ss command')
DEVICE = 'na-dh-dev0'
MISSING = 'nosuchdev0'


def ss_verdict(filter_text, netns=None):
    """(accepted, inodes) of `ss -H -a -n -e -t -u FILTER`, run in netns (None: here)."""
    argv = ['ss', '-H', '-a', '-n', '-e', '-t', '-u', filter_text]
    if netns:
        argv = ['ip', 'netns', 'exec', netns] + argv
    run = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if run.returncode:
        return False, run.stderr.strip()
    inodes = sorted(int(word[4:]) for line in run.stdout.splitlines() for word in line.split() if word.startswith('ino:'))
    return True, inodes


def ours(filter_text, **options):
    """(accepted, inodes or the GatherError's message) of the module's gather path."""
    try:
        facts = _gather.gather(tables=['tcp', 'udp'], filter_text=filter_text, processes=False, summary=False, **options)
    except _gather.GatherError as exc:
        return False, str(exc)
    return True, sorted(record['inode'] for record in facts['sockets'])


def word_position(filter_text, word):
    return lexer.split_words(filter_text).index(word) + 1


# --- the word, read as ss reads it, in the host's own namespace (no root needed) ---------------------------

# Words ss 6.1 reads as a device index (names, if<N> in decimal with strtoul's wrap-around, numbers in any base up
# to 4294967295) and words it refuses; the oracle decides which is which.
WORDS = ['lo', '1', '99', '0', '00', '010', '0x1', '+5', '4294967295', '4294967296', '09', '0x', '-1', 'if1', 'if99',
         'if-1', 'if+3', 'if007', 'if5x', 'if99999999999', 'if4294967296', 'if0', 'if00', 'if', 'ifx', 'IF1',
         MISSING, 'lo0', 'abcdefghijklmno']


@needs_ss
@pytest.mark.parametrize('word', WORDS)
def test_the_module_refuses_what_ss_refuses_here(word):
    text = 'dev = %s' % word
    accepted, inodes = ss_verdict(text)
    got, answer = ours(text)
    assert got == accepted, (text, answer)
    if not accepted:
        assert answer.startswith('filter: no device "%s" on this host at word 3: "%s"' % (word, word)), answer
        assert 'ss refuses it too' in answer


def test_the_message_names_the_word_and_its_position():
    with pytest.raises(_gather.GatherError) as caught:
        _gather.gather(filter_text='sport = :22 or ( dev = %s )' % MISSING, processes=False)
    assert str(caught.value) == (
        'filter: no device "%s" on this host at word 8: "%s" (ss refuses it too, with "Cannot parse device."; a '
        'number is read as a device index)' % (MISSING, MISSING))


@pytest.mark.parametrize('text, word', [
    ('src link:ip:%s' % MISSING, 'link:ip:%s' % MISSING), ('sport = link:%s' % MISSING, 'link:%s' % MISSING),
])
def test_link_device_words_are_refused_too(text, word):
    with pytest.raises(_gather.GatherError) as caught:
        _gather.gather(tables=['packet'], filter_text=text, processes=False)
    message = str(caught.value)
    assert message.startswith('filter: no device "%s" on this host at word %d: "%s"' % (MISSING, word_position(text, word), word))
    if shutil.which('ss'):
        assert not ss_verdict(text)[0]


# --- the controller keeps its documented name matching --------------------------------------------------------

RECORDS = [
    {'netid': 'tcp', 'state': 'LISTEN', 'family': 'inet', 'local_address': '10.0.0.1', 'local_port': 22,
     'peer_address': '0.0.0.0', 'peer_port': 0, 'interface': MISSING},
    {'netid': 'tcp', 'state': 'LISTEN', 'family': 'inet', 'local_address': '10.0.0.1', 'local_port': 80,
     'peer_address': '0.0.0.0', 'peer_port': 0, 'interface': None},
]


def test_ss_filter_on_the_controller_matches_device_names():
    assert ss_filter(RECORDS, 'dev = %s' % MISSING) == [RECORDS[0]]
    assert ss_filter(RECORDS, 'not dev %s' % MISSING) == [RECORDS[1]]
    assert ssfilter.filter_records(RECORDS, 'dev %s' % MISSING) == [RECORDS[0]]


# --- a namespace with a device of its own -------------------------------------------------------------------

WORKER = textwrap.dedent('''
    import json, socket, sys
    SO_BINDTODEVICE = getattr(socket, 'SO_BINDTODEVICE', 25)
    kept, inodes = [], {}
    import os
    for name, kind, family, device in (('free', socket.SOCK_STREAM, socket.AF_INET, None),
                                       ('free6', socket.SOCK_STREAM, socket.AF_INET6, None),
                                       ('bound', socket.SOCK_STREAM, socket.AF_INET, sys.argv[1]),
                                       ('bound_udp', socket.SOCK_DGRAM, socket.AF_INET6, sys.argv[1]),
                                       ('lo_udp', socket.SOCK_DGRAM, socket.AF_INET, 'lo')):
        sock = socket.socket(family, kind)
        if device:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())
        sock.bind(('::' if family == socket.AF_INET6 else '0.0.0.0', 0))
        if kind == socket.SOCK_STREAM:
            sock.listen(5)
        kept.append(sock)
        inodes[name] = os.fstat(sock.fileno()).st_ino
    print(json.dumps(inodes), flush=True)
    sys.stdin.read()
''')

INSIDE = textwrap.dedent('''
    import json, sys
    from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
    out = {}
    for text in json.load(sys.stdin):
        try:
            facts = _gather.gather(tables=['tcp', 'udp'], filter_text=text, processes=False, summary=False)
            out[text] = [True, sorted(record['inode'] for record in facts['sockets'])]
        except _gather.GatherError as exc:
            out[text] = [False, str(exc)]
    print(json.dumps(out))
''')


def _host_only_device(netns):
    """A device of the host's own namespace that the scratch namespace does not have, or None."""
    listed = subprocess.run(['ip', '-n', netns, '-j', 'link', 'show'], capture_output=True, text=True, check=True)
    theirs = set(link['ifname'] for link in json.loads(listed.stdout))
    for _index, name in socket.if_nameindex():
        if name not in theirs and len(name) < 16:
            return name
    return None


@pytest.fixture(scope='module')
def scratch():
    with scratch_namespace('na-dh', why='it creates a network namespace with a device of its own') as netns:
        made = subprocess.run(['ip', '-n', netns, 'link', 'add', DEVICE, 'type', 'dummy'], capture_output=True, check=False)
        if made.returncode:      # no dummy driver here: an ifb device is a device all the same
            subprocess.run(['ip', '-n', netns, 'link', 'add', DEVICE, 'type', 'ifb'], check=True)
        for argv in (['link', 'set', 'lo', 'up'], ['link', 'set', DEVICE, 'up']):
            subprocess.run(['ip', '-n', netns] + argv, check=True)
        listed = subprocess.run(['ip', '-n', netns, '-j', 'link', 'show', DEVICE], capture_output=True, text=True, check=True)
        index = json.loads(listed.stdout)[0]['ifindex']
        worker = subprocess.Popen(['ip', 'netns', 'exec', netns, sys.executable, '-c', WORKER, DEVICE],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            inodes = json.loads(worker.stdout.readline())
            yield {'netns': netns, 'index': index, 'inodes': inodes, 'host_only': _host_only_device(netns)}
        finally:
            worker.stdin.close()
            worker.wait(timeout=30)


def cases(index, host_only):
    accepted = ['dev = %s' % DEVICE, 'dev %d' % index, 'dev if%d' % index, 'dev 0x%x' % index, 'dev if+%d' % index,
                'dev lo', 'dev 0', 'dev 99', 'dev if99', 'not dev %s' % DEVICE, 'dev != lo',
                'dev %s or dev lo' % DEVICE, 'sport = :0 or dev %s' % DEVICE]
    refused = ['dev = %s' % MISSING, 'not dev %s' % MISSING, 'dev lo or dev %s' % MISSING, 'dev if0',
               'dev %s0' % DEVICE]
    if host_only:
        refused.append('dev = %s' % host_only)
    return accepted, refused


def test_a_namespace_read_from_outside_and_from_inside_agrees_with_ss_there(scratch):
    netns, index, inodes = scratch['netns'], scratch['index'], scratch['inodes']
    accepted, refused = cases(index, scratch['host_only'])
    inside = subprocess.run(['ip', 'netns', 'exec', netns, sys.executable, '-c', INSIDE], input=json.dumps(accepted + refused),
                            capture_output=True, text=True, timeout=120, check=False,
                            env=dict(os.environ, PYTHONPATH=COLLECTIONS))
    assert inside.returncode == 0, inside.stderr[-3000:]
    from_inside = json.loads(inside.stdout)

    # The oracle is not vacuous: ss shows the device-bound sockets for the device, by name and by index.
    assert ss_verdict('dev = %s' % DEVICE, netns) == (True, sorted([inodes['bound'], inodes['bound_udp']]))
    assert ss_verdict('dev if%d' % index, netns) == ss_verdict('dev = %s' % DEVICE, netns)

    for text in accepted + refused:
        expected = ss_verdict(text, netns)
        assert expected[0] == (text in accepted), (text, expected)
        outside = ours(text, netns=netns)
        for where, got in (('netns option', outside), ('module run inside', from_inside[text])):
            assert got[0] == expected[0], (where, text, got, expected)
            if expected[0]:
                assert got[1] == expected[1], (where, text, got, expected)
        if not expected[0]:
            word = [w for w in lexer.split_words(text) if w not in ('dev', '=', 'not', 'or', 'lo')][-1]
            head = 'filter: no device "%s" ' % word
            tail = ' at word %d: "%s" (ss' % (word_position(text, word), word)
            assert outside[1].startswith(head + 'in network namespace %s' % netns + tail), outside[1]
            assert 'ss run there refuses it too' in outside[1]
            assert from_inside[text][1].startswith(head + 'on this host' + tail), from_inside[text][1]


def test_a_device_only_this_namespace_has_is_read_there_with_netns_all(scratch):
    """netns: all reads the host's own namespace too: a device it lacks refuses the run, naming it (as ss run in
    each namespace would refuse); one every namespace read has gives ss's sockets there."""
    netns = scratch['netns']
    if socket.if_nameindex() and DEVICE not in [name for _i, name in socket.if_nameindex()]:
        with pytest.raises(_gather.GatherError) as caught:
            _gather.gather(tables=['tcp', 'udp'], filter_text='dev %s' % DEVICE, netns=[netns, 'all'], processes=False)
        assert 'no device "%s" on this host' % DEVICE in str(caught.value)
    facts = _gather.gather(tables=['tcp', 'udp'], filter_text='dev lo', netns=netns, processes=False)
    assert sorted(r['inode'] for r in facts['sockets']) == ss_verdict('dev lo', netns)[1] == [scratch['inodes']['lo_udp']]
