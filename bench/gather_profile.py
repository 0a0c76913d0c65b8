# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where gather's time goes, run inside a namespace that holds a socket table (bench_filter.py --profile uses it).

    .venv/bin/python bench/socket_tables.py --tcp 100000 -- /usr/bin/python3 bench/gather_profile.py 'dst 127.9.9.9'

For a filter (or none) it reports:
  - the kernel's share: the same dump requests sent and read without parsing (ss and _netlink.inet both send one
    SOCK_DIAG_BY_FAMILY request per family, so the kernel walks the TCP hash tables twice), and, for comparison,
    one old-style TCPDIAG_GETSOCK request, which dumps IPv4 and IPv6 in a single walk;
  - the time gather spends in cyclic garbage collection passes (gc.callbacks);
  - a cProfile of gather, by internal time.
gather runs with tables=['tcp'], processes=False, summary=False (as bench_filter.py runs it).
"""

import cProfile
import gc
import inspect
import io
import os
import pstats
import socket
import statistics
import struct
import sys
import time

COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '.cache', 'collections')
NETLINK_SOCK_DIAG = 4
TCPDIAG_GETSOCK = 18          # the inet_diag request before SOCK_DIAG_BY_FAMILY; family AF_UNSPEC: both at once
NLM_F_REQUEST_DUMP = 0x301
NLMSG_ERROR, NLMSG_DONE = 2, 3
_HEADER = struct.Struct('=IHHII')


def _module_utils():
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    package = 'ansible_collections.netaudit.sockets.plugins.module_utils'
    return tuple(__import__('%s.%s' % (package, name), fromlist=[name]) for name in ('_gather', '_netlink.inet', '_ssfilter.ssfilter'))


def compat_request(states, program):
    """A TCPDIAG_GETSOCK dump request (struct inet_diag_req) with an optional INET_DIAG_REQ_BYTECODE program."""
    body = struct.pack('=BBBB48xII', socket.AF_UNSPEC, 0, 0, 0, states, 0)
    if program:
        body += struct.pack('=HH', 4 + len(program), 1) + program
    return _HEADER.pack(_HEADER.size + len(body), TCPDIAG_GETSOCK, NLM_F_REQUEST_DUMP, 1, 0) + body


def raw_dump(request):
    """Send a dump request and read the reply to its end without parsing it; the number of socket messages."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
        sock.sendto(request, (0, 0))
        buffer = bytearray(1 << 16)   # the kernel fills at most ~32 KiB per read of a dump
        count = 0
        while True:
            length = sock.recv_into(buffer)
            offset = 0
            while offset < length:
                size, kind = struct.unpack_from('=IH', buffer, offset)
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    return count
                count += 1
                offset += (size + 3) & ~3


def _samples(function, warmup, repeat):
    found = []
    for number in range(warmup + repeat):
        started = time.perf_counter()
        function()
        if number >= warmup:
            found.append((time.perf_counter() - started) * 1000.0)
    return found


def _cell(samples):
    return '%.1f ms (min %.1f)' % (statistics.median(samples), min(samples))


def profile(filter_text, warmup=2, repeat=15, top=12, options=None):
    """The report for one filter (None: unfiltered), as text; options: gather's other keyword arguments."""
    gather_module, inet, ssfilter = _module_utils()
    flt = ssfilter.parse(filter_text, tables=['tcp']) if filter_text else None
    program = flt.bytecode(socket.AF_INET) if flt is not None else None
    states = flt.state_mask() if flt is not None else (1 << 12) - 1
    by_family = [inet.inet_request(6, family, states, program or None) for family in (socket.AF_INET, socket.AF_INET6)]
    one_walk = compat_request(states, program)
    counts = (sum(raw_dump(request) for request in by_family), raw_dump(one_walk))
    lines = ['#### profile of `%s`' % (filter_text or 'no filter'), '',
             'kernel only (requests sent, replies read, not parsed): two SOCK_DIAG_BY_FAMILY walks as ss and _netlink.inet '
             'send them %s, %d sockets; one TCPDIAG_GETSOCK walk %s, %d sockets'
             % (_cell(_samples(lambda: [raw_dump(request) for request in by_family], warmup, repeat)), counts[0],
                _cell(_samples(lambda: raw_dump(one_walk), warmup, repeat)), counts[1])]

    if options is None:
        options = {'tables': ['tcp'], 'processes': False}
        if 'summary' in inspect.signature(gather_module.gather).parameters:
            options['summary'] = False

    def run():
        return gather_module.gather(filter_text=filter_text, **options)

    collected = []
    started = []

    def on_gc(phase, info):   # pylint: disable=unused-argument
        if phase == 'start':
            started.append(time.perf_counter())
        else:
            collected[-1] += time.perf_counter() - started.pop()

    totals = []
    gc.callbacks.append(on_gc)
    try:
        for number in range(warmup + repeat):
            collected.append(0.0)
            before = time.perf_counter()
            result = run()
            totals.append((time.perf_counter() - before) * 1000.0)
            del result
    finally:
        gc.callbacks.remove(on_gc)
    lines.append('gather in-process %s, of which cyclic GC passes %.1f ms (median)'
                 % (_cell(totals[warmup:]), statistics.median(collected[warmup:]) * 1000.0))
    profiler = cProfile.Profile()
    profiler.enable()
    for number in range(repeat):
        result = run()
        del result
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats('tottime').print_stats(top)
    table = out.getvalue()
    table = table[table.find('   ncalls'):].rstrip().replace(os.path.join(COLLECTIONS, 'ansible_collections', 'netaudit', 'sockets', ''), '')
    lines += ['', 'cProfile of %d gather runs (top %d by internal time):' % (repeat, top), '', '```', table, '```']
    return '\n'.join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    for text in argv or ['']:
        print(profile(text or None))
        print('')
    return 0


if __name__ == '__main__':
    sys.exit(main())
