# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: port policies and audit verdicts, snapshot diffs, listening ports, fast ss filtering."""

# The filters (plugins/filter/socket_filters.py) are thin wrappers over the public functions here:
# ss_filter(), listening_ports(), port_audit(), socket_diff(). Every bad input raises PolicyError (a ValueError)
# whose message names the argument and the offending item; the filters prefix their own name.

from __future__ import annotations

import datetime
import fnmatch
import functools
import ipaddress
import json
import re

from collections.abc import Mapping, Sequence

from ansible_collections.netaudit.sockets.plugins.module_utils import _ssfilter
from ansible_collections.netaudit.sockets.plugins.module_utils._records import STATE_NUMBERS
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter_terms import (
    AF_UNSPEC, HostCond, PortCmp, RecordProblem, View,
)


class PolicyError(ValueError):
    """Input that cannot be filtered, audited or compared; the message names the argument and the item."""


INET_FAMILIES = ('inet', 'inet6')
# ss table names (as _ssfilter.expand_tables returns them) to the netid of their records.
TABLE_NETIDS = {
    'unix_stream': 'u_str', 'unix_dgram': 'u_dgr', 'unix_seqpacket': 'u_seq', 'packet_raw': 'p_raw',
    'packet_dgram': 'p_dgr', 'netlink': 'nl', 'vsock_stream': 'v_str', 'vsock_dgram': 'v_dgr',
}
# Datagram tables whose bound (UNCONN) sockets with a port count as listening, like `ss -l` shows them.
DATAGRAM_NETIDS = ('udp',)
PORT_NETIDS = ('tcp', 'udp', 'sctp', 'mptcp', 'dccp', 'raw')
DEFAULT_EPHEMERAL = (32768, 60999)     # Linux's default net.ipv4.ip_local_port_range


def _type_name(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, Mapping):
        return 'a dict'
    if isinstance(value, Sequence):
        return 'a list'
    return 'a value of type %s' % type(value).__name__


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _strip_filter_prefix(message):
    return message[len('filter: '):] if message.startswith('filter: ') else message


# --- socket records as arguments ------------------------------------------------------------------------------

def socket_records(value, argument='sockets'):
    """(records, socket_meta or None): a list of records, or a dict holding them under `sockets` (ansible_facts,
    or a host's hostvars with ansible_facts); raises PolicyError for anything else."""
    meta = None
    if isinstance(value, Mapping):
        facts = value
        inner = facts.get('ansible_facts')
        if 'sockets' not in facts and isinstance(inner, Mapping) and 'sockets' in inner:
            facts = inner
        if 'sockets' not in facts:
            raise PolicyError('%s: expected a list of socket records, or facts with a "sockets" key; got a dict with '
                              'keys %s' % (argument, ', '.join(sorted('"%s"' % k for k in facts)[:8]) or 'none'))
        meta = facts.get('socket_meta')
        value = facts['sockets']
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        hint = ' (were the facts gathered with netaudit.sockets.socket_facts?)' if value is None else ''
        raise PolicyError('%s: expected a list of socket records, got %s%s' % (argument, _type_name(value), hint))
    return value, meta


def check_records(records, keys, argument='sockets'):
    """Raise PolicyError naming the first record that is not a dict, lacks one of `keys`, or has a bad value."""
    for index, record in enumerate(records):
        problem = record_problem(record, keys)
        if problem:
            raise PolicyError('%s[%d]: %s' % (argument, index, problem))


_KEY_TYPES = {
    'netid': str, 'state': str, 'family': str, 'local_address': str, 'peer_address': str,
    'local_port': int, 'peer_port': int, 'processes': list, 'user': str, 'netns': str, 'interface': str,
    'uid': int, 'v6only': bool,
}


def record_problem(record, keys):
    """What is wrong with one record for a function that reads `keys`, or None."""
    if not isinstance(record, Mapping):
        return 'expected a socket record (a dict), got %s' % _type_name(record)
    missing = [key for key in keys if key not in record]
    if missing:
        return 'not a socket record: no %s (a record from netaudit.sockets.socket_facts has them all)' % (
            ', '.join('"%s"' % key for key in missing))
    for key in keys:
        value, wanted = record[key], _KEY_TYPES.get(key)
        if value is None or wanted is None:
            continue
        if wanted is int and not _is_int(value):
            return '"%s" must be an integer or null, got %s' % (key, _type_name(value))
        if wanted is str and not isinstance(value, str):
            return '"%s" must be a string or null, got %s' % (key, _type_name(value))
        if wanted is list and (isinstance(value, (str, bytes)) or not isinstance(value, Sequence)):
            return '"%s" must be a list, got %s' % (key, _type_name(value))
        if wanted is bool and not isinstance(value, bool):
            return '"%s" must be a boolean or null, got %s' % (key, _type_name(value))
    return None


def _boolean(value, argument):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ('true', 'yes', 'on', '1', 'false', 'no', 'off', '0'):
        return value.strip().lower() in ('true', 'yes', 'on', '1')
    raise PolicyError('%s: expected a boolean, got %s' % (argument, _type_name(value)))


# --- ss_filter: an SSFilter compiled to one list comprehension -----------------------------------------------

# A memo holds at most _MEMO_LIMIT verdicts during one select(), and keeps at most _MEMO_KEEP between calls.
_MEMO_LIMIT = 1 << 20
_MEMO_KEEP = 1 << 16


class _Memo(dict):
    """Verdicts of one filter term per field value (an address, a port), each judged once by the term itself."""
    __slots__ = ('judge',)

    def __init__(self, judge):
        super(_Memo, self).__init__()
        self.judge = judge

    def __missing__(self, key):
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        value = self[key] = bool(self.judge(key))
        return value


