# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: call_in() results, errors, timeouts and children, in our own namespace.

Entering a namespace, even one's own, needs CAP_SYS_ADMIN: most tests here need root and say so.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _records
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import inet, transport
from ansible_collections.netaudit.sockets.plugins.module_utils._netns import calling, resolving

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='needs root: entering a network namespace needs CAP_SYS_ADMIN')


def own_namespace():
    stat = os.stat('/proc/self/ns/net')
    return resolving.Namespace('own', '/proc/%d/ns/net' % os.getpid(), (stat.st_dev, stat.st_ino))


def children():
    """PIDs of this process's children (living or zombie), or None where the kernel does not list them."""
    found = set()
    task_dir = '/proc/%d/task' % os.getpid()
    for task in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, task, 'children')) as handle:
                found.update(handle.read().split())
        except OSError:
            return None
    return found


@pytest.fixture
def no_leftover_children():
    before = children()
    inode = os.stat('/proc/self/ns/net').st_ino
    yield
    assert os.stat('/proc/self/ns/net').st_ino == inode
    if before is not None:
        assert children() == before, 'call_in left a child process behind'


def many_records(count):
    return [_records.new_record(netid='tcp', state='ESTAB', family='inet', local_address='10.0.%d.%d' % divmod(i % 65536, 256),
                                local_port=1024 + i % 60000, peer_address='10.1.0.1', peer_port=443, inode=100000 + i,
                                uid=0, user='root') for i in range(count)]


class Unpicklable(Exception):
    def __init__(self, first, second):
        super(Unpicklable, self).__init__('%s and %s' % (first, second))


def raise_unpicklable():
    raise Unpicklable('one', 'two')


def fail_with(exc):
    raise exc


def sleep_long():
    time.sleep(60)


def kill_myself():
    os.kill(os.getpid(), signal.SIGKILL)


def shout():
    print('from print in the child')
    sys.stdout.flush()
    os.write(1, b'from fd 1 in the child\n')
    return os.getpid()


def return_unpicklable():
    return lambda: None


pytestmark = [needs_root, pytest.mark.root, pytest.mark.usefixtures('no_leftover_children')]


def test_result_comes_back_from_a_child():
    assert calling.call_in(own_namespace(), divmod, 7, 2) == (3, 1)
    assert calling.call_in(own_namespace(), os.getpid) != os.getpid()


def test_keyword_arguments_and_a_large_result():
    records = calling.call_in(own_namespace(), many_records, count=20000)
    assert records == many_records(20000)


def test_dump_inet_in_our_own_namespace():
    records = calling.call_in(own_namespace(), inet.dump_inet, 6, 2, _records.ALL_STATES)
    assert isinstance(records, list)


def test_exceptions_come_back_as_a_call_error_naming_the_namespace_raised_from_them():
    original = ValueError('bad value')
    with pytest.raises(calling.NamespaceCallError) as caught:
        calling.call_in(own_namespace(), fail_with, original)
    assert str(caught.value) == 'in network namespace own: ValueError: bad value'
    assert caught.value.netns == 'own' and caught.value.type_name == 'ValueError'
    assert 'fail_with' in caught.value.child_traceback
    cause = caught.value.__cause__
    assert cause.__class__ is ValueError and str(cause) == 'bad value'
    assert vars(cause) == {}, 'nothing is set on an exception that is not the collection\'s'
    with pytest.raises(calling.NamespaceCallError) as caught:
        calling.call_in(own_namespace(), fail_with, transport.SockDiagError(errno.EPERM, 'refused'))
    # The collection's own: its message says what failed, so the type is left out.
    assert str(caught.value) == 'in network namespace own: [Errno %d] refused' % errno.EPERM
    cause = caught.value.__cause__
    assert cause.__class__ is transport.SockDiagError and cause.errno == errno.EPERM and vars(cause) == {}


def test_an_exception_that_cannot_travel_becomes_a_call_error():
    with pytest.raises(calling.NamespaceCallError) as caught:
        calling.call_in(own_namespace(), raise_unpicklable)
    assert str(caught.value) == 'in network namespace own: %s.Unpicklable: one and two' % __name__
    assert caught.value.netns == 'own'
    assert caught.value.__cause__ is None


def test_a_result_that_cannot_travel_is_a_call_error():
    with pytest.raises(calling.NamespaceCallError, match='the result cannot be sent back'):
        calling.call_in(own_namespace(), return_unpicklable)


def test_exit_in_the_child_does_not_exit_the_caller():
    with pytest.raises(calling.NamespaceCallError, match='SystemExit: 3'):
        calling.call_in(own_namespace(), sys.exit, 3)


def test_a_child_killed_by_a_signal_is_an_error():
    with pytest.raises(calling.NamespaceError, match='killed by signal SIGKILL') as caught:
        calling.call_in(own_namespace(), kill_myself)
    assert caught.value.errno == errno.EIO
    assert not isinstance(caught.value, calling.NamespaceGone)


def test_a_child_that_takes_too_long_is_killed(monkeypatch):
    monkeypatch.setattr(calling, 'TIMEOUT_SECONDS', 0.3)
    started = time.monotonic()
    with pytest.raises(calling.NamespaceError, match='no answer in') as caught:
        calling.call_in(own_namespace(), sleep_long)
    assert caught.value.errno == errno.ETIMEDOUT
    assert time.monotonic() - started < 30


def test_the_child_prints_to_stderr_not_to_our_stdout(capfd):
    child = calling.call_in(own_namespace(), shout)
    out, err = capfd.readouterr()
    assert 'in the child' not in out
    assert 'from print in the child' in err and 'from fd 1 in the child' in err and child != os.getpid()


def test_a_missing_file_is_gone():
    namespace = resolving.Namespace('vanished', '/run/netns/na-ns-never-made', (0, 0))
    with pytest.raises(calling.NamespaceGone, match='vanished is gone'):
        calling.call_in(namespace, os.getpid)


def test_a_file_that_leads_elsewhere_now_is_gone():
    stat = os.stat('/proc/self/ns/net')
    namespace = resolving.Namespace('moved', '/proc/self/ns/net', (stat.st_dev, stat.st_ino + 1))
    with pytest.raises(calling.NamespaceGone, match='now leads to another namespace'):
        calling.call_in(namespace, os.getpid)


def test_a_file_that_is_no_namespace_cannot_be_entered(tmp_path):
    path = tmp_path / 'plain'
    path.write_text('')
    stat = os.stat(str(path))
    namespace = resolving.Namespace('plain', str(path), (stat.st_dev, stat.st_ino))
    with pytest.raises(calling.NamespaceGone, match='could not be entered'):
        calling.call_in(namespace, os.getpid)
