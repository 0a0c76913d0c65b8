# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options that choose what netaudit.sockets.socket_facts gathers, shared by the module and by the actions that
run it and pass them on unchanged (port_verdict, port_drift). The return values they name are socket_facts' own."""

from __future__ import annotations


class ModuleDocFragment(object):

    # socket_facts, port_verdict and port_drift.
    DOCUMENTATION = r"""
options:
  tables:
    description:
      - Socket tables to read, named as C(ss -A) names them, aliases included.
      - V(tcp), V(udp), V(raw), V(sctp), V(mptcp), V(dccp); V(unix_stream) (V(u_str)), V(unix_dgram) (V(u_dgr)),
        V(unix_seqpacket) (V(u_seq)); V(packet_raw) (V(p_raw)), V(packet_dgram) (V(p_dgr)); V(netlink);
        V(vsock_stream) (V(v_str)), V(vsock_dgram) (V(v_dgr)).
      - Groups. V(inet) means every inet table, V(unix), V(packet) and V(vsock) mean their types, and V(all) means every table.
      - A table the kernel cannot dump is never an error. It makes the facts incomplete, with a reason in
        RV(netaudit.sockets.socket_facts#module:ansible_facts.socket_meta.incomplete_reasons); named explicitly, it is
        also listed in RV(netaudit.sockets.socket_facts#module:ansible_facts.socket_meta.unsupported_tables).
      - As with C(ss), packet and netlink sockets are listed only when the states include V(UNCONN).
    type: list
    elements: str
    default: [tcp, udp]
"""

    # socket_facts and port_verdict (port_drift records its netns in the baseline, as a list).
    NETNS = r"""
options:
  netns:
    description:
      - Gather inside these network namespaces instead of the module's own (V(all) includes the module's own).
        Each record carries the namespace's label in RV(netaudit.sockets.socket_facts#module:ansible_facts.sockets[].netns).
      - A name from C(ip netns), a path (C(/run/netns/NAME), C(/proc/PID/ns/net)), or a list of them.
      - V(all) means the module's own namespace plus every named namespace and every namespace that a process holds.
        A namespace without a name is labelled with the pid and command of a process inside it.
      - Each namespace is entered with C(setns) in a forked child, so the module's own process never changes namespace.
        A namespace is read once, however many names it has. A namespace that vanishes during the run is reported
        in RV(netaudit.sockets.socket_facts#module:ansible_facts.socket_meta.incomplete_reasons), not treated as a
        failure.
      - Needs root.
      - A string or a list of strings; any other value fails the task with a message naming it. An empty list
        means the module's own namespace.
    type: raw
"""
