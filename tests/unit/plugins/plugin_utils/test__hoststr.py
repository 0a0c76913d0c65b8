# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_hoststr: the one boundary for host strings. Oracles that are not the module's own tables: Python's codecs
('backslashreplace' and 'unicode_escape' spell a byte or a control the way the reports must), unicodedata (categories
and bidirectional classes), and real parsers of each format (markdown-it-py with GFM tables, html.parser,
xml.etree), which must read back exactly text(value) from what markdown(), html() and xml() produce."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest

from hypothesis import HealthCheck, given, settings, strategies as st
from markdown_it import MarkdownIt

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARKDOWN = MarkdownIt('commonmark').enable('table').enable('strikethrough')

# Characters a host uses against a report or a terminal, drawn often next to every code point (surrogates included).
HOSTILE = ('\x00', '\x07', '\x08', '\t', '\n', '\x0b', '\x0c', '\r', '\x1b', '\x7f', '\x80', '\x85', '\x9b', '\x9d',
           '\u061c', '\u200b', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069', '\ufeff',
           '\ufffe', '\uffff', '\ud800', '\udbff', '\udc80', '\udcff', '\udfff', '\U0001f600', '\\', '|', '`', '*', '_',
           '[', ']', '(', ')', '!', '<', '>', '&', '#', '~', '$', '{', '}', '"', "'", '=', '-', '+', '.', ':', ' ')
CHARACTERS = st.one_of(st.characters(exclude_categories=()), st.sampled_from(HOSTILE))
HOST_TEXT = st.text(CHARACTERS, max_size=40)
# What must not survive text(): controls, surrogates, line and paragraph separators (by category), the
# bidirectional embeddings, overrides and isolates (by bidirectional class), the three bidirectional marks, and
# the two noncharacters XML 1.0 excludes.
BIDI_CLASSES = ('LRE', 'RLE', 'LRO', 'RLO', 'PDF', 'LRI', 'RLI', 'FSI', 'PDI')
BIDI_MARKS = ('\u200e', '\u200f', '\u061c')


# The invisible format characters that can disguise a name ('n\u200bc' shown as 'nc'): soft hyphen, zero-width
# space, joiners, word joiner and invisible operators, byte order mark, tag characters (category Cf, by range).
INVISIBLE = ('\xad', '\u200b', '\u200c', '\u200d', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\u2065', '\ufeff')


def unsafe(char):
    return (unicodedata.category(char) in ('Cc', 'Cs', 'Zl', 'Zp') or unicodedata.bidirectional(char) in BIDI_CLASSES
            or char in BIDI_MARKS or char in '\ufffe\uffff' or char in INVISIBLE
            or (0xe0000 <= ord(char) <= 0xe007f and unicodedata.category(char) in ('Cf', 'Cn')))


def escaped(char):
    """How a report spells one unsafe character: Python's own escape (\\xNN up to U+00FF, \\uXXXX above), the
    same spelling for \\t, \\n and \\r; a surrogate escape (a byte that was not UTF-8) as the byte, \\xNN."""
    if 0xdc80 <= ord(char) <= 0xdcff:
        return '\\x%02x' % (ord(char) - 0xdc00)
    if char in '\t\n\r':
        return '\\x%02x' % ord(char)
    return char.encode('unicode_escape').decode('ascii')


# --- text --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, shown', [
    ('sshd', 'sshd'),
    ('\x1b[2J\x1b[8m', '\\x1b[2J\\x1b[8m'),
    ('\x1b]0;owned\x07', '\\x1b]0;owned\\x07'),
    ('a\rb\nc\td\x00', 'a\\x0db\\x0ac\\x09d\\x00'),
    ('\x7f\x85\x9b', '\\x7f\\x85\\x9b'),
    ('eth\udcff0', 'eth\\xff0'),                # 'surrogateescape' of b'eth\xff0'
    ('\ud800', '\\ud800'),
    ('evil\u202etxt.exe', 'evil\\u202etxt.exe'),
    ('\u2066\u2067\u2068\u2069\u200e\u200f\u061c', '\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c'),
    ('a\u2028b\u2029c', 'a\\u2028b\\u2029c'),
    ('\ufffe\uffff', '\\ufffe\\uffff'),
    ('n\u200bc\ufeff\xad\U000e0041', 'n\\u200bc\\ufeff\\xad\\U000e0041'),
    ('caf\u00e9 \u4e2d \U0001f600 \\x41', 'caf\u00e9 \u4e2d \U0001f600 \\x41'),
    (b'nc\xff\x1b', 'nc\\xff\\x1b'),
    (5, '5'),
    (None, 'None'),
])
def test_text(value, shown):
    assert _hoststr.text(value) == shown


