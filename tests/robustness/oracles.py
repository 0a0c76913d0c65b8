# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: run one filter through every in-process entry point and check the invariants and oracles."""

# Entry points, as the module and the filter plugin call them:
#   _ssfilter.ssfilter.parse (module: _gather.gather; plugin: _ssfilter_fast.compile_filter), SSFilter.state_mask / bytecode /
#   select / match, _ssfilter_fast.FastFilter.select, the plugin function socket_filters.ss_filter, _gather.gather.
# Oracles:
#   - errors: only FilterError / GatherError / AnsibleFilterError, whose message names the position;
#   - two evaluators: FastFilter (generated code, memoised) must select exactly what SSFilter.select selects;
#   - two kernel judgements: the INET_DIAG program run by the interpreter below (written from the kernel's
#     inet_diag_bc_run, not from the project's code) must agree with SSFilter's Python model of the kernel;
#   - the plugin and gather agree with parse on which filters are errors.

from __future__ import annotations

import ipaddress
import re
import signal
import socket
import struct
import time
import traceback

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netaudit.sockets.plugins.filter import socket_filters
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter, values
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.module_utils import _table_names
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast
from ansible_collections.netaudit.sockets.plugins.module_utils._records import ALL_STATES

from robustness import filtergen

# A message names the word (and so the position) it refers to, or says that the filter ended too early.
POSITION = re.compile(r'at word \d+|at the end of the filter|\(word \d+\)')
EPHEMERAL = (32768, 60999)
KERNEL_SAMPLE = 8        # inet records per filter for the bytecode oracle
CALL_LIMIT = 1.0          # seconds for one filter through every entry point (hard stop at twice that)

# --- an INET_DIAG bytecode interpreter, after the kernel's inet_diag_bc_run and inet_diag_bc_audit ---------------------

_OP = struct.Struct('=BBH')
_HOSTCOND = struct.Struct('=BBxxi')
NOP, JMP, S_GE, S_LE, D_GE, D_LE, AUTO, S_COND, D_COND, DEV_COND, MARK_COND, S_EQ, D_EQ, CGROUP_COND = range(14)
_SIZES = {NOP: 4, JMP: 4, AUTO: 4, S_GE: 8, S_LE: 8, D_GE: 8, D_LE: 8, S_EQ: 8, D_EQ: 8, DEV_COND: 8, MARK_COND: 12,
          CGROUP_COND: 12}


class BadProgram(Exception):
    pass


def program_problem(program):
    """Why the kernel's audit would refuse the program with EINVAL, or None."""
    if len(program) % 4 or not program:
        return 'length %d is not a positive multiple of 4' % len(program)
    if len(program) > 0xffff - 4:
        return 'length %d does not fit the rtattr' % len(program)
    starts, offset, left = set(), 0, len(program)
    ops = []
    while left > 0:
        if left < 4:
            return 'truncated op at %d' % offset
        code, yes, no = _OP.unpack_from(program, offset)
        size = _SIZES.get(code)
        if code in (S_COND, D_COND):
            if left < 12:
                return 'truncated hostcond at %d' % offset
            family, bits = _HOSTCOND.unpack_from(program, offset + 4)[:2]
            alen = {0: 0, socket.AF_INET: 4, socket.AF_INET6: 16}.get(family)
            if alen is None or bits > 8 * alen:
                return 'bad hostcond family %d / prefix %d at %d' % (family, bits, offset)
            size = 12 + alen
            if alen == 0:
                # the project sends 4 zero address bytes for AF_UNSPEC, as ss does
                size = yes
        if size is None:
            return 'unknown op code %d at %d' % (code, offset)
        if yes < size or yes > left + 4 or yes % 4 or left < size:
            return 'bad yes %d at %d' % (yes, offset)
        if code != NOP and (no < size or no > left + 4 or no % 4):
            return 'bad no %d at %d' % (no, offset)
        starts.add(offset)
        ops.append((offset, code, yes, no, left))
        offset += yes
        left -= yes
    if left != 0:
        return 'ops run past the end'
    for offset, code, yes, no, left in ops:
        if code != NOP and no < left and offset + no not in starts:
            return 'jump from %d by %d lands inside an op' % (offset, no)
    return None


def _bits_equal(have, want, bits):
    whole, rest = divmod(bits, 8)
    if have[:whole] != want[:whole]:
        return False
    if rest:
        mask = (0xff << (8 - rest)) & 0xff
        return (have[whole] & mask) == (want[whole] & mask)
    return True


