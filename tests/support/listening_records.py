# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: one host's sockets as socket_facts returns them, listening in every way that matters to a policy
(stacks, exposures, devices, namespaces, owners), plus a few that do not listen."""

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record


def sock(netid, address, port, state=None, v6only=None, procs=(('sshd', 712),), user='root', uid=0, **extra):
    """A listening (or other) socket record as socket_facts returns it."""
    family = 'inet6' if ':' in address else 'inet'
    return new_record(
        netid=netid, state=state or ('LISTEN' if netid != 'udp' else 'UNCONN'), family=family,
        local_address=address, local_port=port, peer_address='::' if family == 'inet6' else '0.0.0.0', peer_port=0,
        v6only=(bool(v6only) if v6only is not None else None) if family == 'inet6' else None,
        recv_q=0, send_q=128, inode=1000 + port, uid=uid, user=user,
        processes=[{'name': name, 'pid': pid, 'fd': 3} for name, pid in procs], **extra)


SSH4 = sock('tcp', '0.0.0.0', 22)
SSH6_DUAL = sock('tcp', '::', 22, v6only=False)
SSH6_ONLY = sock('tcp', '::', 2222, v6only=True)
SSH6_UNKNOWN = sock('tcp', '::', 2223)        # v6only unknown: Linux's default is dual stack
CUPS = sock('tcp', '127.0.0.1', 631, procs=[('cupsd', 900)])
CUPS6 = sock('tcp', '::1', 631, v6only=True, procs=[('cupsd', 900)])
RESOLVED = sock('udp', '127.0.0.53', 53, procs=[('systemd-resolve', 500)], user='systemd-resolve', uid=101)
MAPPED = sock('tcp', '::ffff:127.0.0.1', 7000, procs=[('python3', 42)], user='alice', uid=1000)
WEB = sock('tcp', '10.0.0.5', 8080, procs=[('java', 1234), ('java', 1235)], user='app', uid=1001)
WEB6 = sock('tcp', '2001:db8::5', 8443, v6only=True, procs=[('nginx', 77)], user='www-data', uid=33)
LO_DEV = sock('tcp', '0.0.0.0', 9090, procs=[('prometheus', 5)], interface='lo')
ETH_DEV = sock('tcp', '0.0.0.0', 9091, procs=[('exporter', 6)], interface='eth0')
NS_SOCK = sock('tcp', '0.0.0.0', 80, procs=[('nginx', 300)], netns='blue')
SCTP = sock('sctp', '0.0.0.0', 3868, procs=[('diameter', 9)])
ESTAB = sock('tcp', '10.0.0.5', 22, state='ESTAB')
UNBOUND_UDP = sock('udp', '0.0.0.0', 0)
RAW = sock('raw', '0.0.0.0', 1, state='UNCONN')
UNIX = new_record(netid='u_str', state='LISTEN', family='unix', local_address='/run/x.sock', local_port=None,
                  peer_address='', peer_port=None, inode=5, processes=[])
ALL = [SSH4, SSH6_DUAL, SSH6_ONLY, SSH6_UNKNOWN, CUPS, CUPS6, RESOLVED, MAPPED, WEB, WEB6, LO_DEV, ETH_DEV, NS_SOCK,
       SCTP, ESTAB, UNBOUND_UDP, RAW, UNIX]


def listener(record):
    return _listening.Listener(record, 0)
