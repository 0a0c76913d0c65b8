# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: one base exception for the collection (`_errors.NetauditError`).

Every exception class defined under plugins/ is found by reading the source files (so a new one without the base
fails here), each keeps the built-in base its callers catch, and socket_facts' main() turns any of them, also one
raised in another network namespace, into fail_json with the message and no traceback. The real ansible runs of
the same failures are in tests/local/test_socket_facts_errors_local.py.
"""

from __future__ import annotations

import ast
import errno
import importlib
import json
import os
import pickle

import pytest

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.testing import patch_module_args

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils import _errors
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils import _psutil_source
from ansible_collections.netaudit.sockets.plugins.module_utils._netlink import transport
from ansible_collections.netaudit.sockets.plugins.module_utils._netns import calling
from ansible_collections.netaudit.sockets.plugins.modules import socket_facts
from support.scratch_netns import scratch_namespace

PLUGINS = os.path.join(os.path.dirname(os.path.abspath(_errors.__file__)), os.pardir)
PACKAGE = 'ansible_collections.netaudit.sockets.plugins'


def defined_classes():
    """[(module name, class name, class)] of every class statement under plugins/, nested ones included."""
    found = []
    root = os.path.realpath(PLUGINS)
    for folder, _dirs, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] == '__init__':
                parts.pop()
            module_name = '.'.join([PACKAGE] + parts)
            with open(path, encoding='utf-8') as handle:
                tree = ast.parse(handle.read(), path)
            module = None
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    module = module or importlib.import_module(module_name)
                    # A class inside a function cannot be reached from the module: none may be an exception.
                    found.append((module_name, node.name, getattr(module, node.name, None)))
    return found


CLASSES = defined_classes()
EXCEPTIONS = [(module, name, cls) for module, name, cls in CLASSES if isinstance(cls, type) and issubclass(cls, BaseException)]


def test_the_walk_finds_the_exception_classes():
    names = set(name for _module, name, _cls in EXCEPTIONS)
    # Those of every area; the test below is about all of them, these only prove the walk is not blind.
    assert {'GatherError', 'TableError', 'FilterError', 'SockDiagError', 'NamespaceError', 'NamespaceGone',
            'NamespaceCallError', 'PsutilError', 'BoundedReadError', 'ProcRootError', 'PolicyError', 'ReportError',
            'BaselineError', 'ControllerFileError'} <= names, sorted(names)
    assert len(EXCEPTIONS) >= 18


def test_every_class_statement_names_a_class_of_its_module():
    """A class the walk cannot reach (defined in a function) could be an exception without the base."""
    unreachable = [(module, name) for module, name, cls in CLASSES if not isinstance(cls, type)]
    assert unreachable == []


@pytest.mark.parametrize('module, name, cls', EXCEPTIONS, ids=['%s.%s' % (m.rpartition('.')[2], n) for m, n, _c in EXCEPTIONS])
def test_every_exception_class_derives_from_the_base(module, name, cls):
    assert issubclass(cls, _errors.NetauditError), '%s.%s does not derive from NetauditError' % (module, name)


BUILT_IN_BASES = {
    'ControllerFileError': ValueError, 'BaselineError': ValueError, 'PolicyError': ValueError,
    'GatherError': ValueError, 'ReportError': ValueError, 'BoundedReadError': ValueError, 'ProcRootError': ValueError,
    'TableError': ValueError, 'FilterError': ValueError, 'SockDiagReplyError': ValueError,
    'SockDiagError': OSError, 'NamespaceError': OSError, 'NamespaceGone': OSError, 'PsutilError': OSError,
}


@pytest.mark.parametrize('name, base', sorted(BUILT_IN_BASES.items(), key=lambda item: item[0]))
def test_the_built_in_base_callers_catch_is_kept(name, base):
    found = [cls for _module, class_name, cls in EXCEPTIONS if class_name == name]
    assert len(found) == 1 and issubclass(found[0], base)


def test_an_os_error_keeps_its_errno_and_a_bounded_read_error_pickles():
    exc = transport.SockDiagError(errno.EPERM, 'refused')
    assert exc.errno == errno.EPERM and str(exc) == '[Errno %d] refused' % errno.EPERM
    refused = pickle.loads(pickle.dumps(_bounded.BoundedReadError('/proc/net/tcp', 'is a FIFO', errno.EINVAL)))
    assert (str(refused), refused.path, refused.reason, refused.errno) == (
        'cannot read /proc/net/tcp: it is a FIFO', '/proc/net/tcp', 'is a FIFO', errno.EINVAL)


# --- socket_facts' main(): one except -----------------------------------------------------------------------------

def run_main(capsys, **params):
    """The module's JSON answer for these parameters (main() run in this process)."""
    with patch_module_args(params):
        with pytest.raises(SystemExit):
            socket_facts.main()
    return json.loads(capsys.readouterr().out)