def entry(record):
    """What inet_diag_bc_run sees of a socket (struct inet_diag_entry)."""
    family = socket.AF_INET if record['family'] == 'inet' else socket.AF_INET6
    size = 4 if family == socket.AF_INET else 16
    return {
        'family': family,
        'saddr': ipaddress.ip_address(record['local_address']).packed[:size],
        'daddr': ipaddress.ip_address(record['peer_address']).packed[:size],
        'sport': record['local_port'], 'dport': record['peer_port'], 'ifindex': record.get('_ifindex') or 0,
        'mark': record.get('mark') or 0, 'cgroup': record.get('cgroup_id') or 0, 'locked': bool(record.get('port_locked')),
    }


def run_program(program, sock):
    """The kernel's verdict: walk the ops, `yes` when the test holds, else `no`; accept iff the walk ends at 0."""
    length, pos = len(program), 0
    while length > 0:
        code, yes, no = _OP.unpack_from(program, pos)
        holds = True
        if code == JMP:
            holds = False
        elif code in (S_GE, S_LE, D_GE, D_LE, S_EQ, D_EQ):
            port = _OP.unpack_from(program, pos + 4)[2]
            have = sock['sport'] if code in (S_GE, S_LE, S_EQ) else sock['dport']
            holds = {S_GE: have >= port, D_GE: have >= port, S_LE: have <= port, D_LE: have <= port}.get(code, have == port)
        elif code == AUTO:
            holds = not sock['locked']
        elif code in (S_COND, D_COND):
            family, bits, port = _HOSTCOND.unpack_from(program, pos + 4)
            want = bytes(program[pos + 12:pos + yes])
            addr = sock['saddr'] if code == S_COND else sock['daddr']
            if port != -1 and port != (sock['sport'] if code == S_COND else sock['dport']):
                holds = False
            elif family != 0 and family != sock['family']:
                holds = (sock['family'] == socket.AF_INET6 and family == socket.AF_INET
                         and addr[:12] == b'\0' * 10 + b'\xff\xff' and _bits_equal(addr[12:], want, bits))
            elif bits:
                holds = _bits_equal(addr, want, bits)
        elif code == DEV_COND:
            holds = struct.unpack_from('=I', program, pos + 4)[0] == sock['ifindex']
        elif code == MARK_COND:
            mark, mask = struct.unpack_from('=II', program, pos + 4)
            holds = (sock['mark'] & mask) == mark
        elif code == CGROUP_COND:
            holds = struct.unpack_from('=Q', program, pos + 4)[0] == sock['cgroup']
        elif code != NOP:
            raise BadProgram('op %d at %d' % (code, pos))
        step = yes if holds else no
        pos += step
        length -= step
    return length == 0


# --- one filter through every entry point ----------------------------------------------------------------------------

class CallTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CallTimeout('no answer in %.1f s' % (2 * CALL_LIMIT))


