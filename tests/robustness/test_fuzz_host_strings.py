# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 12): hostile host strings through every report format and socket_diff.

Real records (socket_facts' gather() on sockets this test opens), then 10,000 cases that each replace the host
strings of the facts (process names, users, interfaces, unix paths, netns labels, owner_unknown, socket_meta's
reasons and notes, the units, containers and packages with origin_unknown's reasons; now and then netid, state,
family or an inet address) with hostile ones (hoststr_gen). Each
case: port_audit under one of several policies, every format of _reports.render.render() for a fleet of the hostile host and
two others (three in every DEEP_EVERY-th case), verdict_line and fleet_line, the socket_diff filter both ways between
the real and the hostile facts, and port_baseline's line for each diff.

Oracles, none of them the project's escaping code:
- no exception; a clear error (ValueError, AnsibleFilterError) only for a record that is not a socket (a hostile
  netid, state, family or inet address), and its message shows no raw control character;
- every output encodes as UTF-8; no C0 control but the format's own newlines, no DEL, C1, bidirectional control or
  line/paragraph separator in text, summary, Markdown, JUnit, HTML, the verdict's messages and the one-line texts;
  the verdict and the diffs hold no lone surrogate (they go back to Ansible as data);
- the "twin" of a case: the same verdicts with every string that holds anything but letters, digits and plain
  punctuation replaced by a token (equal strings, equal tokens). A report of hostile strings must have the shape of
  its twin's: as many lines; the same Markdown tokens (markdown-it-py, tables enabled) but text, and the same unescaped
  pipes on each table line; the same HTML tags, attributes and script (html.parser); the same JUnit elements
  (xml.etree); the JSON loads and holds no lone surrogate.
Failures are collected by signature (one repro each, shrunk to the single mutation that still fails)."""

from __future__ import annotations

import collections
import inspect
import json
import random
import re
import signal
import traceback
import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest

from ansible.errors import AnsibleFilterError
from markdown_it import MarkdownIt

from ansible_collections.netaudit.sockets.plugins.filter import socket_filters
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy import keys as policy_keys
from ansible_collections.netaudit.sockets.plugins.plugin_utils._policy import verdict as policy_verdict
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import render as report_render

try:
    from ansible_collections.netaudit.sockets.plugins.action import port_drift
    from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr
except ImportError:         # before issue 12: port_baseline's line was a Jinja template, and no _hoststr
    port_drift = _hoststr = None

from robustness import filtergen, hoststr_gen

PARTS = 2
PER_PART = 5000             # 10,000 cases in all
SEED_OFFSET = 1200
DEEP_EVERY = 20             # every 20th case also goes through markdown-it and html.parser (they take most of the time)
CASE_LIMIT = 5.0            # seconds for one case (every format, both diffs); a hard stop, not a benchmark
NOW = '2026-06-01'
SHOWN = 300                 # characters of a repro string in the report

# What must never reach a report or a line Ansible prints raw (written from the Unicode and ECMA-48 tables, not from
# _hoststr): C0 controls, DEL, C1 controls, the bidirectional controls, the line and paragraph separators, and the
# two noncharacters XML 1.0 forbids. The formats' own newlines are counted separately (twin).
UNSAFE = re.compile('[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufffe\uffff'
                    '\ud800-\udfff]')
UNSAFE_LINE = re.compile('[\n]|' + UNSAFE.pattern)
TOKEN_SAFE = re.compile(r'[A-Za-z0-9 ._:/,=@+-]*\Z')
TWIN_ALWAYS = ('markdown', 'text', 'summary')
DIFF_OPTIONS = ({}, {'established': True}, {'ephemeral': True}, {'established': True, 'ephemeral': True, 'ephemeral_range': [1024, 65535]})
MARKDOWN = MarkdownIt('commonmark').enable('table').enable('strikethrough')
CHECKED_ATTRIBUTES = ('class', 'id', 'href', 'src', 'colspan', 'tabindex', 'scope', 'lang', 'charset', 'name',
                      'content', 'style', 'aria-live')


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout('no answer in %.1f s' % CASE_LIMIT)


# --- the real facts and the policies -----------------------------------------------------------------------------

def _policies(ports):
    closed = {
        'name': 'closed world',
        'closed_world': True,
        'expected': [{'proto': 'tcp', 'port': ports['tcp4'], 'process': 'python*'},
                     {'proto': 'udp', 'port': ports['udp4'], 'user': 'root'},
                     {'proto': 'tcp', 'port': 1, 'name': 'nothing there'}],
        'allowed': [{'port': ports['tcp6'], 'netns': '*'},
                    {'proto': 'udp', 'port': '1-65535', 'user': '[!z]*', 'until': '2099-01-01'},
                    {'port': ports['tcpdual'], 'until': '2020-01-01', 'reason': 'expired exception'}],
        'forbidden': [{'process': '*', 'port': ports['tcp4any']},
                      {'process': ['nc', '*[[]*', '*\\*'], 'user': '*'},
                      {'netns': ['ns*', '?*'], 'proto': 'udp'},
                      {'proto': 'udp', 'port': ports['udp6'], 'reason': 'no datagrams'}],
    }
    open_world = {
        'name': 'open world, incomplete accepted',
        'accept_incomplete': True,
        'expected': [{'port': ports['tcpdual'], 'bind': 'any'}, 'udp/%d@loopback' % ports['udp4']],
        'allowed': [{'process': '*'}],
        'forbidden': [{'user': '0', 'port': ports['tcp4']}, {'bind': 'public', 'process': '*sh*'},
                      {'user': ['www*', 'nobody'], 'netns': '*'}],
    }
    forbid_all = {'forbidden': [{'process': '*'}, {'user': '*'}, {'netns': '*'}]}
    found = [closed, open_world, forbid_all, {}]
    # The switch for rules that need an owner (docs/policy.md), once the policy knows it.
    if 'unknown_owner' in getattr(policy_keys, 'POLICY_KEYS', ()):
        found.append(dict(closed, name='unknown owners ignored', unknown_owner='ignore'))
    if 'unknown_owner' in getattr(policy_keys, 'RULE_KEYS', ()):
        found.append(dict(forbid_all, allowed=[{'process': 'python*', 'unknown_owner': 'ignore'}]))
    return found


@pytest.fixture(scope='module')
def world():
    facts, ports = hoststr_gen.real_facts()
    kinds = set((record['family'], record['state']) for record in facts['sockets'])
    # The generator must have real records of every kind it means to mutate (else the test proves less).
    assert {('inet', 'LISTEN'), ('inet6', 'LISTEN'), ('inet', 'UNCONN'), ('unix', 'LISTEN'), ('inet', 'ESTAB')} <= kinds, kinds
    policies = _policies(ports)
    # The other host of the fleet: four real inet records, no mutation.
    inet = [index for index, record in enumerate(facts['sockets']) if record['family'] in ('inet', 'inet6')][:4]
    other = hoststr_gen.apply(facts, inet, [])
    clean = [policy_verdict.port_audit(other, policy, now=NOW) for policy in policies]
    return {'facts': facts, 'paths': hoststr_gen.string_paths(facts), 'policies': policies, 'clean': clean}


# --- oracles -------------------------------------------------------------------------------------------------------

def twin(value, tokens):
    """value with every string outside TOKEN_SAFE replaced by a token (the same string, the same token)."""
    if isinstance(value, str):
        return value if TOKEN_SAFE.match(value) else tokens.setdefault(value, 'S%d' % len(tokens))
    if isinstance(value, dict):
        return dict((key, twin(item, tokens)) for key, item in value.items())
    if isinstance(value, list):
        return [twin(item, tokens) for item in value]
    return value


def _first_unsafe(text, pattern=UNSAFE):
    found = pattern.search(text)
    if found is None:
        return None
    start = max(0, found.start() - 30)
    return 'U+%04X at %d in ...%s...' % (ord(found.group(0)), found.start(), ascii(text[start:found.end() + 30]))


def _strings(value, out):
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(key, out)
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)
    return out


def _surrogate(value):
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode('utf-8')
        return None
    except UnicodeEncodeError:
        pass
    for text in _strings(value, []):
        found = re.search('[\ud800-\udfff]', text)
        if found:
            return 'lone surrogate U+%04X in %s' % (ord(found.group(0)), ascii(text[:120]))
    return None


def markdown_shape(text):
    """The Markdown's tokens without their text (links keep their target, raw HTML its source)."""
    shape = collections.Counter()
    for token in MARKDOWN.parse(text):
        if token.type != 'inline':
            shape[(token.type, token.tag)] += 1
            continue
        for child in token.children or ():
            if child.type in ('text', 'text_special'):
                continue
            shape[(child.type, child.tag, child.attrs.get('href', ''), child.attrs.get('src', ''),
                   child.content if child.type.startswith('html') else '')] += 1
    return shape


def table_pipes(text):
    """For each line of a Markdown table, its pipes that no backslash escapes (GFM splits cells on them)."""
    counts = []
    for line in text.split('\n'):
        if line.startswith('|'):
            counts.append(len(re.findall(r'(?<!\\)(?:\\\\)*\|', line)))
        else:
            counts.append(None)
    return counts


class HtmlShape(HTMLParser):

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shape = collections.Counter()
        self.code = []
        self._inside = []

    def _attrs(self, attrs):
        return tuple(sorted((name, value if name in CHECKED_ATTRIBUTES else '') for name, value in attrs))

    def handle_starttag(self, tag, attrs):
        self.shape[('start', tag, self._attrs(attrs))] += 1
        self._inside.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.shape[('empty', tag, self._attrs(attrs))] += 1

    def handle_endtag(self, tag):
        self.shape[('end', tag)] += 1
        if self._inside:
            self._inside.pop()

    def handle_data(self, data):
        if self._inside and self._inside[-1] in ('script', 'style'):
            self.code.append(data)

    def handle_comment(self, data):
        self.shape[('comment',)] += 1

    def handle_decl(self, decl):
        self.shape[('decl', decl)] += 1

    def handle_pi(self, data):
        self.shape[('pi',)] += 1

    def unknown_decl(self, data):
        self.shape[('unknown decl',)] += 1


def html_shape(text):
    parser = HtmlShape()
    parser.feed(text)
    parser.close()
    return parser.shape, ''.join(parser.code)


def junit_shape(text):
    root = ET.fromstring(text.encode('utf-8'))
    shape = collections.Counter()
    for element in root.iter():
        shape[(element.tag, tuple(sorted(element.attrib)))] += 1
        for value in list(element.attrib.values()) + [element.text or '', element.tail or '']:
            bad = _first_unsafe(value)
            if bad:
                shape[('unsafe character in a parsed value', bad)] += 1
    return shape


def _diff_counter(mine, theirs):
    extra, missing = mine - theirs, theirs - mine
    return 'has %s; lacks %s' % (dict(list(extra.items())[:4]), dict(list(missing.items())[:4]))


def check_report(fmt, out, twin_out, deep=True):
    """[(signature, detail)] of what is wrong with one report, given the report of its twin; deep: parse the
    Markdown and the HTML too."""
    problems = []
    try:
        out.encode('utf-8')
    except UnicodeEncodeError as exc:
        return [('%s: not UTF-8' % fmt, str(exc))]
    if fmt == 'json':
        loaded = json.loads(out)
        bad = _surrogate(loaded)
        if bad:
            problems.append(('json: lone surrogate after loading', bad))
        return problems
    bad = _first_unsafe(out)
    if bad:
        problems.append(('%s: raw control, bidi or separator character' % fmt, bad))
    if twin_out is None:
        if fmt == 'junit':
            try:
                ET.fromstring(out.encode('utf-8'))
            except ET.ParseError as exc:
                problems.append(('junit: does not parse', str(exc)))
        return problems
    if out.count('\n') != twin_out.count('\n'):
        problems.append(('%s: lines added or removed by host data' % fmt, '%d lines, %d for the twin' % (
            out.count('\n'), twin_out.count('\n'))))
        return problems
    if fmt == 'markdown':
        if deep:
            mine, theirs = markdown_shape(out), markdown_shape(twin_out)
            if any(key[0] == 'image' for key in mine):
                problems.append(('markdown: image from host data', str([key for key in mine if key[0] == 'image'][:2])))
            if mine != theirs:
                problems.append(('markdown: tokens differ from the twin', _diff_counter(mine, theirs)))
        pipes, twin_pipes = table_pipes(out), table_pipes(twin_out)
        for number, (count, expected) in enumerate(zip(pipes, twin_pipes)):
            if count != expected:
                problems.append(('markdown: table row with a different number of cells', 'line %d: %s pipes, twin %s: %s' % (
                    number + 1, count, expected, ascii(out.split('\n')[number][:SHOWN]))))
                break
    elif fmt == 'html' and deep:
        (mine, code), (theirs, twin_code) = html_shape(out), html_shape(twin_out)
        if mine != theirs:
            problems.append(('html: tags or attributes differ from the twin', _diff_counter(mine, theirs)))
        if code != twin_code:
            problems.append(('html: script or style differs from the twin', ascii(code[:SHOWN])))
    elif fmt == 'junit':
        try:
            mine = junit_shape(out)
        except ET.ParseError as exc:
            return problems + [('junit: does not parse', str(exc))]
        theirs = junit_shape(twin_out)
        if mine != theirs:
            problems.append(('junit: elements differ from the twin', _diff_counter(mine, theirs)))
    return problems


# --- one case ------------------------------------------------------------------------------------------------------

def _where(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [frame for frame in frames if '/plugins/' in frame.filename] or frames
    return '%s:%d' % (mine[-1].filename.rsplit('/', 1)[-1], mine[-1].lineno)


def run_case(world, case, structural, deep):
    """[(signature, detail)] of one case: every entry point on the facts with these mutations."""
    policy_index, records, mutations = case
    facts = hoststr_gen.apply(world['facts'], records, mutations)
    problems = []

    def failed(stage, exc):
        if isinstance(exc, CaseTimeout):
            raise exc
        if isinstance(exc, (ValueError, AnsibleFilterError)) and structural:
            bad = _first_unsafe(str(exc), UNSAFE_LINE)
            if bad:
                problems.append(('%s: error message with a raw control character' % stage, bad))
            return
        problems.append(('%s: %s at %s' % (stage, type(exc).__name__, _where(exc)),
                         ascii(traceback.format_exc(limit=-4))[-1500:]))

    verdict = None
    try:
        # The entries carry each socket's unit, container and package, which the reports show.
        verdict = policy_verdict.port_audit(facts, world['policies'][policy_index], now=NOW)
    except Exception as exc:  # pylint: disable=broad-except  # any exception is the finding
        failed('port_audit', exc)
    if verdict is not None:
        for text in list(verdict['violations']) + [result.get('message') or '' for result in verdict['rules']]:
            bad = _first_unsafe(text, UNSAFE_LINE)
            if bad:
                problems.append(('port_audit: raw control character in a verdict message', bad))
                break
        bad = _surrogate(verdict)
        if bad:
            problems.append(('port_audit: verdict does not encode as JSON/UTF-8', bad))
        verdicts = {'hostile': verdict, 'down': None, 'gone': {'error': 'unreachable: ssh timed out'}}
        if deep:
            verdicts['web1'] = world['clean'][policy_index]
        try:
            for host in report_common.hosts_of(verdicts):
                bad = _first_unsafe(report_common.verdict_line(host), UNSAFE_LINE)
                if bad:
                    problems.append(('verdict_line: raw control character', bad))
            bad = _first_unsafe(report_common.fleet_line(report_common.hosts_of(verdicts)), UNSAFE_LINE)
            if bad:
                problems.append(('fleet_line: raw control character', bad))
        except Exception as exc:  # pylint: disable=broad-except
            failed('verdict_line', exc)
        twins = twin(verdicts, {})
        for fmt in report_common.FORMATS:
            try:
                out = report_render.render(verdicts, fmt, title='Port audit')
            except Exception as exc:  # pylint: disable=broad-except
                failed('render %s' % fmt, exc)
                continue
            try:
                # The twin of the JSON is not needed; HTML and JUnit are compared with theirs in the deep cases.
                twin_out = report_render.render(twins, fmt, title='Port audit') if fmt in TWIN_ALWAYS or deep else None
                problems += check_report(fmt, out, twin_out, deep)
            except Exception as exc:  # pylint: disable=broad-except  # a report a parser refuses
                problems.append(('%s: the report (or its twin) does not parse (%s)' % (fmt, type(exc).__name__),
                                 ascii(traceback.format_exc(limit=-3))[-SHOWN * 2:]))

    real = hoststr_gen.apply(world['facts'], records, [])
    options = DIFF_OPTIONS[len(mutations) % len(DIFF_OPTIONS)]
    diffs = [('socket_diff real -> hostile', real, facts, options), ('socket_diff hostile -> real', facts, real, options)]
    if deep:
        diffs.append(('socket_diff hostile -> hostile', facts, facts, {'established': True, 'ephemeral': True}))
    worded = len(mutations) % 2         # port_baseline's line for one of the two diffs (the budget of the stage)
    for number, (label, before, after, options) in enumerate(diffs):
        try:
            # The filter plugin's function: what a playbook gets.
            diff = socket_filters.socket_diff(before, after, **options)
        except Exception as exc:  # pylint: disable=broad-except
            failed(label, exc)
            continue
        bad = _surrogate(diff)
        if bad:
            problems.append(('%s: result does not encode as JSON/UTF-8' % label, bad))
        if before is after and diff['drift']:
            problems.append(('%s: drift between a snapshot and itself' % label, json.dumps(diff, ensure_ascii=True)[:SHOWN]))
        if number == worded:
            problems += baseline_lines(label, diff)
    return problems


def baseline_lines(label, diff):
    """port_baseline's line for this drift, as each of its actions words it: one line, nothing raw."""
    if port_drift is None:
        return [('port_baseline line: no plugins/action/port_drift.py', 'the line is a Jinja template that prints host data raw')]
    problems = []
    # The action cleans the diff (_hoststr.clean_tree) before it words the line, as here.
    diff = _hoststr.clean_tree(diff)
    # Its options as the role passes them, by name (only those that summary() takes).
    options = dict((name, value) for name, value in (
        ('path', '/srv/baselines/hostile.json'), ('since', '2026-05-01T00:00:00Z'), ('check_mode', False),
        ('mode', 'auto'), ('fail_on_drift', True)) if name in inspect.signature(port_drift.summary).parameters)
    for action in ('recorded', 'updated', 'compared'):
        try:
            line = port_drift.summary(action=action, diff=diff, **options)
        except Exception as exc:  # pylint: disable=broad-except
            problems.append(('port_baseline line (%s): %s at %s' % (action, type(exc).__name__, _where(exc)),
                             ascii(traceback.format_exc(limit=-4))[-1500:]))
            continue
        bad = _first_unsafe(line, UNSAFE_LINE)
        if bad:
            problems.append(('port_baseline line (%s) after %s: raw control character' % (action, label), bad))
    return problems


class Fuzz(object):

    def __init__(self, world, seed_value):
        self.world, self.seed = world, seed_value
        self.failures = {}
        self.cases = self.deep = 0

    def run(self, count):
        rng = random.Random(self.seed)
        previous = signal.signal(signal.SIGALRM, _alarm)
        try:
            for index in range(count):
                policy_index = rng.randrange(len(self.world['policies']))
                records, mutations = hoststr_gen.choose(rng, self.world['facts'], self.world['paths'])
                case = (policy_index, records, mutations)
                deep = index % DEEP_EVERY == 0
                self.cases += 1
                self.deep += deep
                signal.setitimer(signal.ITIMER_REAL, CASE_LIMIT)
                try:
                    problems = run_case(self.world, case, self.structural(mutations), deep)
                except CaseTimeout as exc:
                    problems = [('slower than %.1f s' % CASE_LIMIT, str(exc))]
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                for signature, detail in problems:
                    if signature not in self.failures:
                        self.failures[signature] = [0, index, case, detail]
                    self.failures[signature][0] += 1
        finally:
            signal.signal(signal.SIGALRM, previous)

    def structural(self, mutations):
        marked = dict(self.world['paths'])
        return any(marked.get(path) for path, _value in mutations)

    def shrink(self, signature, case):
        """(mutation, detail): the first single mutation that gives the signature alone; (None, None) if none does."""
        policy_index, records, mutations = case
        for mutation in mutations:
            one = [mutation]
            try:
                found = run_case(self.world, (policy_index, records, one), self.structural(one), True)
            except CaseTimeout:
                continue
            for item in found:
                if item[0] == signature:
                    return mutation, item[1]
        return None, None

    def report(self):
        lines = ['%s: %d distinct failures in %d cases' % (filtergen.describe(self.seed), len(self.failures), self.cases)]
        for signature, (count, index, case, detail) in sorted(self.failures.items()):
            policy_index, records, mutations = case
            single, single_detail = self.shrink(signature, case)
            if single is None:
                repro = '%d mutations: %s' % (len(mutations), '; '.join(
                    '%s=%s' % (hoststr_gen.path_text(path), ascii(value)[:80]) for path, value in mutations[:6]))
            else:
                repro = 'one mutation: %s = %s' % (hoststr_gen.path_text(single[0]), ascii(single[1])[:SHOWN])
                detail = single_detail
            lines.append('\n== %s: %d times; first: case #%d, policy #%d, records %s\n   %s\n   %s' % (
                signature, count, index, policy_index, records, repro, detail))
        return '\n'.join(lines).encode('ascii', 'backslashreplace').decode('ascii')


@pytest.mark.parametrize('part', range(PARTS))
def test_hostile_host_strings(world, part):
    fuzz = Fuzz(world, filtergen.seed(SEED_OFFSET + part))
    fuzz.run(PER_PART)
    if fuzz.failures:
        pytest.fail(fuzz.report(), pytrace=False)
    assert fuzz.cases == PER_PART and fuzz.deep == PER_PART // DEEP_EVERY


def test_the_oracles_see_an_unescaped_report(world):
    """The checks themselves: a report that writes host strings raw (the Markdown and HTML of a naive renderer)
    fails them, the twin of a clean report passes them."""
    verdicts = {'web1': world['clean'][0]}
    twins = twin(verdicts, {})
    for fmt in report_common.FORMATS:
        assert check_report(fmt, report_render.render(twins, fmt), report_render.render(twins, fmt)) == []
    assert check_report('markdown', '| a |\n|---|\n| x | ![](//x/a) |\n', '| a |\n|---|\n| S0 |\n')
    assert check_report('markdown', 'a *b*\n', 'a S0\n')
    assert check_report('html', '<p title="" onmouseover="x">a</p>\n', '<p title="">S0</p>\n')
    assert check_report('html', '<p>a<script>x</script></p>\n', '<p>S0</p>\n')
    assert check_report('junit', '<a b="\x1b[2J"/>\n', '<a b="S0"/>\n')
    assert check_report('text', 'a\x1b[2Jb\n', 'S0\n')
    assert check_report('text', 'a\u202eb\n', 'S0\n')
    assert check_report('summary', 'a\nb\n', 'S0\n')
    assert check_report('json', '"\\udc80"', '"S0"')


def test_the_harness_reports_exceptions_and_accepts_clear_errors(world, monkeypatch):
    """A record that is not a socket (a hostile address) may be refused with a clear error, whose message shows the
    address escaped; any other exception, in any entry point, is a finding that names the stage, the exception and
    where it was raised."""
    inet = [index for index, record in enumerate(world['facts']['sockets']) if record['family'] == 'inet'][:1]
    case = (0, inet, [(('sockets', inet[0], 'local_address'), 'not an address\x1b[2J\udcff')])
    assert [found for found in run_case(world, case, True, True) if found[0].startswith('port_audit')] == []

    def refuse(*args, **kwargs):
        raise ValueError('sockets[0]: local_address "\x1b[2J" is not an IP address')

    monkeypatch.setattr(policy_verdict, 'port_audit', refuse)
    found = [signature for signature, _detail in run_case(world, (0, inet, []), True, True)]
    assert found == ['port_audit: error message with a raw control character'], found
    found = [signature for signature, _detail in run_case(world, (0, inet, []), False, True)]
    assert len(found) == 1 and found[0].startswith('port_audit: ValueError at test_fuzz_host_strings.py:'), found
    monkeypatch.undo()

    def broken(verdicts, fmt, title=None):
        raise RuntimeError('broken renderer')

    monkeypatch.setattr(report_render, 'render', broken)
    found = [signature.split(' at ')[0] for signature, _detail in run_case(world, (0, inet, []), False, True)]
    assert sorted(found) == sorted('render %s: RuntimeError' % fmt for fmt in report_common.FORMATS), found