class FastFilter(object):
    """An _ssfilter.SSFilter compiled to Python source: one list comprehension over the records.

    For IPv4 and IPv6 records, states and ports are compared inline (the two comparisons ss makes, in its userspace
    check and in the kernel's program, written out once when they read the same). Addresses are judged by the terms
    themselves (their user() and kernel() methods, on a stand-in record), once per distinct address, and memoised;
    an expression that reads only one address is judged whole that way. Terms that need more of the record (dev,
    fwmark, cgroup, autobound, unix/link hosts) are called per record, and records of other families go to
    SSFilter.match() as they are. The result equals SSFilter.select(records), a live ss's answer: the unit tests
    check it for every filter of the differential suite and for random expressions."""

    def __init__(self, flt, netids=None):
        self.flt = flt
        self.netids = frozenset(netids) if netids is not None else None
        self.namespace = {'_slow': flt.match}
        self.memos = []
        self.source = None
        try:
            self.source = self._generate()
            code = compile(self.source, '<ss_filter %s>' % flt.text[:60], 'exec')
            exec(code, self.namespace)  # pylint: disable=exec-used  # our own generated source
            self._run = self.namespace['_select']
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            # Too deeply nested for the compiler: the tree walk gives the same answer, more slowly.
            self._run = self._walk

    def _walk(self, records):
        netids, match = self.netids, self.flt.match
        return [r for r in records if (netids is None or r['netid'] in netids) and match(r)]

    def _name(self, prefix, value):
        name = '_%s%d' % (prefix, len(self.namespace))
        self.namespace[name] = value
        if isinstance(value, _Memo):
            self.memos.append(value)
        return name

    def _generate(self):
        flt = self.flt
        inet = self._family_expr('inet')
        inet6 = self._family_expr('inet6')
        test = "(%s if r['family'] == 'inet' else %s if r['family'] == 'inet6' else _slow(r))" % (inet, inet6)
        if self.netids is not None:
            test = "r['netid'] in %s and %s" % (self._name('n', self.netids), test)
        if flt.tree is None and not flt.has_state_clause and flt.families is None and self.netids is None:
            test = 'True'
        return 'def _select(records):\n    return [r for r in records if %s]\n' % test

    def _family_expr(self, family):
        flt = self.flt
        if flt.families is not None and family not in flt.families:
            return 'False'
        parts = []
        if flt.has_state_clause:
            mask = flt.state_mask()
            names = frozenset(name for name, number in STATE_NUMBERS.items() if mask & (1 << number))
            test = "r['state'] in %s" % self._name('s', names)
            if 'UNKNOWN' in names:
                # A state name the records should not have counts as UNKNOWN, as SSFilter reads it.
                test = "(%s or r['state'] not in %s)" % (test, self._name('k', frozenset(STATE_NUMBERS)))
            parts.append(test)
        if flt.tree is not None:
            kernel = bool(flt.bytecode('inet'))
            terms = flt.terms()
            fields = self._fields(terms)
            if fields is not None and len(fields) <= 1 and not fields & set(('local_port', 'peer_port')):
                # The whole expression reads one address (or nothing) of these records: judge it once per value.
                # (Ports are compared inline: a memo lookup costs more than a comparison.)
                whole = _ssfilter.SSFilter(flt.text, flt.tree, tables=flt.tables)
                if not fields:
                    parts.append('True' if whole.match({'family': family}) else 'False')
                else:
                    field = fields.pop()
                    memo = _Memo(lambda value: whole.match({'family': family, field: value}))
                    parts.append('%s[r[%r]]' % (self._name('m', memo), field))
            elif len(terms) == 1 and isinstance(flt.tree, HostCond):
                # One host term: its user and kernel judgements share one memo.
                parts.append(self._term(flt.tree, family, ('user', 'kernel') if kernel else ('user',)))
            else:
                user = self._tree(flt.tree, family, 'user')
                parts.append(user)
                if kernel:
                    other = self._tree(flt.tree, family, 'kernel')
                    if other != user:
                        parts.append(other)
        return '(%s)' % ' and '.join(parts) if parts else 'True'

    @staticmethod
    def _fields(terms):
        """The fields of an IPv4/IPv6 record that the terms read, or None when one of them reads more."""
        fields = set()
        for term in terms:
            if isinstance(term, HostCond) and term.family in (None, 'inet', 'inet6'):
                addr_key, port_key = ('local_address', 'local_port') if term.side == 'src' else ('peer_address', 'peer_port')
                if term.port != -1:
                    fields.add(port_key)
                if term.alternatives[0][:2] != (AF_UNSPEC, 0):
                    fields.add(addr_key)
            elif isinstance(term, PortCmp):
                fields.add('local_port' if term.side == 'src' else 'peer_port')
            else:
                return None
        return fields

    def _tree(self, node, family, mode):
        if isinstance(node, tuple) and node[0] == 'not':
            return '(not %s)' % self._tree(node[1], family, mode)
        if isinstance(node, tuple):
            first, steps = _ssfilter.chain(node)
            text = self._tree(first, family, mode)
            for op, right in steps:
                text = '(%s %s %s)' % (text, op, self._tree(right, family, mode))
            return text
        return self._term(node, family, (mode,))

    def _term(self, term, family, modes):
        flt = self.flt

        def judged(record):
            view = View(record)
            for mode in modes:
                if not getattr(term, mode)(view, flt):
                    return False
            return True

        if isinstance(term, HostCond) and term.family in (None, 'inet', 'inet6'):
            addr_key, port_key = ('local_address', 'local_port') if term.side == 'src' else ('peer_address', 'peer_port')
            parts = []
            if term.port != -1:
                parts.append("r[%r] == %d" % (port_key, term.port) if term.port else "not r[%r]" % port_key)
            first = term.alternatives[0]
            trivially_true = {'user': first[1] == 0, 'kernel': first[0] == AF_UNSPEC and first[1] == 0}
            if not all(trivially_true[mode] for mode in modes):
                stand_in_port = term.port if term.port != -1 else 0

                def judge(text):
                    # The port test of the term passes on the stand-in, so this is the address test alone.
                    return judged({'family': family, addr_key: text, 'local_port': stand_in_port,
                                   'peer_port': stand_in_port})
                parts.append('%s[r[%r]]' % (self._name('m', _Memo(judge)), addr_key))
            return '(%s)' % ' and '.join(parts) if parts else 'True'
        if isinstance(term, PortCmp) and len(modes) == 1:
            # PortCmp.user() compares the record's port (0 when missing) with the term's; kernel() with its low 16 bits.
            port_key = 'local_port' if term.side == 'src' else 'peer_port'
            port = term.port if modes[0] == 'user' else term.port & 0xffff
            return "(r[%r] or 0) %s %d" % (port_key, '>=' if term.op == 'ge' else '<=', port)
        return '%s(r)' % self._name('t', judged)

    def select(self, records):
        try:
            return self._run(records)
        except RecordProblem:
            # The tree walk raises the FilterError that names the term and what the records lack.
            return self._walk(records)
        finally:
            for memo in self.memos:
                if len(memo) > _MEMO_KEEP:
                    memo.clear()