def check_generated(seed_offset, count, kind, gather_every=0):
    """Run `count` generated filters of one kind (seed: filtergen.seed(seed_offset)) through Fuzzer, with host names
    resolved through filtergen's fixed table (the same answers everywhere, and no DNS traffic). Fail the test with
    the report when any check failed; else return the counts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(values, 'default_resolver', filtergen.fake_resolver)
        fuzzer = Fuzzer(filtergen.seed(seed_offset), gather_every=gather_every)
        fuzzer.run(filtergen.filters(fuzzer.seed, count, kinds=(kind,)))
    if fuzzer.failures:
        pytest.fail(fuzzer.report(), pytrace=False)
    counts = fuzzer.counts
    assert counts['filters'] == count, counts
    return counts


class Fuzzer(object):
    """Runs filters, and collects failures by signature (one example each) instead of stopping at the first."""

    def __init__(self, seed_value, gather_every=0):
        self.seed = seed_value
        self.dump = filtergen.dump_records()
        self.inet = [r for r in self.dump if r['family'] in ('inet', 'inet6')]
        self.entries = [entry(r) for r in self.inet]
        # To keep 100k filters within seconds: the plugin runs on a third of the records, the bytecode oracle on 8
        # inet records (a different 8 for each filter); FastFilter is compared with SSFilter on every record.
        self.facts = filtergen.facts_records()[::3]
        self.gather_every = gather_every
        self.failures = {}
        self.counts = {'filters': 0, 'parsed': 0, 'errors': 0, 'programs': 0, 'gathers': 0, 'slowest': 0.0}
        self.slowest = ''

    def fail(self, signature, index, kind, text, tables, detail):
        if signature not in self.failures:
            self.failures[signature] = [0, index, kind, text, tables, detail]
        self.failures[signature][0] += 1

    def run(self, generated):
        previous = signal.signal(signal.SIGALRM, _alarm)
        try:
            for index, (kind, text, tables) in enumerate(generated):
                self.counts['filters'] += 1
                started = time.monotonic()
                signal.setitimer(signal.ITIMER_REAL, 2 * CALL_LIMIT)
                try:
                    self.one(index, kind, text, tables)
                except Exception as exc:  # pylint: disable=broad-except  # every other exception is the finding
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    self.fail('%s at %s:%d' % (type(exc).__name__, where.filename.rsplit('/', 1)[-1], where.lineno), index, kind,
                              text, tables, traceback.format_exc(limit=-6))
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                elapsed = time.monotonic() - started
                if elapsed > self.counts['slowest']:
                    self.counts['slowest'], self.slowest = elapsed, text
                if elapsed > CALL_LIMIT:
                    self.fail('slower than %.1f s' % CALL_LIMIT, index, kind, text, tables, '%.2f s' % elapsed)
        finally:
            signal.signal(signal.SIGALRM, previous)

    def report(self):
        lines = ['%s: %d distinct failures in %d filters' % (filtergen.describe(self.seed), len(self.failures), self.counts['filters'])]
        for signature, (count, index, kind, text, tables, detail) in sorted(self.failures.items()):
            shown = text if len(text) <= 300 else text[:300] + '... (%d chars)' % len(text)
            lines.append('\n== %s: %d times; first: filter #%d (%s), tables %s:\n   %s\n%s'
                         % (signature, count, index, kind, list(tables), ascii(shown), detail))
        # NUL bytes and lone surrogates must not reach the terminal or the JUnit XML as they are
        return '\n'.join(lines).encode('ascii', 'backslashreplace').decode('ascii')

    # -- the checks --------------------------------------------------------------------------------------------------

    def one(self, index, kind, text, tables):
        flt = self.parse(index, kind, text, tables, tables)
        if flt is not None:
            self.counts['parsed'] += 1
            self.program(index, kind, text, tables, flt)
        self.plugin(index, kind, text, tables, flt)
        # gather() refuses a bad filter before any I/O: every third of those, and every gather_every-th filter.
        if (flt is None and index % 3 == 0) or (self.gather_every and index % self.gather_every == 0):
            self.gather(index, kind, text, tables, flt)

    def parse(self, index, kind, text, tables, parse_tables):
        try:
            return ssfilter.parse(text, tables=parse_tables, resolver=filtergen.fake_resolver, ephemeral_range=EPHEMERAL)
        except FilterError as exc:
            self.counts['errors'] += 1
            message = str(exc)
            if not message.startswith('filter: ') or not POSITION.search(message):
                self.fail('FilterError without a position', index, kind, text, tables, message[:400])
            return None

    def program(self, index, kind, text, tables, flt):
        """State masks in range; a program the kernel accepts, whose verdicts equal SSFilter's model of the kernel."""
        for listening in (False, True):
            mask = flt.state_mask(listening)
            if not isinstance(mask, int) or not 0 < mask <= ALL_STATES:
                self.fail('state mask out of range', index, kind, text, tables, repr(mask))
        program = flt.bytecode(socket.AF_INET)
        if program != flt.bytecode(socket.AF_INET6):
            self.fail('different programs for IPv4 and IPv6', index, kind, text, tables, '')
        if program:
            self.counts['programs'] += 1
            problem = program_problem(program)
            if problem:
                self.fail('program the kernel would refuse', index, kind, text, tables, '%s: %s' % (problem, program.hex()))
                return
        elif program is not None and flt.tree is not None:
            self.fail('empty program for an expression', index, kind, text, tables, '')
        start = (index * KERNEL_SAMPLE) % len(self.inet)
        try:
            for position in range(start, start + KERNEL_SAMPLE):
                record, sock = self.inet[position % len(self.inet)], self.entries[position % len(self.inet)]
                live = flt.match(record)
                user = bool(flt.select([record], kernel_filtered=True))
                kernel = run_program(program, sock) if program else True
                if live != (user and kernel):
                    self.fail('kernel model != INET_DIAG program', index, kind, text, tables,
                              'record %s %s:%s -> %s:%s locked=%s: match()=%s, userspace=%s, program=%s (%s)'
                              % (record['netid'], record['local_address'], record['local_port'], record['peer_address'],
                                 record['peer_port'], record.get('port_locked'), live, user, kernel, (program or b'').hex()))
                    return
        except FilterError as exc:
            if not POSITION.search(str(exc)):
                self.fail('FilterError without a position', index, kind, text, tables, str(exc)[:400])

    def plugin(self, index, kind, text, tables, flt):
        """The ss_filter plugin returns what SSFilter.select returns for the records of its tables, or raises
        AnsibleFilterError exactly when SSFilter raises (it reads the filter for tcp and udp when given no tables);
        and the FastFilter it compiled selects what SSFilter selects from the module's own records too."""
        plugin_tables = tuple(tables) if index % 2 else None
        arguments = (self.facts, text, plugin_tables and list(plugin_tables))
        got = None
        if index % 4 == 0:
            # The plugin itself for one filter in four (an AnsibleFilterError costs ansible ~0.5 ms to build and
            # print); the module_utils function it wraps, with its ValueError, for the others.
            try:
                got = socket_filters.ss_filter(*arguments, ephemeral_range=list(EPHEMERAL))
            except AnsibleFilterError as exc:
                message = str(exc)
                if not isinstance(exc.__cause__, ValueError) or not message.startswith('ss_filter: ') or 'Traceback' in message:
                    self.fail('AnsibleFilterError badly worded', index, kind, text, tables, message[:400])
                elif message.startswith('ss_filter: expression') and not POSITION.search(message):
                    self.fail('AnsibleFilterError without a position', index, kind, text, tables, message[:400])
        else:
            try:
                got = _ssfilter_fast.ss_filter(*arguments, ephemeral_range=list(EPHEMERAL))
            except ValueError as exc:
                if str(exc).startswith('expression') and not POSITION.search(str(exc)):
                    self.fail('ss_filter error without a position', index, kind, text, tables, str(exc)[:400])
        if (plugin_tables or ('tcp', 'udp')) != tuple(tables):
            flt = self.parse(index, kind, text, tables, plugin_tables or ('tcp', 'udp'))
        if flt is None:
            if got is not None:
                self.fail('ss_filter accepted a filter parse refused', index, kind, text, tables, 'plugin tables %s' % (plugin_tables,))
            return
        # Which records belong to the tables is the vocabulary's answer (its netids are checked against ss's Netid
        # column in test__table_names.py); the oracle here is SSFilter.select on those records.
        netids = None
        if plugin_tables is not None:
            netids = _table_names.netids(ssfilter.expand_tables(plugin_tables))
        try:
            # the FastFilter the plugin has just compiled (lru-cached), on the records a gather run holds
            fast = _ssfilter_fast.compile_filter(text, plugin_tables, EPHEMERAL).select(self.dump)
        except FilterError:
            fast = None
        for label, records, result in (('ss_filter', self.facts, got), ('FastFilter', self.dump, fast)):
            if netids is not None:
                records = [record for record in records if record['netid'] in netids]
            try:
                want, error = flt.select(records), None
            except FilterError as exc:
                want, error = None, str(exc)
            if (result is None) != (want is None):
                self.fail('%s and SSFilter disagree on raising' % label, index, kind, text, tables,
                          'plugin tables %s; SSFilter: %s' % (plugin_tables, 'returned' if want is not None else error[:300]))
            elif want is not None and [id(r) for r in result] != [id(r) for r in want]:
                self.fail('%s.select != SSFilter.select' % label, index, kind, text, tables,
                          'plugin tables %s; only SSFilter: %s; only %s: %s'
                          % (plugin_tables, [r['inode'] for r in want if r not in result][:5], label,
                             [r['inode'] for r in result if r not in want][:5]))

    def gather(self, index, kind, text, tables, parsed):
        """gather() raises GatherError exactly when parse refuses the filter for the tables gather resolves, or when
        a device word names a device this host lacks (bind_devices, as the module reads it; ss refuses those too)."""
        self.counts['gathers'] += 1
        resolved = _gather.resolve_tables(list(tables))
        if ssfilter.expand_tables(resolved) != ssfilter.expand_tables(tables):
            try:
                parsed = ssfilter.parse(text, tables=resolved, resolver=filtergen.fake_resolver)
            except FilterError:
                parsed = None
        accepted = parsed is not None
        if accepted:
            try:
                parsed.bind_devices(None)
            except FilterError:
                accepted = False
        try:
            facts = _gather.gather(tables=list(tables), filter_text=text, processes=False, summary=False)
        except _gather.GatherError as exc:
            message = str(exc)
            if not POSITION.search(message) or 'Traceback' in message:
                self.fail('GatherError without a position', index, kind, text, tables, message[:400])
            if accepted:
                self.fail('gather refused a filter parse accepted', index, kind, text, tables, message[:400])
            return
        if not accepted:
            self.fail('gather accepted a filter parse refused', index, kind, text, tables, '')
        meta = facts['socket_meta']
        if meta['count'] != len(facts['sockets']) or meta['filter'] != (text or None) or not isinstance(meta['complete'], bool):
            self.fail('socket_meta inconsistent', index, kind, text, tables, repr(meta)[:400])
