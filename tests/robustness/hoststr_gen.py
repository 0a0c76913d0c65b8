# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness tests: hostile host strings. Real socket records (gathered by the collection from sockets this
process opens), and a seeded generator that replaces their string fields with what a hostile host can send.

A host decodes what it reads as UTF-8 with 'backslashreplace' (invalid bytes become the text \\xNN); facts from
older versions of the collection, or from elsewhere, may hold lone surrogates ('surrogateescape') or raw control
characters. The generator makes all of them, plus terminal escape sequences, bidirectional controls, line and
paragraph separators, markup of every report format, and long strings (up to LONG characters).
"""

# Plain random.Random(seed), as filtergen: the same seed gives the same cases everywhere; NA_FUZZ_SEED moves it.

from __future__ import annotations

import os
import socket
import tempfile

from ansible_collections.netaudit.sockets.plugins.module_utils import _gather

LONG = 4096

PLAIN = ['sshd', 'nginx', 'python3', 'systemd-resolve', 'nc', 'root', 'www-data', 'eth0', 'lo', 'ns1', 'web',
         '/run/app.sock', '@abstract', 'kworker/0:1', 'a b', '']
ESCAPES = ['\x1b[2J', '\x1b[8m', '\x1b[0m', '\x1b[1A\x1b[2K', '\x1b]0;owned\x07', '\x1b]8;;http://x/a\x1b\\link\x1b]8;;\x1b\\',
           '\x1bc', '\x1b[?1049h', '\x9b2J', '\x9d0;t\x9c', '\x1bP+q\x1b\\', '\r', '\b' * 8, '\x07', '\x00', '\n',
           '\r\n', '\t', '\x0b', '\x0c', '\x7f', '\x85', '\x1b']
BIDI = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f',
        '\u061c']
SEPARATORS = ['\u2028', '\u2029', '\x85', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e']
NONCHARS = ['\ufffe', '\uffff', '\ufeff', '\u200b', '\U0001f600', '\ufffd']
SURROGATES = ['\udc80', '\udcff', '\udcc3', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00']
MARKUP = ['<script>alert(1)</script>', '<img src=//x/a onerror=alert(1)>', '![](//x/a)', '![x](http://x/a.png)',
          '[x](//x/a)', '[x]: //x/a', '<http://x/a>', '<//x/a>', '|', '||', '\\|', '\\', '`', '``', '```', '&', '&amp;',
          '&#0;', '&#x1b;', '&#xfffe;', '&lt;', ']]>', '<![CDATA[', '-->', '<!--', '<?xml ?>', '"', "'", '"><b>x</b>',
          "' onmouseover='alert(1)", '*x*', '**x**', '_x_', '~~x~~', '# h', '---', '===', '> q', '- l', '+ l', '1. x',
          '    code', '$x$', '{{ x }}', '{% x %}', '<a href="//x/a">', '</td></tr></table>', '</section>',
          '</textarea>', '</script>', '<style>', '#cell=%E0%A4%A', '%', '%00', 'javascript:alert(1)', '\\x1b[2J',
          '\\u202e', '<br>', '<p>', '&nbsp;']


def seed_text(seed_value, base):
    return 'seed %d (NA_FUZZ_SEED=%s; rerun with NA_FUZZ_SEED=%d to get the same cases)' % (
        seed_value, os.environ.get('NA_FUZZ_SEED', 'unset'), base)


# --- hostile strings ----------------------------------------------------------------------------------------------

def _random_bytes(rng):
    """Bytes as a host hands them over: ASCII, controls, stray continuation bytes, cut and whole UTF-8 sequences."""
    out = bytearray()
    for _index in range(rng.randint(0, 24)):
        pick = rng.random()
        if pick < 0.3:
            out.append(rng.randint(0x20, 0x7e))
        elif pick < 0.45:
            out.append(rng.choice((rng.randint(0, 0x1f), 0x7f)))
        elif pick < 0.7:
            out.append(rng.randint(0x80, 0xff))
        else:
            text = rng.choice(ESCAPES + BIDI + SEPARATORS + NONCHARS + MARKUP + ['\u00e9', '\u4e2d', 'x'])
            encoded = text.encode('utf-8', 'surrogatepass')
            out += encoded[:rng.randint(1, len(encoded))] if encoded and rng.random() < 0.3 else encoded
    return bytes(out)


def _piece(rng):
    kind = rng.random()
    if kind < 0.25:
        return _random_bytes(rng).decode('utf-8', 'backslashreplace')
    if kind < 0.45:
        return _random_bytes(rng).decode('utf-8', 'surrogateescape')
    if kind < 0.55:
        return rng.choice(ESCAPES)
    if kind < 0.65:
        return rng.choice(BIDI) + rng.choice(PLAIN) + (rng.choice(BIDI) if rng.random() < 0.5 else '')
    if kind < 0.7:
        return rng.choice(SEPARATORS)
    if kind < 0.75:
        return rng.choice(SURROGATES)
    if kind < 0.8:
        return rng.choice(NONCHARS)
    if kind < 0.95:
        return rng.choice(MARKUP)
    return ''.join(chr(rng.randint(0, 0x3000)) for _index in range(rng.randint(1, 8)))


def hostile(rng):
    """One hostile string: 1 to 5 pieces, now and then repeated up to LONG characters."""
    text = ''.join(_piece(rng) for _index in range(rng.randint(1, 5)))
    if rng.random() < 0.01:
        text = (text or 'x') * (LONG // max(1, len(text)))
        text = text[:rng.randint(LONG // 2, LONG)]
    return text


# --- real records -------------------------------------------------------------------------------------------------

class Listeners(object):
    """Sockets of every kind the policy and socket_diff look at, opened by this process: TCP and UDP on IPv4 and
    IPv6 (loopback, wildcard, dual stack), a TCP connection, unix stream, datagram and abstract sockets."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix='na-hoststr-')
        self.sockets = []
        self.ports = {}
        self._inet('tcp4', socket.AF_INET, socket.SOCK_STREAM, '127.0.0.1')
        self._inet('tcp4any', socket.AF_INET, socket.SOCK_STREAM, '0.0.0.0')
        self._inet('tcp6', socket.AF_INET6, socket.SOCK_STREAM, '::1')
        self._inet('tcpdual', socket.AF_INET6, socket.SOCK_STREAM, '::')
        self._inet('udp4', socket.AF_INET, socket.SOCK_DGRAM, '127.0.0.1')
        self._inet('udp6', socket.AF_INET6, socket.SOCK_DGRAM, '::')
        client = socket.create_connection(('127.0.0.1', self.ports['tcp4']))
        server, _peer = self.sockets[0].accept()
        self.sockets += [client, server]
        for name, kind in (('stream', socket.SOCK_STREAM), ('dgram', socket.SOCK_DGRAM)):
            sock = socket.socket(socket.AF_UNIX, kind)
            sock.bind(os.path.join(self.folder, name + '.sock'))
            if kind == socket.SOCK_STREAM:
                sock.listen(4)
            self.sockets.append(sock)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract.bind('\0na-hoststr-%d' % os.getpid())
        abstract.listen(4)
        self.sockets.append(abstract)
        self.sockets += list(socket.socketpair())

    def _inet(self, name, family, kind, address):
        sock = socket.socket(family, kind)
        if family == socket.AF_INET6 and address == '::':
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((address, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen(4)
        self.sockets.append(sock)
        self.ports[name] = sock.getsockname()[1]

    def close(self):
        for sock in self.sockets:
            sock.close()
        for name in os.listdir(self.folder):
            os.unlink(os.path.join(self.folder, name))
        os.rmdir(self.folder)


def real_facts():
    """(facts, ports): what socket_facts gathers for tcp, udp and unix while the sockets of Listeners are open,
    keeping their records only, in the order they were opened (the same cases for the same seed, whatever else
    runs on the host and whichever ports the kernel picked)."""
    opened = Listeners()
    try:
        inodes = [os.fstat(sock.fileno()).st_ino for sock in opened.sockets]
        facts = _gather.gather(tables=['tcp', 'udp', 'unix'], listening=False, processes=True, summary=False)
    finally:
        opened.close()
    by_inode = dict((record['inode'], record) for record in facts['sockets'])
    missing = [inode for inode in inodes if inode not in by_inode]
    if missing:
        raise AssertionError('gather() did not return the sockets of inodes %s' % missing)
    facts['sockets'] = [by_inode[inode] for inode in inodes]
    return facts, opened.ports


# --- mutations ----------------------------------------------------------------------------------------------------

# Fields whose value decides what a record is: a hostile value there makes a record that is not a socket (the
# functions may refuse it with a clear error); mutated now and then only, so most cases reach every renderer.
STRUCTURAL = ('netid', 'state', 'family')
INET = ('inet', 'inet6')
OWNER_UNKNOWN = ('not_gathered', 'not_visible', 'exited', 'kernel')
# Host strings that are null on some records and a string on others.
OPTIONAL_STRINGS = ('user', 'interface', 'netns', 'cgroup', 'security_context')
ORIGIN_FIELDS = ('unit', 'container', 'package')


def hostile_origin(rng, field):
    """A unit, container or package as a hostile host could make the module report it: every string hostile
    (unit names come from cgroup paths a delegated user names, container names from the runtimes' state files)."""
    if field == 'unit':
        return {'name': hostile(rng) + rng.choice(('.service', '.scope', '.socket', '')),
                'manager': rng.choice(('system', 'user', hostile(rng))), 'uid': rng.choice((None, 1000)),
                'service': rng.choice((None, hostile(rng)))}
    if field == 'container':
        pod = rng.random() < 0.3
        return {'runtime': rng.choice(('docker', 'podman', 'containerd', hostile(rng))),
                'id': rng.choice(('a' * 64, hostile(rng))), 'name': rng.choice((None, hostile(rng))),
                'pod': hostile(rng) if pod else None, 'namespace': hostile(rng) if pod else None,
                'container': hostile(rng) if pod else None}
    return {'name': hostile(rng), 'manager': rng.choice(('dpkg', 'rpm', hostile(rng))), 'path': hostile(rng)}


def string_paths(facts):
    """[(path, structural)] of every string the host chose: each str field of each record and of its processes,
    user / interface / netns where they are null, and the strings of socket_meta."""
    paths = []
    for index, record in enumerate(facts['sockets']):
        for key, value in record.items():
            structural = key in STRUCTURAL or (key in ('local_address', 'peer_address') and record.get('family') in INET)
            if isinstance(value, str) or (value is None and key in OPTIONAL_STRINGS + ('owner_unknown',)):
                paths.append((('sockets', index, key), structural))
            elif key == 'processes' and isinstance(value, list):
                for number, process in enumerate(value):
                    for field, item in process.items():
                        if isinstance(item, str):
                            paths.append((('sockets', index, 'processes', number, field), False))
    meta = facts.get('socket_meta') or {}
    for key, value in meta.items():
        if isinstance(value, str):
            paths.append((('socket_meta', key), key == 'backend'))
        elif isinstance(value, list) and key in ('incomplete_reasons', 'notes', 'netns', 'unsupported_tables'):
            for number, item in enumerate(value):
                paths.append((('socket_meta', key, number), False))
    return paths


def choose(rng, facts, paths):
    """One case: (records, mutations). records: the indexes of 1 to 4 records of facts; mutations: [(path, hostile
    string)], most host strings of those records and of socket_meta, rarely a structural one; now and then an extra
    incomplete reason or note."""
    count = len(facts['sockets'])
    records = sorted(rng.sample(range(count), rng.randint(1, min(4, count))))
    chosen = []
    rate = rng.choice((0.2, 0.5, 0.9, 1.0))
    structural = rng.random() < 0.04
    for path, is_structural in paths:
        if path[0] == 'sockets' and path[1] not in records:
            continue
        if is_structural:
            if structural and rng.random() < 0.1:
                chosen.append((path, hostile(rng)))
        elif rng.random() < rate:
            chosen.append((path, hostile(rng)))
    for index in records:
        pick = rng.random()
        if pick < 0.15:
            # No owner, and why (socket_facts' reasons, or a hostile one).
            chosen.append((('sockets', index, 'processes'), []))
            chosen.append((('sockets', index, 'owner_unknown'), rng.choice(OWNER_UNKNOWN + (hostile(rng),))))
        elif pick < 0.3:
            # One more owner (a socket shared after fork).
            chosen.append((('sockets', index, 'processes', None), {'name': hostile(rng), 'pid': 4242, 'fd': 3}))
        # Where it comes from (issue 14): a hostile unit, container or package, or a hostile reason it is unknown.
        # Whole values replace the record's (its dicts are shared with the real facts: never written into).
        for field in ORIGIN_FIELDS:
            if rng.random() < rate:
                chosen.append((('sockets', index, field), hostile_origin(rng, field)))
        if rng.random() < 0.2:
            chosen.append((('sockets', index, 'origin_unknown'),
                           dict((field, hostile(rng)) for field in ORIGIN_FIELDS if rng.random() < 0.5)))
    if rng.random() < 0.3:
        chosen.append((('socket_meta', 'incomplete_reasons', None), hostile(rng)))
    if rng.random() < 0.2:
        chosen.append((('socket_meta', 'notes', None), hostile(rng)))
    return records, chosen


def _copy_record(record):
    # A record holds scalars and a list of process dicts: copy.deepcopy takes ten times as long.
    out = dict(record)
    out['processes'] = [dict(process) for process in record['processes']]
    return out


def apply(facts, records, mutations):
    """A copy of facts with only the records of these indexes, and the mutations applied (a None index appends to
    the list)."""
    out = dict(facts)
    out['sockets'] = [_copy_record(record) for record in facts['sockets']]
    out['socket_meta'] = dict((key, list(value) if isinstance(value, list) else value)
                              for key, value in facts['socket_meta'].items())
    for path, value in mutations:
        target = out
        for step in path[:-1]:
            target = target[step]
        if path[-1] is None:
            target.append(value)
        else:
            target[path[-1]] = value
        if path[:2] == ('socket_meta', 'incomplete_reasons'):
            out['socket_meta']['complete'] = False
    out['sockets'] = [out['sockets'][index] for index in records]
    out['socket_meta']['count'] = len(records)
    return out


def path_text(path):
    return '.'.join(str(step) if step is not None else '+' for step in path)