@functools.lru_cache(maxsize=256)
def compile_filter(expression, tables=None):
    """A FastFilter for an ss filter; tables (a tuple of ss table names or aliases) also select records by netid.
    Raises _ssfilter.FilterError."""
    flt = _ssfilter.parse(expression, tables=tables if tables else ('tcp', 'udp'))
    netids = None
    if tables:
        netids = frozenset(TABLE_NETIDS.get(name, name) for name in _ssfilter.expand_tables(tables))
    return FastFilter(flt, netids)


def ss_filter(sockets, expression, tables=None):
    """The records that a live ss would show for this filter (state clauses included), in their order."""
    records, _meta = socket_records(sockets)
    if expression is None:
        expression = ''
    if not isinstance(expression, str):
        raise PolicyError('expression: expected a string, got %s' % _type_name(expression))
    if tables is not None:
        if isinstance(tables, str):
            tables = [tables]
        if not isinstance(tables, Sequence) or not all(isinstance(t, str) for t in tables) or not tables:
            raise PolicyError('tables: expected a list of table names (tcp, udp, unix ...), got %s' % _type_name(tables))
        tables = tuple(str(t).strip().lower() for t in tables)
    try:
        fast = compile_filter(expression, tables)
    except _ssfilter.FilterError as exc:
        where = 'tables' if str(exc).startswith('filter: unknown socket table') else 'expression "%s"' % expression
        raise PolicyError('%s: %s' % (where, _strip_filter_prefix(str(exc))))
    try:
        return fast.select(records)
    except _ssfilter.FilterError as exc:
        raise PolicyError('expression "%s": %s' % (expression, _strip_filter_prefix(str(exc))))
    except (KeyError, TypeError, AttributeError, ValueError):
        keys = ['family', 'netid'] + (['state'] if fast.flt.has_state_clause else [])
        keys += ['local_address', 'local_port', 'peer_address', 'peer_port'] if fast.flt.tree is not None else []
        check_records(records, keys)
        raise


# --- listening sockets ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8192)
def _ip(text):
    try:
        return ipaddress.ip_address(text.split('%', 1)[0])
    except ValueError:
        return None


def is_listening(record):
    """Listening sockets (LISTEN) and bound datagram sockets (UDP in UNCONN with a port), IPv4 or IPv6."""
    if record.get('family') not in INET_FAMILIES:
        return False
    port = record.get('local_port')
    if not _is_int(port) or port <= 0:
        return False
    state = record.get('state')
    return state == 'LISTEN' or (state == 'UNCONN' and record.get('netid') in DATAGRAM_NETIDS)


def _bracketed(address):
    return '[%s]' % address if ':' in address else address


class Listener(object):
    """One listening socket as the policy sees it: what it listens on (IPv4 too when it is dual stack)."""

    __slots__ = ('record', 'index', 'proto', 'family', 'address', 'port', 'endpoints', 'interface', 'stack',
                 'exposure', 'names', 'pids', 'user', 'uid', 'netns')

    def __init__(self, record, index, argument='sockets'):
        self.record, self.index = record, index
        self.proto = record['netid']
        self.family = record['family']
        self.address = record['local_address'] or ('0.0.0.0' if self.family == 'inet' else '::')
        self.port = record['local_port']
        self.interface = record.get('interface') or None
        ip = _ip(self.address)
        if ip is None:
            raise PolicyError('%s[%d]: local_address "%s" is not an IP address' % (argument, index, self.address))
        if self.family == 'inet':
            ends = [ip] if ip.version == 4 else [ip.ipv4_mapped or ip]
        elif ip.version == 6 and ip.ipv4_mapped is not None:
            ends = [ip.ipv4_mapped]         # ::ffff:a.b.c.d takes IPv4 connections only
        elif ip.is_unspecified and record.get('v6only') is not True:
            # Dual stack: v6only false (or unknown: Linux's default net.ipv6.bindv6only=0) also listens on IPv4.
            ends = [ip, ipaddress.IPv4Address('0.0.0.0')]
        else:
            ends = [ip]
        self.endpoints = tuple(ends)
        versions = set(end.version for end in ends)
        self.stack = 'dual' if len(versions) == 2 else ('ipv4' if 4 in versions else 'ipv6')
        if self.interface == 'lo' or all(end.is_loopback for end in ends):
            self.exposure = 'loopback'
        elif any(end.is_unspecified for end in ends) and self.interface is None:
            self.exposure = 'all_interfaces'
        else:
            self.exposure = 'local_network'
        processes = record.get('processes') or []
        names, pids = [], []
        for process in processes:
            if isinstance(process, Mapping):
                if process.get('name') is not None and process['name'] not in names:
                    names.append(process['name'])
                if process.get('pid') is not None and process['pid'] not in pids:
                    pids.append(process['pid'])
        self.names, self.pids = names, sorted(pids)
        self.user, self.uid, self.netns = record.get('user'), record.get('uid'), record.get('netns')

    def endpoint_text(self):
        """ss's spelling of the local end: 0.0.0.0:22, [::]:22, 127.0.0.1%lo:22."""
        return '%s%s:%d' % (_bracketed(self.address), '%' + self.interface if self.interface else '', self.port)

    def port_text(self, with_address=False, with_family=False):
        """tcp/22, tcp46/22 (dual stack; tcp4, tcp6), tcp/22@[::], tcp/22@127.0.0.1%lo."""
        family = {'ipv4': '4', 'ipv6': '6', 'dual': '46'}[self.stack] if with_family else ''
        text = '%s%s/%d' % (self.proto, family, self.port)
        if with_address:
            text += '@' + _bracketed(self.address) + ('%' + self.interface if self.interface else '')
        return text

    def owners_text(self):
        owners = ', '.join('%s pid %s' % (p.get('name'), p.get('pid')) for p in self.record.get('processes') or ()
                           if isinstance(p, Mapping))
        who = owners or 'owner unknown'
        if self.user is not None or self.uid is not None:
            who += ', user %s' % (self.user if self.user is not None else self.uid)
        return who

    def describe(self):
        netns = ' in netns %s' % self.netns if self.netns else ''
        return '%s %s%s (%s)' % (self.proto, self.endpoint_text(), netns, self.owners_text())

    def summary(self):
        return {
            'id': self.port_text(with_address=True), 'proto': self.proto, 'family': self.family,
            'address': self.address, 'port': self.port, 'interface': self.interface, 'endpoint': self.endpoint_text(),
            'stack': self.stack, 'exposure': self.exposure, 'state': self.record.get('state'),
            'processes': list(self.names), 'pids': list(self.pids), 'user': self.user, 'uid': self.uid,
            'netns': self.netns, 'inode': self.record.get('inode'),
        }


