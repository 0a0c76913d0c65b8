# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_origin/unit_files.py: a manager's unit files and drop-ins, read as systemd loads them.

Oracle: trees written by the tests in systemd's documented layout (search path order, first name found wins,
masking by /dev/null or an empty file, aliases, instances of templates, `.d/` drop-ins of the name, template, dash
prefixes and type, overridden by file name and applied in file-name order, the unit-file syntax), and hostile trees
(FIFO, huge file, link loop, invalid UTF-8, a drop-in folder that is a file). Nothing in it may hang: the module
reads every file bounded."""

import os

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._origin import unit_files
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.unit_files import (
    SYSTEM_SEARCH_PATH, Tree, UnitFiles, dropin_names, parse_unit_text, user_search_path, with_unit_path_override)

from support.cgroup_lab import write_tree

ETC, RUN, LIB = '/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system'


def load(root, files):
    write_tree(root, files)
    found = UnitFiles(SYSTEM_SEARCH_PATH, str(root)).load()
    return dict((unit.name, unit) for unit in found)


def sockets(unit):
    return [(key, value) for section, key, value, _where in unit.assignments if section == 'Socket']


@pytest.mark.parametrize('text, expected', [
    ('[Socket]\nListenStream=22\n', [('Socket', 'ListenStream', '22')]),
    ('  [Socket]  \n  ListenStream = 22  \n', [('Socket', 'ListenStream', '22')]),
    ('# c\n; c\n[Socket]\n#ListenStream=1\nListenStream=2\n', [('Socket', 'ListenStream', '2')]),
    ('[Socket]\nListenStream=a\\\nb\n', [('Socket', 'ListenStream', 'a b')]),
    ('[Socket]\nListenStream=a\\\n# comment inside\nb\n', [('Socket', 'ListenStream', 'a b')]),
    ('[Socket]\nListenStream=a\\\\\nB=c\n', [('Socket', 'ListenStream', 'a\\\\'), ('Socket', 'B', 'c')]),
    ('ListenStream=1\n[Socket]\nnoequals\n[Broken\nListenStream=2\n', []),
    ('[Unit]\nA=1\n[Socket]\nListenStream=\n', [('Unit', 'A', '1'), ('Socket', 'ListenStream', '')]),
    ('\ufeff[Socket]\r\nListenStream=3\r\n', [('Socket', 'ListenStream', '3')]),
    ('[Socket]\nListenStream=a=b\n', [('Socket', 'ListenStream', 'a=b')]),
])
def test_unit_file_syntax(text, expected):
    assert parse_unit_text(text.encode(), 'x.socket') == expected


@pytest.mark.parametrize('data, words', [(b'[Socket]\nListenStream=\xff\n', 'not UTF-8'), (b'[Socket]\0\n', 'NUL')])
def test_text_systemd_would_skip_is_a_problem(data, words):
    with pytest.raises(unit_files.UnitFileProblem, match=words):
        parse_unit_text(data, 'x.socket')


@pytest.mark.parametrize('name, expected', [
    ('foo.socket', ['foo.socket']),
    ('foo-bar-baz.socket', ['foo-bar-baz.socket', 'foo-bar-.socket', 'foo-.socket']),
    ('foo-bar-.socket', ['foo-bar-.socket', 'foo-.socket']),
    ('foo@x.socket', ['foo@x.socket', 'foo@.socket']),
    ('a-b@x.socket', ['a-b@x.socket', 'a-b@.socket', 'a-@.socket', 'a-@x.socket', 'a-@.socket']),
    ('-foo.socket', ['-foo.socket']),
])
def test_dropin_folders_of_a_name(name, expected):
    assert dropin_names(name) == expected


def test_first_found_wins_masking_and_aliases(tmp_path):
    found = load(tmp_path, {
        LIB + '/a.socket': '[Socket]\nListenStream=1\n',
        ETC + '/a.socket': '[Socket]\nListenStream=2\n',                      # earlier in the path: wins
        LIB + '/b.socket': '[Socket]\nListenStream=3\n',
        ETC + '/b.socket': ('link', '/dev/null'),                             # masked
        LIB + '/c.socket': '[Socket]\nListenStream=4\n',
        RUN + '/c.socket': '',                                                # an empty file masks too
        LIB + '/real.socket': '[Socket]\nListenStream=5\n',
        ETC + '/alias.socket': ('link', LIB + '/real.socket'),                # an alias of real.socket
        '/lib/systemd/system/d.socket': '[Socket]\nListenStream=6\n',          # the last folders count too
        '/run/systemd/generator.late/e.socket': '[Socket]\nListenStream=7\n',
        '/opt/linked.socket': '[Socket]\nListenStream=8\n',
        ETC + '/linked.socket': ('link', '/opt/linked.socket'),               # a linked unit file (outside the path)
        ETC + '/relative.socket': ('link', '../../../usr/lib/systemd/system/real.socket'),
        LIB + '/notes.txt': 'x', LIB + '/bad name.socket': '[Socket]\nListenStream=9\n',
    })
    assert sorted(found) == ['a.socket', 'b.socket', 'c.socket', 'd.socket', 'e.socket', 'linked.socket', 'real.socket']
    assert sockets(found['a.socket']) == [('ListenStream', '2')]
    assert found['b.socket'].masked and found['c.socket'].masked and not sockets(found['b.socket'])
    assert sockets(found['linked.socket']) == [('ListenStream', '8')]
    assert all(unit.problem is None for unit in found.values())


def test_dropins_override_by_file_name_and_apply_in_name_order(tmp_path):
    found = load(tmp_path, {
        LIB + '/foo-bar.socket': '[Socket]\nListenStream=1\n',
        LIB + '/foo-bar.socket.d/20-b.conf': '[Socket]\nListenStream=lib-20\n',
        ETC + '/foo-bar.socket.d/20-b.conf': '[Socket]\nListenStream=etc-20\n',   # overrides the one in lib
        RUN + '/foo-bar.socket.d/10-a.conf': '[Socket]\nListenStream=run-10\n',
        LIB + '/foo-.socket.d/15-prefix.conf': '[Socket]\nListenStream=prefix-15\n',
        LIB + '/socket.d/05-type.conf': '[Socket]\nListenStream=type-05\n',
        ETC + '/socket.d/30-masked.conf': ('link', '/dev/null'),
        LIB + '/socket.d/30-masked.conf': '[Socket]\nListenStream=never\n',
        LIB + '/foo-bar.socket.d/ignored.txt': '[Socket]\nListenStream=never\n',
    })
    assert [value for _key, value in sockets(found['foo-bar.socket'])] == [
        '1', 'type-05', 'run-10', 'prefix-15', 'etc-20']


def test_instances_come_from_dependency_folders_and_read_their_template(tmp_path):
    found = load(tmp_path, {
        LIB + '/echo@.socket': '[Socket]\nListenStream=/run/echo-%i.sock\n',
        LIB + '/echo@.socket.d/a.conf': '[Socket]\nAccept=yes\n',
        ETC + '/sockets.target.wants/echo@one.socket': ('link', LIB + '/echo@.socket'),
        ETC + '/echo@two.socket.d/b.conf': '[Socket]\nBacklog=5\n',
        ETC + '/sockets.target.requires/echo@two.socket': ('link', LIB + '/echo@.socket'),
        LIB + '/own@three.socket': '[Socket]\nListenStream=/run/own.sock\n',     # an instance with its own file
    })
    assert sorted(found) == ['echo@one.socket', 'echo@two.socket', 'own@three.socket']
    assert sockets(found['echo@one.socket']) == [('ListenStream', '/run/echo-%i.sock'), ('Accept', 'yes')]
    assert sockets(found['echo@two.socket'])[-1] == ('Backlog', '5')


def hostile_problem(tmp_path, files, name):
    found = load(tmp_path, dict(files, **{LIB + '/clean.socket': '[Socket]\nListenStream=7\n'}))
    assert sockets(found['clean.socket']) == [('ListenStream', '7')]
    assert found[name].problem is not None and not found[name].assignments
    return found[name].problem


@pytest.mark.parametrize('files, words', [
    ({LIB + '/x.socket': ('fifo',)}, 'FIFO'),
    ({LIB + '/x.socket': b'[Socket]\n' + b'#' * (2 * 1024 * 1024)}, 'larger than'),
    ({LIB + '/x.socket': b'[Socket]\nListenStream=\xc3\x28\n'}, 'not UTF-8'),
    ({ETC + '/x.socket': ('link', 'y.socket'), ETC + '/y.socket': ('link', 'x.socket')}, 'symbolic link loop'),
    ({LIB + '/x.socket': '[Socket]\nListenStream=1\n', ETC + '/x.socket.d': 'not a folder'}, 'not a folder'),
    ({LIB + '/x.socket': '[Socket]\nListenStream=1\n', ETC + '/x.socket.d/a.conf': ('fifo',)}, 'FIFO'),
    ({LIB + '/x.socket': ('dir',)}, 'not a regular file'),
])
def test_hostile_files_make_a_problem_not_a_hang(tmp_path, files, words):
    assert words in hostile_problem(tmp_path, files, 'x.socket')


def test_a_broken_type_drop_in_breaks_every_unit_of_the_type(tmp_path):
    found = load(tmp_path, {LIB + '/a.socket': '[Socket]\nListenStream=1\n', ETC + '/socket.d/a.conf': b'\xff'})
    assert 'not UTF-8' in found['a.socket'].problem and '/etc/systemd/system/socket.d/a.conf' in found['a.socket'].problem


def test_a_folder_of_the_path_that_loops_is_reported(tmp_path):
    write_tree(tmp_path, {ETC: ('link', '/etc/systemd/system'), LIB + '/a.socket': '[Socket]\nListenStream=1\n'})
    files = UnitFiles(SYSTEM_SEARCH_PATH, str(tmp_path))
    assert [unit.name for unit in files.load()] == ['a.socket']
    assert any('symbolic link loop' in problem for problem in files.problems)


def test_the_read_budget_stops_a_tree_of_many_big_files(tmp_path, monkeypatch):
    monkeypatch.setattr(unit_files, 'READ_BUDGET', 1000)
    write_tree(tmp_path, dict((LIB + '/u%02d.socket' % n, '[Socket]\n' + '#' * 300 + '\n') for n in range(10)))
    found = UnitFiles(SYSTEM_SEARCH_PATH, str(tmp_path)).load()
    assert any(unit.problem and 'the limit' in unit.problem for unit in found)


def test_links_stay_inside_root(tmp_path):
    write_tree(tmp_path, {'/a/b': ('link', '/c'), '/c/d': 'x', '/up': ('link', '../../../../c')})
    tree = Tree(str(tmp_path))
    assert tree.resolve('/a/b/d') == '/c/d'
    assert tree.resolve('/up/d') == '/c/d'       # '..' stops at root, as in a chroot
    assert tree.kind(tree.resolve('/a/b/d')) == 'file'
    with pytest.raises(unit_files.UnitFileProblem) as caught:
        tree.resolve('/missing/x')
    assert caught.value.missing


def test_user_search_path():
    env = {'XDG_RUNTIME_DIR': '/run/user/1000', 'XDG_CONFIG_HOME': 'relative-is-ignored'}
    path = user_search_path(1000, env, '/home/u')
    assert path[:5] == ['/home/u/.config/systemd/user.control', '/run/user/1000/systemd/user.control',
                        '/run/user/1000/systemd/transient', '/run/user/1000/systemd/generator.early',
                        '/home/u/.config/systemd/user']
    assert path[5:8] == ['/etc/xdg/systemd/user', '/etc/systemd/user', '/run/user/1000/systemd/user']
    assert path[-6:] == ['/home/u/.local/share/systemd/user', '/usr/local/share/systemd/user',
                         '/usr/share/systemd/user', '/usr/local/lib/systemd/user', '/usr/lib/systemd/user',
                         '/run/user/1000/systemd/generator.late']
    without_home = user_search_path(7, {}, None)
    assert '/run/user/7/systemd/user' in without_home and not any('.config' in p for p in without_home)


def test_systemd_unit_path_overrides():
    assert with_unit_path_override(['/d1', '/d2'], {'SYSTEMD_UNIT_PATH': '/x:/y'}) == ['/x', '/y']
    assert with_unit_path_override(['/d1', '/d2'], {'SYSTEMD_UNIT_PATH': '/x:'}) == ['/x', '/d1', '/d2']
    assert with_unit_path_override(['/d1'], {}) == ['/d1']
    assert os.path.isabs(SYSTEM_SEARCH_PATH[0]) and len(SYSTEM_SEARCH_PATH) == 13
