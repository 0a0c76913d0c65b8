# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: the ss filter language's differential lab: its filters, and a namespace full of sockets.

FILTERS are (our text, the text ss gets) pairs; the live suites compare what the real ss selects in the lab with
what our code selects. filter_lab() makes a network namespace `na-f-*` (support/scratch_netns.py) with an ifb device
on 198.51.100.0/24, and fills it with the sockets of the worker in
tests/unit/plugins/module_utils/fixtures/ssfilter_live_helper.py (some of them from a test cgroup of its own).
The namespace and the cgroup are always removed.
"""

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys

from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import values
from support.scratch_netns import scratch_namespace

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(TESTS, 'unit', 'plugins', 'module_utils', 'fixtures', 'ssfilter_live_helper.py')
CGROUP = '@CGROUP@'     # replaced by the run's own cgroup (the names of the tests stay the same)
# The worker binds some clients to fixed ports (40000+n, 41000, 45000+i); an autobound client must never get
# one of those first (EADDRINUSE, or EADDRNOTAVAIL on connect), so they stay out of the ephemeral pool.
RESERVED_PORTS = 'net.ipv4.ip_local_reserved_ports=32768,33000,40000-41000,45000-45010,60999'


# --- the filters ------------------------------------------------------------------------------------------

HAND = [
    # states and groups
    'state listening', 'state established', 'state time-wait', 'state syn-sent', 'state fin-wait-2',
    'state close-wait', 'state unconnected', 'state closed', 'state close', 'state connected',
    'state synchronized', 'state bucket', 'state big', 'state all', 'exclude listening', 'excl established',
    'state listening state established', 'state established exclude established', 'exclude all',
    'state LISTENING', 'state Established exclude time-wait', 'state syn-recv', 'state syn-rcv', 'state unknown',
    'state fin-wait-1', 'state last-ack', 'state closing', 'state connected exclude bucket',
    # ports and operators ('dport = :ntp' is left out: ss 6.1 turns a udp-only name into a garbage port
    # when tcp is selected too; we use the port the name has)
    'sport = :22', 'sport == 22', 'sport eq :ssh', 'dport = :http', 'sport = https', 'dport = 0x1f90',
    'sport = 026', 'sport != 22', 'sport ne :22', 'dport neq 80', 'sport > 1024', 'sport gt 60999',
    'sport < 1024', 'sport lt 2', 'sport >= 32768', 'sport ge 65535', 'sport geq 4999', 'sport <= 1023',
    'dport le 443', 'dport leq 22', 'sport = *', 'sport = :*', 'dport >= *', 'sport <= 65558', 'sport > 65558',
    'sport = 65558', 'sport = -1', 'sport = :domain', 'sport = inet::22', 'sport = inet6::22',
    'dport = inet:*', 'sport = :', 'dport 22', 'sport :8443', 'dport = 0',
    # hosts
    'src 127.0.0.1', 'src 127.0.0.1:22', 'src 127.0.0.1:ssh', 'src 127.0.0.1:*', 'src 127.0.0.0/8', 'src 127/8',
    'src 127.1', 'src 0x7f.0.0.1', 'src 0177.0.0.1', 'src 127.0.0.0/255.0.0.0', 'src 127.0.0.2',
    'dst 127.0.0.2:8080', 'src 198.51.100.0/24', 'dst 198.51.100.0/24', 'dst 198.51.100.200/29', 'src 0.0.0.0',
    'src 0.0.0.0/0', 'src [::]', 'src [::]:8443', 'src [::1]', 'src [::1]:22', 'src [::1/128]', 'src [::/0]',
    'src ::/0', 'src [::1/64]', 'src [::ffff:127.0.0.1]', 'dst [::ffff:127.0.0.0/104]', 'src [::ffff:0:0/96]',
    'dst [::ffff:198.51.100.0/120]', 'src *:22', 'src *', 'dst *:*', 'src all', 'src any', 'src default',
    'src inet:127.0.0.1', 'src inet6:[::1]', 'src inet:any', 'src inet6:any', 'src inet:0.0.0.0/0',
    'dst localhost', 'src localhost:22', 'src = 127.0.0.1', 'src == 127.0.0.1', 'src eq 127.0.0.1',
    'dst 198.51.100.77', 'not src 0.0.0.0', 'not src [::]', 'not dst 0.0.0.0/0', 'src 198.51.100.1:41000',
    'src 127.3.2.1/32:1023', 'dst 127.0.0.1/8:5000', 'src inet6:[::ffff:127.0.0.1]', 'src 127.0.0.1/0x18',
    # dev, fwmark, cgroup
    'dev lo', 'dev = lo', 'dev na-f-ifb0', 'dev != lo', 'dev 1', 'dev 0', 'dev == na-f-ifb0',
    'not dev lo and sport = :5000', 'dev lo or src 0.0.0.0', 'dev lo or not src [::]', 'dev 0 and src [::]',
    'fwmark 0x10', 'fwmark = 0x10/0xff', 'fwmark 0x1ff', 'fwmark 0x10/0x10', 'fwmark != 0x10', 'fwmark 0',
    'fwmark 16', 'fwmark 0/0xfffffff0', 'fwmark 0x10junk',
    'cgroup /%s' % CGROUP, 'cgroup != /%s' % CGROUP, 'cgroup %s' % CGROUP, 'cgroup = /%s/' % CGROUP,
    'cgroup /%s and sport = :7100' % CGROUP,
    # autobound
    'autobound', 'not autobound', '! autobound', 'autobound and sport >= 40000', 'state listening autobound',
    'autobound or dport = :22', 'state time-wait autobound', 'state syn-sent not autobound',
    # logic: and/or have equal precedence, left to right
    'sport = :22 or sport = :80 and dport = :22', 'sport = :22 and dport = :80 or sport = :80',
    'src 127.0.0.1 sport = :22', 'src 127.0.0.1 sport = :22 or dport = :22', '! sport = :22 or dport = :22',
    'not not sport = :22', '( sport = :22 or sport = :80 ) and not dport = :0', 'sport = :22 & dport > 1024',
    'sport = :22 && dport > 1024', 'sport = :22 | sport = :80', 'sport = :22 || sport = :80',
    '( ( sport = :22 ) )', '! ( sport = :22 or sport = :443 )', 'state listening ( sport = :ssh or sport = :https )',
    'state established ( dport = :ssh or sport = :ssh )', 'exclude time-wait dst 127.0.0.1',
    'sport = 22 and ! dport = 0 or src [::1]', 'dst localhost or dst [::1] and sport < 50000',
    # families forced by a prefix (the last one wins)
    'src inet:127.0.0.1 or sport = :8443', 'src inet6:[::]:8443', 'sport = inet6::8443',
    'dst inet6:[::ffff:127.0.0.1]', 'src unix:/tmp/*', 'src inet6:[::1] or src inet:127.0.0.1',
    'src inet:127.0.0.1 or src inet6:[::1]',
]

# Our extension: parentheses (and operators) glued to words, which ss refuses to split; ss gets them spaced.
GLUED = [
    ('(sport = :22 or sport = :80)', '( sport = :22 or sport = :80 )'),
    ('!(sport = :22)', '! ( sport = :22 )'),
    ('not (dport = :22)', 'not ( dport = :22 )'),
    ('((sport = 22))', '( ( sport = 22 ) )'),
    ('sport=22', 'sport = 22'),
    ('dport!=22', 'dport != 22'),
    ('src=127.0.0.1', 'src = 127.0.0.1'),
    ('state listening (sport = :ssh or sport = :https)', 'state listening ( sport = :ssh or sport = :https )'),
    ('(autobound)', '( autobound )'),
    ('!autobound', '! autobound'),
]

ATOMS = [
    'sport = :22', 'dport = :22', 'sport = :80', 'dport = :80', 'sport = :8443', 'dport = :8443', 'sport = :53',
    'sport > 1024', 'dport < 1024', 'sport >= 32768', 'dport <= 5000', 'sport != 443', 'dport gt 40000',
    'src 127.0.0.1', 'dst 127.0.0.1', 'src 127.0.0.0/8', 'dst 198.51.100.0/24', 'src 198.51.100.1',
    'src [::1]', 'dst [::1]', 'src [::]', 'src 0.0.0.0', 'src [::ffff:127.0.0.1]', 'dst [::ffff:127.0.0.0/104]',
    'src *:8443', 'dst *:0', 'src 0.0.0.0/0', 'src [::/0]', 'autobound', 'fwmark 0x10', 'fwmark 0x10/0x10',
    'dev lo', 'dev na-f-ifb0', 'dev 0', 'cgroup /%s' % CGROUP, 'src localhost', 'dst 127.0.0.2:8080',
    'sport = :65535', 'sport le 1023', 'dport = :0',
]


def generated(count, seed=20240611):
    """COUNT random expressions over ATOMS, the same ones every run."""
    rng = random.Random(seed)
    joins = ['and', 'or', '&', '|', '&&', '||', '', 'or', 'and']

    def expr(depth):
        roll = rng.random()
        if depth <= 0 or roll < 0.35:
            node = rng.choice(ATOMS)
        elif roll < 0.5:
            node = rng.choice(['not', '!']) + ' ' + expr(depth - 1)
        elif roll < 0.65:
            node = '( ' + expr(depth - 1) + ' )'
        else:
            parts = [expr(depth - 1) for _i in range(rng.randint(2, 3))]
            node = parts[0]
            for part in parts[1:]:
                join = rng.choice(joins)
                node = node + (' ' + join + ' ' if join else ' ') + part
        return node

    out = []
    while len(out) < count:
        text = expr(3)
        if rng.random() < 0.2:
            text = rng.choice(['state established ', 'state listening ', 'exclude time-wait ',
                               'state connected exclude syn-sent ', 'state unconnected ']) + text
        if text not in out:
            out.append(text)
    return out


FILTERS = [(text, text) for text in HAND] + GLUED + [(text, text) for text in generated(170)]


# --- the namespace and its sockets ------------------------------------------------------------------------

def why_skip():
    """Why the lab cannot be made here, or None."""
    if os.geteuid() != 0:
        return 'needs root: it creates a network namespace, an ifb device and a cgroup'
    for tool in ('ip', 'ss'):
        if shutil.which(tool) is None:
            return 'needs the %s command' % tool
    return None


def run(*args, **kw):
    return subprocess.run(list(args), check=kw.pop('check', True), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, **kw)


def child_env():
    """The environment of a helper run in the lab: this process's import path."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in sys.path if p)
    return env