_LISTEN_KEYS = ('netid', 'state', 'family', 'local_address', 'local_port')


def listeners(records, argument='sockets'):
    check_records(records, _LISTEN_KEYS, argument)
    found = []
    for index, record in enumerate(records):
        if is_listening(record):
            found.append(Listener(record, index, argument))
    return found


def listening_ports(sockets, with_address=False, with_family=False):
    """Sorted unique proto/port strings of the listening sockets: tcp/22, udp/53 (options: tcp46/22@[::])."""
    records, _meta = socket_records(sockets)
    with_address = _boolean(with_address, 'with_address')
    with_family = _boolean(with_family, 'with_family')
    keyed = {}
    for listener in listeners(records):
        text = listener.port_text(with_address, with_family)
        ip = listener.endpoints[0]
        key = (listener.proto, listener.port, ip.version, len(listener.endpoints), ip.packed, listener.interface or '', text)
        keyed[text] = min(key, keyed.get(text, key))
    return sorted(keyed, key=keyed.get)


# --- rules ----------------------------------------------------------------------------------------------------

RULE_KEYS = ('port', 'proto', 'family', 'bind', 'process', 'user', 'netns', 'match', 'name', 'reason', 'until')
POLICY_KEYS = ('expected', 'allowed', 'forbidden', 'closed_world', 'accept_incomplete', 'name', 'description')
KINDS = ('expected', 'allowed', 'forbidden')
FAMILY_WORDS = {'inet': 4, 'ipv4': 4, '4': 4, 'inet6': 6, 'ipv6': 6, '6': 6}
SCOPES = ('any', 'loopback', 'public')
_SHORTHAND = re.compile(r'(?:(?P<proto>[A-Za-z][A-Za-z0-9_]*)/)?(?P<ports>[^@/]*)(?:@(?P<bind>.*))?\Z', re.S)
_DATE = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})\Z')
_DATETIME = re.compile(r'(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]*(?:Z|[+-][0-9:]+)?)?\Z')


def _port_range(value, where):
    """(low, high) from 22, "22" or "8000-8099"; raises PolicyError."""
    if _is_int(value):
        low = high = value
    elif isinstance(value, str):
        text = value.strip()
        low_text, dash, high_text = text.partition('-')
        if not low_text.strip().isdigit() or (dash and not high_text.strip().isdigit()):
            raise PolicyError('%s: "%s": expected a port number 1-65535 or a range LOW-HIGH' % (where, value))
        low = int(low_text)
        high = int(high_text) if dash else low
    else:
        raise PolicyError('%s: expected a port number or a range "LOW-HIGH", got %s' % (where, _type_name(value)))
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise PolicyError('%s: "%s": port %d is out of range (1-65535)' % (where, value, port))
    if low > high:
        raise PolicyError('%s: "%s": the range is reversed' % (where, value))
    return low, high


def _bind_matcher(value, where):
    """(canonical text, version or None, test(endpoint, listener))."""
    if not isinstance(value, str) or not value.strip():
        raise PolicyError('%s: expected any, loopback, public, an address or a CIDR, got %s' % (
            where, 'an empty string' if isinstance(value, str) else _type_name(value)))
    text = value.strip()
    word = text.lower()
    if word in ('any', '*'):
        return 'any', None, lambda end, listener: end.is_unspecified
    if word == 'loopback':
        return 'loopback', None, lambda end, listener: end.is_loopback or listener.interface == 'lo'
    if word == 'public':
        return 'public', None, lambda end, listener: not (end.is_loopback or listener.interface == 'lo')
    bare = text[1:-1] if text.startswith('[') and text.endswith(']') else text
    if '/' in bare:
        try:
            network = ipaddress.ip_network(bare, strict=False)
        except ValueError:
            network = None
        if network is not None:
            if network.version == 6 and network.prefixlen >= 96 and network.network_address.ipv4_mapped is not None:
                network = ipaddress.ip_network('%s/%d' % (network.network_address.ipv4_mapped, network.prefixlen - 96))
            return str(network), network.version, (
                lambda end, listener: end.version == network.version and end in network)
    else:
        ip = _ip(bare)
        if ip is not None and '%' not in bare:
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            return str(ip), ip.version, lambda end, listener: end == ip
    raise PolicyError('%s: "%s": expected any, loopback, public, an address or a CIDR' % (where, value))