def failed(answer):
    assert answer.get('failed') is True, answer
    assert 'exception' not in answer and 'Traceback' not in answer['msg'], answer
    assert 'ansible_facts' not in answer
    return answer['msg']


@pytest.mark.parametrize('params, start', [
    ({'tables': ['tcp', 'bogus']}, 'tables: unknown socket table "bogus"'),
    ({'filter': 'sport = :ssh2'}, 'filter: '),
    ({'netns': 'na-er-does-not-exist'}, 'netns: '),
    ({'proc_root': '/nonexistent/proc'}, 'proc_root "/nonexistent/proc" '),
])
def test_main_fails_with_the_message_of_each_area(capsys, params, start):
    assert failed(run_main(capsys, **params)).startswith(start)


def test_main_fails_with_a_host_file_error(capsys, monkeypatch):
    def refuse(plan):
        raise _bounded.BoundedReadError('/proc/net/tcp', 'is a FIFO (named pipe), not a regular file')

    monkeypatch.setattr(_gather, '_read', refuse)
    assert failed(run_main(capsys)) == 'cannot read /proc/net/tcp: it is a FIFO (named pipe), not a regular file'


def test_main_fails_when_the_netlink_backend_is_refused(capsys, monkeypatch):
    def refused(*_args, **_kwargs):
        raise transport.SockDiagError(errno.EPERM, 'cannot open a NETLINK_SOCK_DIAG socket for the tcp table: refused')

    monkeypatch.setattr(_gather._tables, 'read_netlink', refused)
    assert failed(run_main(capsys, backend='netlink')) == ('[Errno %d] netlink sock_diag is not usable on this host: cannot '
                                                           'open a NETLINK_SOCK_DIAG socket for the tcp table: refused' % errno.EPERM)


def refused_by_psutil(plan):
    raise _psutil_source.PsutilError(errno.EACCES, 'psutil.net_connections(kind=%r) was refused (access denied)' % 'inet')


def test_main_fails_with_psutil_s_message(capsys, monkeypatch):
    monkeypatch.setattr(_psutil_source, '_LOADED', {'module': object(), 'error': None})
    monkeypatch.setattr(_gather, '_read', refused_by_psutil)
    assert failed(run_main(capsys)) == "[Errno %d] psutil.net_connections(kind='inet') was refused (access denied)" % errno.EACCES


def test_main_names_the_missing_library(capsys, monkeypatch):
    """The one path that keeps its own answer: ansible's missing_required_lib."""
    monkeypatch.setattr(_psutil_source, '_LOADED', {'module': None, 'error': 'Traceback ...\nImportError: no psutil\n'})
    monkeypatch.setattr(_gather, '_read', refused_by_psutil)
    answer = run_main(capsys)
    assert answer['failed'] is True and answer['msg'] == missing_required_lib('psutil')


@pytest.fixture
def namespace():
    with scratch_namespace('na-er', 'it reads another network namespace') as name:
        yield name


@pytest.mark.root
@pytest.mark.parametrize('raised, told', [
    (KeyError('lost'), "KeyError: 'lost'"),
    (transport.SockDiagError(errno.EPERM, 'refused there'), '[Errno %d] refused there' % errno.EPERM),
])
def test_an_error_in_another_namespace_is_a_call_error_that_main_reports(capsys, monkeypatch, namespace, raised, told):
    """What _read raised in the namespace's child comes back as NamespaceCallError naming the namespace, raised from
    the exception (which carries no attribute of ours); main() reports it like any other."""
    def fail(plan):
        raise raised

    monkeypatch.setattr(_gather, '_read', fail)    # the forked child inherits it
    with pytest.raises(calling.NamespaceCallError) as caught:
        _gather.gather(netns=namespace, processes=False)
    assert str(caught.value) == 'in network namespace %s: %s' % (namespace, told)
    assert type(caught.value.__cause__) is type(raised) and vars(caught.value.__cause__) == {}
    assert failed(run_main(capsys, netns=namespace, processes=False)) == 'in network namespace %s: %s' % (namespace, told)


@pytest.mark.root
def test_a_device_missing_in_another_namespace_stays_a_gather_error(namespace):
    with pytest.raises(_gather.GatherError) as caught:
        _gather.gather(netns=namespace, filter_text='dev = na-er-nodev0', processes=False)
    assert str(caught.value).startswith('filter: no device "na-er-nodev0" in network namespace %s ' % namespace)
    assert isinstance(caught.value.__cause__, calling.NamespaceCallError)