class Lab(object):
    """The namespace's name, and the test cgroup (its name; its directory, None without a cgroup2 file system)."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.cgroup_name = 'na-f-cg-%s' % namespace[5:]
        cgroup_root = values.cgroup2_mount()
        self.cgroup_dir = os.path.join(cgroup_root, self.cgroup_name) if cgroup_root else None


@contextlib.contextmanager
def filter_lab():
    """The lab, filled with the worker's sockets, for the time of the with block."""
    with scratch_namespace('na-f', why='it creates a network namespace, an ifb device and a cgroup') as ns:
        lab = Lab(ns)
        workers = []
        try:
            for cmd in (['link', 'set', 'lo', 'up'], ['link', 'add', 'na-f-ifb0', 'type', 'ifb'],
                        ['addr', 'add', '198.51.100.1/24', 'dev', 'na-f-ifb0'],
                        ['addr', 'add', '198.51.100.3/24', 'dev', 'na-f-ifb0'], ['link', 'set', 'na-f-ifb0', 'up']):
                run('ip', '-n', ns, *cmd)
            # SYN-SENT sockets must outlive the test; the ifb device drops their SYNs.
            run('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.tcp_syn_retries=8')
            run('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', RESERVED_PORTS)
            if lab.cgroup_dir:
                os.makedirs(lab.cgroup_dir, exist_ok=True)
            for flags in ([], ['--cgroup', '--wait'] if lab.cgroup_dir else None):
                if flags is None:
                    continue
                proc = subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, WORKER, 'worker'] + flags,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True,
                                        env=child_env())
                workers.append(proc)
                pid = int(proc.stdout.readline())
                if '--wait' in flags:
                    with open(os.path.join(lab.cgroup_dir, 'cgroup.procs'), 'w') as handle:
                        handle.write('%d\n' % pid)
                    proc.stdin.write('go\n')
                    proc.stdin.flush()
                line = proc.stdout.readline().strip()
                assert line == 'ready', 'socket worker failed: %r' % line
            yield lab
        finally:
            for proc in workers:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if lab.cgroup_dir and os.path.isdir(lab.cgroup_dir):
                os.rmdir(lab.cgroup_dir)


def compare(lab, helper, filters, tmp_path, timeout):
    """Run `HELPER compare FILE` inside the lab, FILE holding FILTERS (JSON, written under TMP_PATH); its JSON answer,
    with have_cgroup added (no cgroup2 file system: the cgroup filters are skipped)."""
    path = str(tmp_path / 'filters.json')
    with open(path, 'w') as handle:
        json.dump(filters, handle)
    done = run('ip', 'netns', 'exec', lab.namespace, sys.executable, helper, 'compare', path, env=child_env(),
               timeout=timeout, check=False)
    assert done.returncode == 0, 'the comparison helper failed: %s' % done.stderr[-3000:]
    data = json.loads(done.stdout)
    data['have_cgroup'] = lab.cgroup_dir is not None
    return data