def _strings(value, where, what):
    """One string or a list of them (each non-empty), as a tuple."""
    items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
    if isinstance(items, (bytes, Mapping)) or not isinstance(items, Sequence) or not items:
        raise PolicyError('%s: expected %s or a list of them, got %s' % (where, what, _type_name(value)))
    out = []
    for item in items:
        empty = isinstance(item, str) and not item.strip() and what != 'a namespace name'
        if isinstance(item, bool) or not isinstance(item, (str, int)) or empty:
            raise PolicyError('%s: expected %s, got %s' % (where, what, _type_name(item) if item != '' else '""'))
        out.append(str(item).strip())
    return tuple(out)


def parse_date(value, where, allow_time=False):
    """A datetime.date from a date, a datetime, or text YYYY-MM-DD (with a time after it when allow_time)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        found = (_DATETIME if allow_time else _DATE).match(value.strip())
        if found:
            try:
                return datetime.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
            except ValueError as exc:
                raise PolicyError('%s: "%s": not a valid date (%s)' % (where, value, exc))
        raise PolicyError('%s: "%s": not a date (expected YYYY-MM-DD)' % (where, value))
    raise PolicyError('%s: expected a date (YYYY-MM-DD), got %s' % (where, _type_name(value)))


class Rule(object):
    """One rule of a policy, from the shorthand [proto/]PORT[-PORT][@BIND] or a mapping."""

    def __init__(self, kind, index, spec):
        self.kind, self.index = kind, index
        self.id = '%s[%d]' % (kind, index)
        self.path = 'policy.' + self.id
        self.protos = self.ports = self.family = self.binds = None
        self.processes = self.users = self.netns = self.match = None
        self.match_text = self.name = self.reason = self.until = None
        if isinstance(spec, str) or _is_int(spec):
            self._shorthand(str(spec))
        elif isinstance(spec, Mapping):
            self._mapping(spec)
        else:
            raise PolicyError('%s: expected a rule ("tcp/22", "udp/5353@loopback") or a mapping, got %s'
                              % (self.path, _type_name(spec)))
        self.text = self._canonical()
        if self.name is None:
            self.name = self.text

    def _shorthand(self, text):
        where = '%s: "%s"' % (self.path, text)
        found = _SHORTHAND.match(text.strip())
        if not text.strip() or found is None:
            raise PolicyError('%s: expected [PROTO/]PORT[-PORT][@BIND], such as tcp/22 or udp/5353@loopback' % where)
        if found.group('proto'):
            self._proto(found.group('proto'), where)
        ports = found.group('ports').strip()
        if not ports:
            raise PolicyError('%s: expected a port or a range after "%s"' % (
                where, (found.group('proto') + '/') if found.group('proto') else ''))
        try:
            self.ports = _port_range(ports, 'x')
        except PolicyError as exc:
            raise PolicyError('%s: %s' % (where, str(exc).split(': ', 1)[1].replace('"%s": ' % ports, '')))
        if found.group('bind') is not None:
            try:
                self.binds = (_bind_matcher(found.group('bind'), 'x'),)
            except PolicyError as exc:
                raise PolicyError('%s: after "@": %s' % (where, str(exc).split(': ', 1)[1]))

    def _proto(self, value, where):
        protos = _strings(value, where, 'a protocol (tcp, udp, sctp ...)')
        for proto in protos:
            if proto.lower() not in PORT_NETIDS:
                raise PolicyError('%s: unknown protocol "%s" (expected one of %s)' % (where, proto, ', '.join(PORT_NETIDS)))
        self.protos = tuple(p.lower() for p in protos)

    def _mapping(self, spec):
        unknown = [key for key in spec if key not in RULE_KEYS]
        if unknown:
            raise PolicyError('%s: unknown key%s %s (a rule takes %s)' % (
                self.path, 's' if len(unknown) > 1 else '', ', '.join('"%s"' % k for k in unknown), ', '.join(RULE_KEYS)))
        path = self.path
        if spec.get('port') is not None:
            self.ports = _port_range(spec['port'], path + '.port')
        if spec.get('proto') is not None:
            self._proto(spec['proto'], path + '.proto')
        if spec.get('family') is not None:
            word = str(spec['family']).strip().lower()
            if word not in FAMILY_WORDS:
                raise PolicyError('%s.family: "%s": expected inet (IPv4) or inet6 (IPv6)' % (path, spec['family']))
            self.family = FAMILY_WORDS[word]
        if spec.get('bind') is not None:
            bind = spec['bind']
            if isinstance(bind, str) or not isinstance(bind, Sequence):
                self.binds = (_bind_matcher(bind, path + '.bind'),)
            elif not bind:
                raise PolicyError('%s.bind: the list is empty' % path)
            else:
                self.binds = tuple(_bind_matcher(b, '%s.bind[%d]' % (path, i)) for i, b in enumerate(bind))
            for text, version, _test in self.binds:
                if version is not None and self.family is not None and version != self.family:
                    raise PolicyError('%s.bind: "%s" is not an %s address, but family is %s' % (
                        path, text, 'IPv%d' % self.family, 'inet' if self.family == 4 else 'inet6'))
        if spec.get('process') is not None:
            self.processes = _strings(spec['process'], path + '.process', 'a process name or glob')
        if spec.get('user') is not None:
            self.users = _strings(spec['user'], path + '.user', 'a user name or uid')
        if spec.get('netns') is not None:
            self.netns = _strings(spec['netns'], path + '.netns', 'a namespace name')
        if spec.get('match') is not None:
            text = spec['match']
            if not isinstance(text, str):
                raise PolicyError('%s.match: expected an ss filter expression, got %s' % (path, _type_name(text)))
            try:
                self.match = compile_filter(text)
            except _ssfilter.FilterError as exc:
                raise PolicyError('%s.match: "%s": %s' % (path, text, _strip_filter_prefix(str(exc))))
            self.match_text = text
        for key in ('name', 'reason'):
            if spec.get(key) is not None:
                if not isinstance(spec[key], (str, int)) or isinstance(spec[key], bool):
                    raise PolicyError('%s.%s: expected a string, got %s' % (path, key, _type_name(spec[key])))
                setattr(self, key, str(spec[key]))
        if spec.get('until') is not None:
            self.until = parse_date(spec['until'], path + '.until')

    def _canonical(self):
        """The rule in one line: tcp/22@loopback, */8000-8099 process=java, for names and messages."""
        if self.ports is None:
            ports = '*'
        else:
            ports = '%d' % self.ports[0] if self.ports[0] == self.ports[1] else '%d-%d' % self.ports
        text = ','.join(self.protos) + '/' + ports if self.protos else ports
        if self.binds:
            text += '@' + ','.join(b[0] for b in self.binds)
        extras = []
        if self.family:
            extras.append('family=%s' % ('inet' if self.family == 4 else 'inet6'))
        for label, values in (('process', self.processes), ('user', self.users), ('netns', self.netns)):
            if values is not None:
                extras.append('%s=%s' % (label, ','.join(values)))
        if self.match_text is not None:
            extras.append('match="%s"' % self.match_text)
        return ' '.join([text] + extras)

    def matches(self, listener):
        """Whether the rule describes this listening socket (dual stack: its IPv4 side counts too)."""
        if self.protos is not None and listener.proto not in self.protos:
            return False
        if self.ports is not None and not self.ports[0] <= listener.port <= self.ports[1]:
            return False
        if self.netns is not None and not any(fnmatch.fnmatchcase(listener.netns or '', pattern) for pattern in self.netns):
            return False
        if self.users is not None and not any(_user_matches(listener, user) for user in self.users):
            return False
        if self.processes is not None and not any(fnmatch.fnmatchcase(name, pattern)
                                                  for name in listener.names for pattern in self.processes):
            return False
        if self.family is not None or self.binds is not None:
            for end in listener.endpoints:
                if self.family is not None and end.version != self.family:
                    continue
                if self.binds is None or any(test(end, listener) for _text, _version, test in self.binds):
                    break
            else:
                return False
        if self.match is not None:
            try:
                return self.match.flt.match(listener.record)
            except _ssfilter.FilterError as exc:
                raise PolicyError('%s.match: "%s": %s' % (self.path, self.match_text, _strip_filter_prefix(str(exc))))
        return True

    def describe(self):
        return {
            'proto': list(self.protos) if self.protos else None,
            'port': None if self.ports is None else (
                self.ports[0] if self.ports[0] == self.ports[1] else '%d-%d' % self.ports),
            'family': None if self.family is None else ('inet' if self.family == 4 else 'inet6'),
            'bind': [b[0] for b in self.binds] if self.binds else None,
            'process': list(self.processes) if self.processes else None,
            'user': list(self.users) if self.users else None,
            'netns': list(self.netns) if self.netns is not None else None,
            'match': self.match_text,
        }


def _user_matches(listener, user):
    if user.isdigit():
        return listener.uid is not None and str(listener.uid) == user
    return listener.user is not None and fnmatch.fnmatchcase(listener.user, user)


class Policy(object):
    """A parsed policy: its rules by kind and its two switches."""

    def __init__(self, policy):
        if not isinstance(policy, Mapping):
            raise PolicyError('policy: expected a mapping with expected, allowed, forbidden, closed_world; got %s'
                              % _type_name(policy))
        unknown = [key for key in policy if key not in POLICY_KEYS]
        if unknown:
            raise PolicyError('policy: unknown key%s %s (a policy takes %s)' % (
                's' if len(unknown) > 1 else '', ', '.join('"%s"' % k for k in unknown), ', '.join(POLICY_KEYS)))
        self.rules = []
        for kind in KINDS:
            items = policy.get(kind)
            if items is None:
                continue
            if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
                raise PolicyError('policy.%s: expected a list of rules, got %s' % (kind, _type_name(items)))
            for index, spec in enumerate(items):
                self.rules.append(Rule(kind, index, spec))
        self.closed_world = _switch(policy, 'closed_world')
        self.accept_incomplete = _switch(policy, 'accept_incomplete')
        self.name = policy.get('name')


def _switch(policy, key):
    value = policy.get(key)
    return False if value is None else _boolean(value, 'policy.' + key)


_POLICY_CACHE = {}


def compile_policy(policy):
    """A Policy, cached by the policy's JSON text (a fleet audit passes the same policy for every host)."""
    try:
        key = json.dumps(policy, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return Policy(policy)
    found = _POLICY_CACHE.get(key)
    if found is None:
        found = Policy(policy)
        if len(_POLICY_CACHE) >= 64:
            _POLICY_CACHE.clear()
        _POLICY_CACHE[key] = found
    return found


# --- the audit ------------------------------------------------------------------------------------------------

def _today(now):
    if now is None:
        return datetime.date.today()
    return parse_date(now, 'now', allow_time=True)


def _rule_result(rule, expired, sockets, excepted=None):
    result = {
        'id': rule.id, 'kind': rule.kind, 'index': rule.index, 'name': rule.name, 'text': rule.text,
        'rule': rule.describe(), 'reason': rule.reason,
        'until': rule.until.isoformat() if rule.until else None, 'expired': expired,
        'sockets': [s.summary() for s in sockets],
    }
    if rule.kind == 'forbidden':
        result['excepted'] = [s.summary() for s in excepted or ()]
    label = '%s "%s"' % (rule.id, rule.name) if rule.name != rule.text else rule.id
    found = '; '.join(s.describe() for s in sockets)
    if expired:
        status, passed = 'expired', True
        message = '%s (%s) expired on %s and no longer applies%s' % (
            label, rule.text, result['until'], ('; it would match ' + found) if sockets else '')
    elif rule.kind == 'expected':
        status = 'ok' if sockets else 'missing'
        passed = bool(sockets)
        message = ('%s (%s) is listening: %s' % (label, rule.text, found) if sockets
                   else '%s (%s): nothing is listening' % (label, rule.text))
    elif rule.kind == 'forbidden':
        status = 'violated' if sockets else 'ok'
        passed = not sockets
        message = ('%s (%s) is forbidden, but listening: %s' % (label, rule.text, found) if sockets
                   else '%s (%s): nothing forbidden is listening' % (label, rule.text))
        if excepted:
            message += '; excepted until the exception expires: ' + '; '.join(s.describe() for s in excepted)
    else:
        status, passed = 'ok', True
        message = ('%s (%s) allows: %s' % (label, rule.text, found) if sockets
                   else '%s (%s): nothing listening uses it' % (label, rule.text))
    if rule.reason:
        message += ' [reason: %s]' % rule.reason
    result.update(status=status, passed=passed, message=message)
    return result


def port_audit(sockets, policy, now=None, socket_meta=None):
    """The verdict of one host's socket facts against a port policy (see docs/policy.md for its structure)."""
    records, found_meta = socket_records(sockets)
    meta = socket_meta if socket_meta is not None else found_meta
    if meta is not None and not isinstance(meta, Mapping):
        raise PolicyError('socket_meta: expected the socket_meta dict of socket_facts, got %s' % _type_name(meta))
    compiled = compile_policy(policy)
    today = _today(now)
    found = listeners(records)

    expired = set(rule.id for rule in compiled.rules if rule.until is not None and today > rule.until)
    matched = dict((rule.id, []) for rule in compiled.rules)
    socket_entries, unexpected, excepted = [], [], {}
    for listener in found:
        hits = []
        for rule in compiled.rules:
            if rule.matches(listener):
                matched[rule.id].append(listener)
                if rule.id not in expired:
                    hits.append(rule)
        kinds = dict((kind, [r for r in hits if r.kind == kind]) for kind in KINDS)
        # A live exception (an expected or allowed rule with `until`) overrides the forbidden rules it overlaps.
        exceptions = [r for r in hits if r.until is not None and r.kind != 'forbidden']
        if kinds['forbidden'] and not exceptions:
            status = 'forbidden'
        elif kinds['expected']:
            status = 'expected'
        elif kinds['allowed']:
            status = 'allowed'
        else:
            status = 'unexpected' if compiled.closed_world else 'unlisted'
        if kinds['forbidden'] and exceptions:
            for rule in kinds['forbidden']:
                excepted.setdefault(rule.id, []).append(listener)
        entry = listener.summary()
        entry.update(status=status, rules=[r.id for r in hits],
                     exception=exceptions[0].id if exceptions and kinds['forbidden'] else None)
        socket_entries.append(entry)
        if status == 'unexpected':
            unexpected.append(entry)

    results = []
    for rule in compiled.rules:
        is_expired = rule.id in expired
        sockets_found = matched[rule.id]
        if rule.id in excepted:
            spared = set(id(s) for s in excepted[rule.id])
            sockets_found = [s for s in sockets_found if id(s) not in spared]
        results.append(_rule_result(rule, is_expired, sockets_found, excepted.get(rule.id)))

    complete = None if meta is None else meta.get('complete')
    incomplete = complete is False
    reasons = list(meta.get('incomplete_reasons') or ()) if incomplete else []
    notes = []
    if meta is None:
        notes.append('no socket_meta was given, so whether the facts are complete is unknown')
    elif complete is None:
        notes.append('socket_meta has no "complete" key, so whether the facts are complete is unknown')

    missing = [r for r in results if r['status'] == 'missing']
    violated = [r for r in results if r['status'] == 'violated']
    expired_results = [r for r in results if r['status'] == 'expired']
    violations = [r['message'] for r in missing + violated]
    violations += ['unexpected: %s matches no expected or allowed rule (closed world)' % _describe_entry(entry)
                   for entry in unexpected]
    if incomplete and not compiled.accept_incomplete:
        violations.append('incomplete facts: %s (set accept_incomplete: true in the policy to accept them)'
                          % ('; '.join(reasons) or 'socket_meta.complete is false'))
    return {
        'compliant': not violations,
        'date': today.isoformat(),
        'closed_world': compiled.closed_world,
        'accept_incomplete': compiled.accept_incomplete,
        'incomplete': incomplete,
        'incomplete_reasons': reasons,
        'violations': violations,
        'missing': missing,
        'forbidden': violated,
        'unexpected': unexpected,
        'expired_exceptions': expired_results,
        'rules': results,
        'sockets': socket_entries,
        'summary': {
            'listening': len(socket_entries), 'rules': len(results), 'missing': len(missing),
            'forbidden': len(violated), 'unexpected': len(unexpected), 'expired_exceptions': len(expired_results),
            'violations': len(violations),
        },
        'notes': notes,
    }


def _describe_entry(entry):
    owners = ', '.join('%s' % name for name in entry['processes']) or 'owner unknown'
    if entry['pids']:
        owners += ' pid ' + ','.join(str(pid) for pid in entry['pids'])
    if entry['user'] is not None or entry['uid'] is not None:
        owners += ', user %s' % (entry['user'] if entry['user'] is not None else entry['uid'])
    netns = ' in netns %s' % entry['netns'] if entry['netns'] else ''
    return '%s %s%s (%s)' % (entry['proto'], entry['endpoint'], netns, owners)


# --- snapshot diff --------------------------------------------------------------------------------------------

_BOUND_STATES = ('LISTEN', 'UNCONN')
_NOT_FLOWS = ('LISTEN', 'UNCONN', 'TIME-WAIT', 'UNKNOWN')
_UNIX_AUTOBIND = re.compile(r'@[0-9a-f]{5}\Z')
_DIFF_KEYS = ('netid', 'state', 'family', 'local_address', 'local_port')
_FLOW_KEYS = _DIFF_KEYS + ('peer_address', 'peer_port')


def _ephemeral_range(value):
    if value is None:
        return DEFAULT_EPHEMERAL
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        value = '%s-%s' % tuple(value)
    low, high = _port_range(value if not _is_int(value) else str(value), 'ephemeral_range')
    return low, high


def _endpoint(address, port):
    return '%s:%s' % (_bracketed(address or '*'), '*' if port is None else port)


def _bind_text(record):
    address = record.get('local_address') or ''
    text = _bracketed(address) if record.get('family') in INET_FAMILIES else (address or '*')
    if record.get('interface'):
        text += '%' + record['interface']
    if record.get('family') == 'inet6' and _ip(address) is not None and _ip(address).is_unspecified \
            and record.get('v6only') is not True:
        text += ' (dual stack)'
    return text


def _owner_names(record):
    return tuple(sorted(set(p.get('name') for p in record.get('processes') or () if isinstance(p, Mapping)
                            and p.get('name') is not None)))


def _user_text(record):
    if record.get('user') is not None:
        return str(record['user'])
    return None if record.get('uid') is None else str(record['uid'])


class _Group(object):
    """The sockets of one stable identity in one snapshot, and what is compared: binds, owners, users."""

    def __init__(self, key, ident, kind, record, port):
        self.key, self.id, self.kind = key, ident, kind
        self.proto, self.netns, self.port = record.get('netid'), record.get('netns'), port
        self.ephemeral = port is None and kind == 'listening'
        self.binds, self.processes, self.users, self.count = set(), set(), set(), 0

    def add(self, record):
        self.count += 1
        if self.kind == 'listening':
            self.binds.add(_bind_text(record))
        self.processes.update(_owner_names(record))
        user = _user_text(record)
        if user is not None:
            self.users.add(user)

    def state(self):
        return {'binds': sorted(self.binds), 'processes': sorted(self.processes), 'users': sorted(self.users)}

    def entry(self):
        entry = {'id': self.id, 'kind': self.kind, 'proto': self.proto, 'netns': self.netns, 'port': self.port,
                 'ephemeral': self.ephemeral, 'sockets': self.count}
        entry.update(self.state())
        return entry

    def order(self):
        return (self.kind != 'listening', self.netns or '', self.proto or '', self.port is None, self.port or 0, self.id)


def _identities(records, established, ephemeral, port_range):
    """{identity: _Group} of one snapshot."""
    low, high = port_range
    listening_ports = set()
    for record in records:
        if record['state'] in _BOUND_STATES and record['family'] in INET_FAMILIES and _is_int(record['local_port']):
            listening_ports.add((record.get('netns'), record['netid'], record['local_port']))
    groups = {}
    for record in records:
        state, family, proto, netns = record['state'], record['family'], record['netid'], record.get('netns')
        prefix = 'netns %s: ' % netns if netns else ''
        port = record['local_port']
        if state in _BOUND_STATES:
            if family in INET_FAMILIES:
                if not _is_int(port) or port <= 0:
                    continue            # an unbound socket listens on nothing
                where = '%s/%d' % (proto, port)
                is_ephemeral = not ephemeral and low <= port <= high
            else:
                address = record['local_address'] or ''
                where = '%s %s' % (proto, address or '*') if family == 'unix' else '%s %s:%s' % (proto, address, port)
                is_ephemeral = not ephemeral and (
                    (family == 'unix' and (not address or _UNIX_AUTOBIND.match(address) is not None))
                    or (family == 'netlink' and port not in (0, None))       # netlink port ids are process ids
                    or (family == 'vsock' and _is_int(port) and port > 1023))
            if is_ephemeral:
                # The port (or name) changes on every restart: the owners say which socket it is.
                owners = _owner_names(record)
                base = '%s/ephemeral' % proto if family in INET_FAMILIES else '%s ephemeral' % proto
                where = '%s(%s)' % (base, ','.join(owners) or 'owner unknown')
                key = ('listening', netns, proto, family in INET_FAMILIES, None, owners)
                group_port = None
            else:
                key = ('listening', netns, proto, family in INET_FAMILIES, where, ())
                group_port = port if family in INET_FAMILIES else None
            kind = 'listening'
        elif established and state not in _NOT_FLOWS:
            local, peer = record['local_address'], record['peer_address']
            if family in INET_FAMILIES:
                lport, pport = port, record['peer_port']
                if not ephemeral:
                    if (netns, proto, lport) in listening_ports:
                        pport = None        # the server side: its clients' ports are ephemeral
                    else:
                        lport = None        # the client side: its own port is ephemeral
                where = '%s %s -> %s' % (proto, _endpoint(local, lport), _endpoint(peer, pport))
                key = ('flow', netns, proto, local, lport, peer, pport)
            else:
                where = '%s %s -> %s' % (proto, local or '*', peer or '*')
                key = ('flow', netns, proto, local, None, peer, None)
            kind, group_port = 'flow', None
        else:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key, prefix + where, kind, record, group_port)
        group.add(record)
    return groups