@SETTINGS
@given(HOST_TEXT)
def test_text_leaves_nothing_unsafe_and_escapes_each_character_as_python_does(value):
    shown = _hoststr.text(value)
    assert not any(unsafe(char) for char in shown)
    shown.encode('utf-8')
    assert shown == ''.join(escaped(char) if unsafe(char) else char for char in value)
    assert _hoststr.text(shown) == shown


@SETTINGS
@given(st.text(st.characters(exclude_categories=('Cc', 'Cs', 'Zl', 'Zp', 'Cf'), exclude_characters='\ufffe\uffff'), max_size=40))
def test_text_keeps_printable_strings(value):
    assert _hoststr.text(value) == value


@SETTINGS
@given(st.binary(max_size=40))
def test_invalid_utf8_reads_the_same_however_the_host_decoded_it(raw):
    # The host decodes with 'backslashreplace'; older facts hold 'surrogateescape'; bytes may reach a filter as is.
    shown = _hoststr.text(raw)
    assert shown == _hoststr.text(raw.decode('utf-8', 'surrogateescape'))
    assert shown == _hoststr.text(raw.decode('utf-8', 'backslashreplace'))
    if not any(unsafe(char) for char in raw.decode('utf-8', 'replace')):
        assert shown == raw.decode('utf-8', 'backslashreplace')


# --- clean, clean_tree -------------------------------------------------------------------------------------------

@SETTINGS
@given(st.binary(max_size=40))
def test_clean_turns_surrogate_escapes_into_what_the_host_sends(raw):
    expected = raw.decode('utf-8', 'backslashreplace')
    assert _hoststr.clean(raw.decode('utf-8', 'surrogateescape')) == expected
    assert _hoststr.clean(raw) == expected
    assert _hoststr.clean(expected) == expected


@SETTINGS
@given(HOST_TEXT)
def test_clean_removes_only_lone_surrogates(value):
    cleaned = _hoststr.clean(value)
    cleaned.encode('utf-8')
    if not any(0xd800 <= ord(char) <= 0xdfff for char in value):
        assert cleaned is value or cleaned == value
    # Controls stay: the JSON encoder escapes them itself.
    assert [char for char in cleaned if unicodedata.category(char) == 'Cc'] == [
        char for char in value if unicodedata.category(char) == 'Cc']


@pytest.mark.parametrize('value', [None, 0, 5, True, 1.5, ['\udcff'], {'a': '\udcff'}])
def test_clean_leaves_what_is_not_a_string(value):
    assert _hoststr.clean(value) is value


def test_clean_tree():
    tree = {'eth\udcff': ['\udc80', ('lo', '\ud800'), {'k': b'\xfe'}], 'n': 5, 'none': None, 'ok': True, 'x': 1.5}
    cleaned = _hoststr.clean_tree(tree)
    assert cleaned == {'eth\\xff': ['\\x80', ['lo', '\\ud800'], {'k': '\\xfe'}], 'n': 5, 'none': None, 'ok': True, 'x': 1.5}
    json.dumps(cleaned, ensure_ascii=False).encode('utf-8')
    assert tree['eth\udcff'][0] == '\udc80'           # the input is not changed


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(st.one_of(HOST_TEXT, st.integers(), st.none(), st.booleans()),
                    lambda children: st.one_of(st.lists(children, max_size=4),
                                               st.dictionaries(HOST_TEXT, children, max_size=4)), max_leaves=20))
