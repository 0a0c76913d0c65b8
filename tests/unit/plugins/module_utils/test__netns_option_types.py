# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The netns option's type: socket_facts takes it raw (a string or a list of strings, as YAML gives them), so any
other value must be refused with a message naming the option, the value and its type, never a Python error.
tests/local/test_socket_facts_bad_options_local.py runs the same values through real ansible."""

from __future__ import annotations

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._netns import resolving

SHAPE = 'netns: expected a namespace name, a path, "all" or a list of them; '

BAD = [
    (5, 'got an integer (5)'),
    (0, 'got an integer (0)'),
    (True, 'got a boolean (true)'),
    (False, 'got a boolean (false)'),
    (1.5, 'got a number (1.5)'),
    ({}, 'got a mapping ({})'),
    ({'name': 'blue'}, 'got a mapping ({"name": "blue"})'),
    ('', "got an empty string ('')"),
    ('   ', 'got a string of blanks ("   ")'),
    ('blue\x00', 'got a string with a NUL character ("blue\\u0000")'),
    ([1], 'item 1 of the list is an integer (1)'),
    (['all', True], 'item 2 of the list is a boolean (true)'),
    ([None], 'item 1 of the list is null'),
    (['blue', None], 'item 2 of the list is null'),
    ([''], "item 1 of the list is an empty string ('')"),
    (['blue', ['green']], 'item 2 of the list is a list (["green"])'),
    ([{}], 'item 1 of the list is a mapping ({})'),
    ([b'blue'], "item 1 of the list is bytes (\"b'blue'\")"),
    (['x' * 200, 3], 'item 2 of the list is an integer (3)'),
    ({'k' * 200: 1}, 'got a mapping ({"%s... (207 characters))' % ('k' * 58)),
]


@pytest.mark.parametrize('value, problem', BAD, ids=[repr(value)[:30] for value, _problem in BAD])
def test_gather_refuses_a_bad_netns_value_naming_it(value, problem):
    with pytest.raises(_gather.GatherError) as caught:
        _gather.gather(netns=value, processes=False)
    assert str(caught.value) == SHAPE + problem


@pytest.mark.parametrize('value, problem', BAD, ids=[repr(value)[:30] for value, _problem in BAD])
def test_resolve_refuses_it_with_the_same_words(value, problem, tmp_path):
    with pytest.raises(ValueError) as caught:
        resolving.resolve(value, run_dir=str(tmp_path))
    assert str(caught.value) == SHAPE + problem


@pytest.mark.parametrize('value, items', [
    (None, []), ([], []), ('all', ['all']), (' blue ', ['blue']), (['blue', '/run/netns/green'], ['blue', '/run/netns/green']),
    (('blue',), ['blue']),
])
def test_good_values(value, items):
    assert resolving.option_items(value) == items


@pytest.mark.parametrize('value', [None, []])
def test_no_namespaces_asked_reads_the_own_namespace(value):
    meta = _gather.gather(netns=value, processes=False, tables=['tcp'])['socket_meta']
    assert meta['netns'] == []


def test_a_type_error_comes_before_any_namespace_is_looked_up(tmp_path):
    # The first bad item is named even when an earlier item names a namespace that does not exist.
    with pytest.raises(ValueError) as caught:
        resolving.resolve(['na-ot-no-such-namespace', 7], run_dir=str(tmp_path))
    assert str(caught.value) == SHAPE + 'item 2 of the list is an integer (7)'
