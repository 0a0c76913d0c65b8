# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: the /proc/net trees under tests/unit/plugins/module_utils/fixtures/procnet/ and what they hold.

captured/ was copied from a namespace holding the sockets of fixtures/procnet/scenario.py (expected.json: those
sockets); hand/, malformed/ and noipv6/ are written by hand (HAND_EXPECTED). Also: the fixture scripts of that
folder loaded as modules (sstext, filters, netns), what /proc cannot give, and how ss's /proc path prints a record.
"""

import importlib.util
import json
import os
import pwd
import re
import shutil

import pytest

from support.socket_scenario import reader_origin

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(TESTS, 'unit', 'plugins', 'module_utils', 'fixtures', 'procnet')
CAPTURED, HAND = os.path.join(FIXTURES, 'captured'), os.path.join(FIXTURES, 'hand')
MALFORMED, NOIPV6 = os.path.join(FIXTURES, 'malformed'), os.path.join(FIXTURES, 'noipv6')


def load_fixture(name):
    """fixtures/procnet/NAME.py as a module (the folder is no package: its scripts also run on their own)."""
    spec = importlib.util.spec_from_file_location('procnet_fixture_' + name, os.path.join(FIXTURES, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sstext = load_fixture('sstext')
# The filters, and why some of them must be compared with a live ss instead.
filters = load_fixture('filters')
needs_ss = pytest.mark.skipif(not sstext.available(), reason='needs the ss command')


# What /proc cannot give, from the kernel's /proc formats (tcp: only LISTEN sockets lose send_q, the backlog).
# An inet socket's mark, cgroup and port lock are in no /proc/net file.
KERNEL_ONLY = {'mark', 'cgroup_id', 'port_locked'}
LOST = {
    'tcp': {'interface', 'v6only', 'send_q'} | KERNEL_ONLY, 'udp': {'interface', 'v6only'} | KERNEL_ONLY,
    'raw': {'interface', 'v6only'} | KERNEL_ONLY,
    'unix': {'peer_address', 'peer_port', 'recv_q', 'send_q', 'uid', 'user'}, 'packet': set(),
    'netlink': {'peer_address', 'peer_port'},
}
FAMILIES = {'tcp': ('inet', 'inet6'), 'udp': ('inet', 'inet6'), 'raw': ('inet', 'inet6'), 'unix': ('unix',),
            'packet': ('link',), 'netlink': ('netlink',)}


def table_of(record):
    if record['family'] in ('inet', 'inet6'):
        return record['netid']
    return {'unix': 'unix', 'link': 'packet', 'netlink': 'netlink'}[record['family']]


def as_proc_shows(record):
    """A record with every value /proc loses set to None."""
    table = table_of(record)
    shown = dict(record)
    shown.setdefault('owner_unknown', None)     # expected.json predates the key; the reader leaves it None
    for key in LOST[table]:
        if key != 'send_q' or table != 'tcp' or record['state'] == 'LISTEN':
            shown[key] = None
    return shown


def public(record):
    return dict((key, value) for key, value in record.items() if not key.startswith('_'))


def user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


with open(os.path.join(CAPTURED, 'expected.json')) as _handle:
    CAPTURED_EXPECTED = json.load(_handle)


def inet(netid, state, local, lport, peer, pport, inode, recv_q=0, send_q=0, uid=0, family=None):
    return {
        'netid': netid, 'state': state, 'family': family or ('inet6' if ':' in local else 'inet'),
        'local_address': local, 'local_port': lport, 'peer_address': peer, 'peer_port': pport,
        'interface': None, 'v6only': None, 'recv_q': recv_q, 'send_q': send_q, 'inode': inode, 'uid': uid,
        'user': user(uid), 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': None, 'mark': None, 'cgroup_id': None,
        'port_locked': None, **reader_origin(),
    }


def unix(netid, state, name, inode):
    return {
        'netid': netid, 'state': state, 'family': 'unix', 'local_address': name, 'local_port': None,
        'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None, 'recv_q': None, 'send_q': None,
        'inode': inode, 'uid': None, 'user': None, 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': 0,
        'mark': None, 'cgroup_id': None, 'port_locked': None, **reader_origin(),
    }


def packet(netid, protocol, ifindex, interface, inode, recv_q=0, uid=0):
    return {
        'netid': netid, 'state': 'UNCONN', 'family': 'link', 'local_address': protocol, 'local_port': ifindex,
        'peer_address': '', 'peer_port': 0, 'interface': interface, 'v6only': None, 'recv_q': recv_q, 'send_q': 0,
        'inode': inode, 'uid': uid, 'user': user(uid), 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': ifindex,
        'mark': None, 'cgroup_id': None, 'port_locked': None, **reader_origin(),
    }


def netlink(protocol, portid, inode, recv_q=0, send_q=0):
    return {
        'netid': 'nl', 'state': 'UNCONN', 'family': 'netlink', 'local_address': protocol, 'local_port': portid,
        'peer_address': None, 'peer_port': None, 'interface': None, 'v6only': None, 'recv_q': recv_q,
        'send_q': send_q, 'inode': inode, 'uid': None, 'user': None, 'processes': [], 'owner_unknown': None, 'netns': None, '_ifindex': 0,
        'mark': None, 'cgroup_id': None, 'port_locked': None, **reader_origin(),
    }


HAND_EXPECTED = {
    'tcp': [
        inet('tcp', 'LISTEN', '0.0.0.0', 22, '0.0.0.0', 0, 1001, recv_q=3, send_q=None),
        inet('tcp', 'ESTAB', '10.0.0.1', 22, '192.0.2.7', 51000, 1002, recv_q=0x20, send_q=0x10, uid=1000),
        inet('tcp', 'TIME-WAIT', '10.0.0.1', 22, '192.0.2.8', 51001, 0),
        # A request socket: /proc shows the listener's uid (the netlink diag shows 0).
        inet('tcp', 'SYN-RECV', '10.0.0.1', 22, '192.0.2.9', 51002, 0, uid=1000),
        inet('tcp', 'LISTEN', '127.0.0.53', 53, '0.0.0.0', 0, 1003, send_q=None, uid=101),
        inet('tcp', 'LISTEN', '::', 443, '::', 0, 2001, send_q=None),
        inet('tcp', 'ESTAB', '::ffff:10.0.0.1', 443, '::ffff:192.0.2.10', 50000, 2002, uid=33),
        inet('tcp', 'LISTEN', 'fe80::1', 22, '::', 0, 2003, send_q=None),     # the scope (interface) is not in /proc
        inet('tcp', 'ESTAB', 'fe80::1', 22, 'fe80::2', 40000, 2004),
        inet('tcp', 'CLOSE-WAIT', '2001:db8::1', 8080, '2001:db8::2', 50000, 2005, recv_q=1, uid=1000),
        inet('tcp', 'TIME-WAIT', '::1', 8080, '::1', 50001, 0),
    ],
    'udp': [
        inet('udp', 'UNCONN', '127.0.0.53', 53, '0.0.0.0', 0, 3001, recv_q=768, uid=101),
        inet('udp', 'ESTAB', '10.0.0.1', 5353, '192.0.2.7', 123, 3002, send_q=832),
        inet('udp', 'UNCONN', '::', 5353, '::', 0, 4001),
        inet('udp', 'UNCONN', 'fe80::1', 546, '::', 0, 4002),
    ],
    'raw': [
        inet('raw', 'UNCONN', '0.0.0.0', 1, '0.0.0.0', 0, 5001),
        inet('raw', 'UNCONN', '::', 58, '::', 0, 6001, uid=108),
    ],
    'unix': [
        unix('u_str', 'LISTEN', '/run/with space.sock', 7001),
        unix('u_str', 'LISTEN', '@foo@bar', 7002),           # the kernel writes every NUL of a name as '@'
        unix('u_str', 'ESTAB', '', 7003),
        # (an inode-0 connection waiting in @foo@bar's queue is left out, as the netlink diag leaves it out)
        unix('u_dgr', 'UNCONN', '/run/ünï côde.sock', 7004),
        unix('u_dgr', 'ESTAB', '', 7005),
        unix('u_seq', 'LISTEN', '@seq', 7006),
        unix('u_str', 'UNCONN', '', 7007),                   # St 4 (no file, not established): CLOSE
        unix('u_dgr', 'UNCONN', '@0001f', 7008),
    ],
    'packet': [
        packet('p_raw', '*', 1, 'lo', 8001),                 # named by the tree's net/igmp
        packet('p_dgr', '[2048]', 0, None, 8002, recv_q=2304, uid=1000),
        packet('p_raw', '[34525]', 7, 'eth7', 8003),         # named by the tree's net/if_inet6
        packet('p_raw', '[35020]', 9, 'if9', 8004),          # named nowhere: ss's spelling
        packet('p_dgr', '*', 0, None, 8005),                 # SOCK_PACKET: ss calls every non-raw type p_dgr
    ],
    'netlink': [
        netlink('0', 0, 9001), netlink('0', 1234, 9002),
        netlink('16', -4096, 9003, recv_q=4352),             # port ids print as signed numbers
        netlink('4', -2147483648, 9004, send_q=768),
    ],
}


# --- how ss's /proc path prints what we read ----------------------------------------------------------

def inet_identity(row):
    return (row['netid'], row['state'], row['local_address'], row['local_port'], row['peer_address'], row['peer_port'])


def as_ss_prints_inet(record):
    """What ss's /proc path prints for one of our records: a tcp LISTEN socket's Send-Q as 0 (/proc's tx_queue)."""
    return inet_identity(record) + (record['recv_q'], record['send_q'] or 0)


def ss_unix_state(row):
    """The state ss's /proc path prints, as we would write it; None where it cannot be told (see below)."""
    if row['state'] == 'CLOSING':
        return 'UNCONN'
    return None if row['netid'] == 'u_dgr' else row['state']


def compare_rows(rows, records):
    """Sorted identities of ss rows and of records; the State column is hidden when one state is selected."""
    with_state = all(row['state'] is not None for row in rows)
    theirs = sorted(inet_identity(row)[:1] + inet_identity(row)[(1 if with_state else 2):] for row in rows)
    ours = sorted(inet_identity(record)[:1] + inet_identity(record)[(1 if with_state else 2):] for record in records)
    return theirs, ours


# --- the hand-written tree with processes: /proc/PID/fd links -------------------------------------------------

# One owner in ss -p's users:(...) column: name, pid, fd.
SS_USERS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')
# pid: (comm, {fd: socket inode}) written into a copy of the hand-written tree.
PROCESSES = {77: ('systemd-resolve', {5: 3001, 9: 1001, 0: None}), 4242: ('sshd', {3: 1001, 4: 2001, 6: 1002})}


def tree_with_processes(tmp_path):
    root = str(tmp_path / 'proc')
    shutil.copytree(HAND, root)
    for pid, (name, fds) in PROCESSES.items():
        os.makedirs(os.path.join(root, str(pid), 'fd'))
        with open(os.path.join(root, str(pid), 'stat'), 'w') as handle:
            handle.write('%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0\n' % (pid, name, pid, pid))
        with open(os.path.join(root, str(pid), 'comm'), 'w') as handle:
            handle.write(name + '\n')
        for fd, inode in fds.items():
            os.symlink('socket:[%d]' % inode if inode else '/dev/null', os.path.join(root, str(pid), 'fd', str(fd)))
    return root