def test_clean_tree_always_encodes(tree):
    json.dumps(_hoststr.clean_tree(tree), ensure_ascii=False).encode('utf-8')


# --- markdown ----------------------------------------------------------------------------------------------------

def _inline_children(document):
    tokens = MARKDOWN.parse(document)
    return tokens, [token for token in tokens if token.type == 'inline']


@pytest.mark.parametrize('value', ['![](//x/a)', '[x](//x/a)', '<script>alert(1)</script>', '<http://x/a>', 'a|b',
                                   '`code`', '**b** _i_ ~~s~~', '&amp; &#x1b;', '\\|', 'a\\', '[x]: //x/a', '$x$',
                                   '\x1b[2J|\r\n| x |', 'eth\udcff0'])
def test_markdown_examples_stay_one_cell_of_text(value):
    _check_markdown(value)


@SETTINGS
@given(HOST_TEXT)
def test_markdown_is_literal_text_in_a_table_cell_and_inline(value):
    _check_markdown(value)


def _check_markdown(value):
    shown = _hoststr.markdown(value)
    expected = _hoststr.text(value)
    assert not any(unsafe(char) for char in shown)
    # A GFM table: one body row of two cells; the first reads back as the host string, with nothing but text.
    tokens, inline = _inline_children('| host | next |\n|---|---|\n| a%sz | n |\n' % shown)
    assert [token.type for token in tokens].count('tr_open') == 2
    assert [child.type for child in inline[2].children] == ['text']
    assert inline[2].children[0].content == 'a%sz' % expected
    assert inline[3].content == 'n'
    # Inline in a paragraph.
    tokens, inline = _inline_children('see a%sz here\n' % shown)
    assert [token.type for token in tokens] == ['paragraph_open', 'inline', 'paragraph_close']
    assert [child.type for child in inline[0].children] == ['text']
    assert inline[0].children[0].content == 'see a%sz here' % expected


# --- html, xml ---------------------------------------------------------------------------------------------------

class _Collect(HTMLParser):

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.data = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag):
        self.tags.append(('/' + tag, []))

    def handle_data(self, data):
        self.data.append(data)

    def handle_comment(self, data):
        self.tags.append(('!--', []))


@pytest.mark.parametrize('value', ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='x",
                                   '&amp;&lt;', '</td></tr></table>', '<!-- x -->', '\x1b[2J', 'eth\udcff0'])
def test_html_examples(value):
    _check_html(value)


@SETTINGS
@given(HOST_TEXT)
def test_html_reads_back_as_text_in_an_attribute_and_an_element(value):
    _check_html(value)


def _check_html(value):
    shown = _hoststr.html(value)
    assert not any(unsafe(char) for char in shown)
    for quote in ('"', "'"):
        parser = _Collect()
        parser.feed('<p title=%s%s%s>%s</p>' % (quote, shown, quote, shown))
        parser.close()
        assert parser.tags == [('p', [('title', _hoststr.text(value))]), ('/p', [])]
        assert ''.join(parser.data) == _hoststr.text(value)


@pytest.mark.parametrize('value', [']]>', '<![CDATA[x', '&#0;', '"\'<>&', '\x00\x1b\ufffe\uffff', '\ud800eth\udcff'])
def test_xml_examples(value):
    _check_xml(value)


@SETTINGS
@given(HOST_TEXT)
def test_xml_is_well_formed_and_reads_back_as_text(value):
    _check_xml(value)


def _check_xml(value):
    shown = _hoststr.xml(value)
    for quote in ('"', "'"):
        element = ET.fromstring(('<r a=%s%s%s>%s</r>' % (quote, shown, quote, shown)).encode('utf-8'))
        assert element.get('a') == _hoststr.text(value)
        assert (element.text or '') == _hoststr.text(value)