def socket_diff(baseline, current, established=False, ephemeral=False, ephemeral_range=None):
    """What opened, closed and changed between two snapshots of one host, by stable socket identity."""
    before, _meta = socket_records(baseline, 'baseline')
    after, _meta = socket_records(current, 'current')
    established = _boolean(established, 'established')
    ephemeral = _boolean(ephemeral, 'ephemeral')
    port_range = _ephemeral_range(ephemeral_range)
    keys = _FLOW_KEYS if established else _DIFF_KEYS
    check_records(before, keys, 'baseline')
    check_records(after, keys, 'current')
    old = _identities(before, established, ephemeral, port_range)
    new = _identities(after, established, ephemeral, port_range)
    opened = sorted((new[k] for k in new if k not in old), key=_Group.order)
    closed = sorted((old[k] for k in old if k not in new), key=_Group.order)
    changed, unchanged = [], 0
    for group in sorted((new[k] for k in new if k in old), key=_Group.order):
        was, now = old[group.key].state(), group.state()
        differences = [name for name in ('binds', 'processes', 'users') if was[name] != now[name]]
        if differences:
            changed.append({'id': group.id, 'kind': group.kind, 'changes': differences,
                            'before': old[group.key].entry(), 'after': group.entry()})
        else:
            unchanged += 1
    return {
        'opened': [g.entry() for g in opened],
        'closed': [g.entry() for g in closed],
        'changed': changed,
        'unchanged': unchanged,
        'drift': bool(opened or closed or changed),
    }
