#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: socket_facts
short_description: Gather socket facts with netlink sock_diag and the ss filter language
version_added: 0.1.0
description:
  - Lists the sockets of a Linux host the way C(ss) does, by asking the kernel over netlink sock_diag,
    and returns them as facts, one record per socket, with the processes that own each one.
  - A filter written in the C(ss) filter language selects sockets; it is compiled to kernel bytecode
    and evaluated in the kernel where C(ss) would evaluate it there.
  - When some data cannot be seen (not root, so other users' processes are hidden; a table the kernel
    lacks), the sockets found are still returned and RV(ansible_facts.socket_meta.complete) is V(false),
    with the reasons in RV(ansible_facts.socket_meta.incomplete_reasons).
  - The module never changes the host. It runs no C(ss) or C(ps) command.
author:
  - netaudit.sockets developers (@netaudit)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - netaudit.sockets.attributes
  - netaudit.sockets.attributes.facts
  - netaudit.sockets.gathering
  - netaudit.sockets.gathering.netns
options:
  filter:
    description:
      - An C(ss) filter, exactly as typed after C(ss)'s options, without shell quoting.
      - Optional leading C(state NAME) / C(exclude NAME) clauses select states (for example C(state listening),
        C(exclude time-wait), or groups such as C(connected)); then an expression of C(src), C(dst), C(sport),
        C(dport), C(dev), C(fwmark), C(cgroup) and C(autobound) terms joined with C(and), C(or), C(not) and parentheses.
      - C(and) and C(or) have equal precedence and group from left to right, as in C(ss) itself.
      - A state clause overrides O(listening).
      - C(dev NAME) is read in each network namespace read, as C(ss) run there reads it; a device that namespace
        does not have fails the task, as C(ss) refuses it, instead of selecting no sockets.
    type: str
  listening:
    description:
      - Like C(ss -l), return only listening TCP sockets and unconnected (bound) UDP sockets.
      - When false and O(filter) has no state clause, sockets in every state are returned (like C(ss -a)).
    type: bool
    default: false
  processes:
    description:
      - Attribute each socket to the processes that hold it open (like C(ss -p)), with name, pid and file descriptor of every owner.
      - Without root, the owners of sockets held by other users' processes cannot be seen;
        RV(ansible_facts.socket_meta.complete) is then V(false).
      - The module also notices the other limits on what it can see (a PID namespace other than the initial one, as
        in a container that shares the host's network; C(hidepid) on C(/proc)) and reports them in
        RV(ansible_facts.socket_meta.owners_visible). A socket without owner says why in
        RV(ansible_facts.sockets[].owner_unknown); listening sockets left without owner get a second, bounded look
        first, and make the facts incomplete unless the kernel holds them.
      - When V(false), every record's RV(ansible_facts.sockets[].owner_unknown) is V(not_gathered) (V(kernel) for
        sockets no process can hold), which does not make the facts incomplete.
    type: bool
    default: true
  packages:
    description:
      - Name the package of each owner's executable in RV(ansible_facts.sockets[].package), from the package
        database's files (dpkg's lists, rpm's C(rpmdb.sqlite)), read-only and bounded; V(not_gathered) when V(false).
    type: bool
    default: false
  backend:
    description:
      - Where the sockets are read from.
      - V(netlink) reads netlink sock_diag, as C(ss) does. V(proc) reads the text files under O(proc_root)C(/net), like
        C(ss)'s fallback; it cannot give some fields (for example V(v6only)), so the facts are marked incomplete.
        V(psutil) reads C(psutil.net_connections()), for hosts other than Linux.
      - V(auto) uses V(netlink) on Linux, falling back to V(proc) by itself (and saying so) when netlink cannot be used,
        and V(psutil) elsewhere.
    type: str
    choices: [auto, netlink, proc, psutil]
    default: auto
  proc_root:
    description:
      - The C(/proc) tree to read, for example a host's C(/proc) mounted into a container (like C(ss)'s E(PROC_ROOT)).
      - Anything other than C(/proc) implies O(backend=proc).
    type: path
    default: /proc
  summary:
    description:
      - Also return RV(ansible_facts.socket_summary), the figures of C(ss -s).
    type: bool
    default: true
  compact_transfer:
    description:
      - Internal, set by the collection's action plugin for this module; do not set it in tasks.
      - Returns the socket records as one JSON text (the field names once, then one row of values per record), which
        the action plugin turns back into RV(ansible_facts.sockets) on the controller. This skips ansible-core's
        per-value work on large results (seconds at 100k sockets).
    type: bool
    default: false
notes:
  - Linux with netlink sock_diag (C(inet_diag), C(tcp_diag), C(udp_diag) and the like) gives every field; other
    systems are read through psutil, which gives fewer fields.
  - Run as root (C(become)) to see every socket's owner.
  - The short name C(socket_facts) works in playbooks that list C(netaudit.sockets) under C(collections);
    for ad hoc commands use the full name, or see the collection README for a library path that makes the short name work.
seealso:
  - name: ss(8)
    description: The command whose filter language and output this module follows.
    link: https://man7.org/linux/man-pages/man8/ss.8.html
"""

EXAMPLES = r"""
- name: Gather every TCP and UDP socket with its owners
  netaudit.sockets.socket_facts:

- name: Only listening sockets
  netaudit.sockets.socket_facts:
    listening: true

- name: Listening sockets in every network namespace, containers included
  netaudit.sockets.socket_facts:
    listening: true
    tables: [inet, unix]
    netns: all

- name: Established connections to the SSH port, selected in the kernel
  netaudit.sockets.socket_facts:
    filter: state established ( sport = :ssh or dport = :ssh )

- name: Show what listens on the host, one line per socket
  ansible.builtin.debug:
    msg: "{{ item.netid }} {{ item.local_address }}:{{ item.local_port }} {{ item.processes | map(attribute='name') | join(',') }}"
  loop: "{{ ansible_facts['sockets'] | selectattr('state', 'in', ['LISTEN', 'UNCONN']) }}"
  loop_control:
    label: "{{ item.netid }}/{{ item.local_port }}"

- name: Fail when the facts are partial (for example, not run as root)
  ansible.builtin.assert:
    that: ansible_facts['socket_meta']['complete']
    fail_msg: "{{ ansible_facts['socket_meta']['incomplete_reasons'] | join('; ') }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts about the host's sockets.
  returned: always
  type: dict
  contains:
    sockets:
      description:
        - One record per socket, sorted by table, family, local address and port, peer address and port, and inode.
        - Every key is always present; a key that does not apply is V(null).
      returned: always
      type: list
      elements: dict
      contains:
        netid:
          description:
            - The table, as C(ss) prints it (V(tcp), V(udp), V(raw), V(sctp), V(mptcp), V(u_str), V(u_dgr), V(u_seq),
              V(p_raw), V(p_dgr), V(nl), V(v_str), V(v_dgr)).
          type: str
          sample: tcp
        state:
          description: The state, as C(ss) prints it (V(LISTEN), V(ESTAB), V(UNCONN), V(TIME-WAIT) ...).
          type: str
          sample: LISTEN
        family:
          description: V(inet), V(inet6), V(unix), V(link) (packet sockets), V(netlink) or V(vsock).
          type: str
          sample: inet6
        local_address:
          description:
            - Local address in canonical text, without brackets or scope.
            - Unix sockets give the path, V(@name) for an abstract name, or an empty string; packet sockets the
              ethertype as C(ss -n) prints it; netlink sockets the protocol number. See the collection's C(docs/records.md).
          type: str
          sample: "::"
        local_port:
          description:
            - Local port; 0 for the wildcard port.
            - V(null) for unix sockets (their inode is in the C(inode) key); the ifindex for packet sockets; the port id for netlink sockets.
          type: int
          sample: 22
        peer_address:
          description: Peer address (V(0.0.0.0) or V(::) for a listener). For a unix socket, the peer's name when the peer is in the same dump.
          type: str
          sample: "::"
        peer_port:
          description: Peer port (0 for a listener). For a unix socket, the peer's inode (0 when unconnected), as C(ss) shows it.
          type: int
          sample: 0
        interface:
          description: The device the socket is bound to (including an IPv6 scope device), or V(null).
          type: str
          sample: null
        v6only:
          description: For V(inet6) sockets, whether the socket accepts IPv6 only; V(false) on a V(::) listener means dual stack. V(null) for V(inet).
          type: bool
          sample: false
        recv_q:
          description: As C(ss) prints it; for a listener, the accept queue length.
          type: int
          sample: 0
        send_q:
          description: As C(ss) prints it; for a listener, the backlog limit.
          type: int
          sample: 128
        inode:
          description: The socket's inode number (0 for TIME-WAIT sockets).
          type: int
          sample: 21873
        uid:
          description: The socket's owner uid.
          type: int
          sample: 0
        user:
          description: The user name for the uid, or V(null) when it does not resolve.
          type: str
          sample: root
        processes:
          description: Every process holding the socket open; empty when none is known.
          type: list
          elements: dict
          sample: [{"name": "sshd", "pid": 712, "fd": 3}]
        owner_unknown:
          description:
            - V(null) when RV(ansible_facts.sockets[].processes) names an owner; otherwise why no owner is known.
            - V(not_gathered) with O(processes=false).
            - V(not_visible) when the module cannot see every process that may hold the socket (a PID namespace
              other than the initial one, C(hidepid), descriptors it could not read) and found none.
            - V(exited) when every process was in sight and none held the socket, on any look (its owner exited or
              changed pid during the walk; listening sockets get a second look).
            - V(kernel) when no process can hold it (inode 0, as a TIME-WAIT entry or nfsd's listener; a netlink
              socket with portid 0).
            - See the collection's C(docs/records.md).
          type: str
          choices: [not_gathered, not_visible, exited, kernel]
          sample: not_visible
        netns:
          description: The network namespace label; V(null) for the module's own namespace.
          type: str
          sample: null
        mark:
          description:
            - The socket's firewall mark (C(SO_MARK)), for inet sockets. What C(fwmark) filters compare.
            - V(null) for other families, and when unknown (the kernel shows marks only to a caller with
              C(CAP_NET_ADMIN); the V(proc) and V(psutil) backends cannot see them).
          type: int
          sample: 0
        cgroup_id:
          description:
            - The cgroup v2 id (the inode of the cgroup's directory) of the socket's creator, for inet sockets.
              What C(cgroup) filters compare.
            - V(null) for other families and when unknown (kernels before 5.8, the V(proc) and V(psutil) backends).
          type: int
          sample: 1
        port_locked:
          description:
            - For inet sockets, whether the local port was bound explicitly (the kernel's C(SOCK_BINDPORT_LOCK)).
              V(false) when the kernel picked the port, and for TIME-WAIT and SYN-RECV entries, which hold no lock.
              What C(autobound) filters test, with the ephemeral range.
            - V(null) for other families and when unknown (the V(proc) and V(psutil) backends).
          type: bool
          sample: true
        cgroup:
          description: The socket's cgroup path as C(ss --cgroup) prints it, from C(cgroup_id); V(null) without one.
          type: str
          sample: /system.slice/ssh.service
        owner_cgroups:
          description: The owners' cgroup paths that differ from C(cgroup), sorted; V([]) when none differs.
          type: list
          elements: str
        unit:
          description: The first owner's systemd unit, V({name, manager, uid, service}); for a socket systemd holds, its C(.socket) unit and C(service).
          type: dict
          sample: {"name": "ssh.service", "manager": "system", "uid": null, "service": null}
        container:
          description: The first owner's container, V({runtime, id, name, pod, namespace, container}), or V(null).
          type: dict
          sample: {"runtime": "docker", "id": "4f1c...", "name": "web", "pod": null, "namespace": null, "container": null}
        package:
          description: With O(packages=true), the package of the first owner's executable, V({name, manager, path}).
          type: dict
          sample: {"name": "openssh-server", "manager": "dpkg", "path": "/usr/sbin/sshd"}
        security_context:
          description: The first owner's SELinux or AppArmor label, where one of them is active (the process context of C(ss -Z)).
          type: str
        origin_unknown:
          description:
            - Why the host could not tell each of the six keys above that it could not (see C(docs/records.md)); a
              key V(null) with no entry here is none (no container, no unit).
          type: dict
          sample: {}
    socket_summary:
      description:
        - The figures of C(ss -s) for the module's own network namespace, read from C(/proc/net/sockstat), C(sockstat6) and C(snmp).
        - See the collection's C(docs/summary.md) for every key.
      returned: when O(summary=true)
      type: dict
      sample: {"total": 180, "tcp": {"total": 6, "estab": 1, "closed": 0, "orphaned": 0, "timewait": 0}}
    socket_meta:
      description: How the facts were gathered, and whether they are complete.
      returned: always
      type: dict
      contains:
        backend:
          description: Where the data came from (V(netlink), V(proc) or V(psutil)); two names when a namespace fell back to V(proc).
          type: str
          sample: netlink
        complete:
          description: V(false) whenever the data is known to be partial.
          type: bool
          sample: true
        incomplete_reasons:
          description: Why the data is partial, one sentence each.
          type: list
          elements: str
          sample: []
        notes:
          description: Other things worth knowing that do not make the data partial, such as a filter evaluated in userspace.
          type: list
          elements: str
          sample: []
        unsupported_tables:
          description: Tables named explicitly in O(tables) that the kernel or backend cannot read.
          type: list
          elements: str
          sample: []
        filter:
          description: The filter as given, or V(null).
          type: str
          sample: state listening
        tables:
          description: The tables read.
          type: list
          elements: str
          sample: [udp, tcp]
        states:
          description: The states asked for.
          type: list
          elements: str
          sample: [UNCONN, LISTEN]
        kernel_filtered:
          description:
            - V(true) when the kernel applied the whole filter, V(false) when part of it ran in userspace,
              V(null) without a filter.
          type: bool
          sample: true
        netns:
          description: Labels of the namespaces read besides the module's own.
          type: list
          elements: str
          sample: []
        ephemeral_range:
          description:
            - The first namespace's C(net.ipv4.ip_local_port_range), V([LOW, HIGH]); the C(autobound) filter term
              checks ports against it. M(netaudit.sockets.ss_filter) uses it when given the facts.
            - V(null) with the V(psutil) backend.
          type: list
          elements: int
          sample: [32768, 60999]
        owners_visible:
          description:
            - V(true) when the module could see every process that may own a socket, V(false) when some may be out
              of its sight (not root, a PID namespace other than the initial one, C(hidepid) on C(/proc),
              descriptors it could not read), V(null) with O(processes=false).
            - V(false) makes the facts incomplete only when some socket returned has no owner.
          type: bool
          sample: true
        owners_unknown:
          description:
            - How many records returned have no known owner, by RV(ansible_facts.sockets[].owner_unknown) value;
              only values that occur, V({}) when every record has an owner.
          type: dict
          sample: {"kernel": 2, "not_visible": 1}
        netns_containers:
          description: "With O(netns), each namespace's container: V(null) for none, V({unknown: REASON}) when unknown."
          type: dict
          sample: {"pid 4711 (nginx)": {"runtime": "docker", "id": "4f1c...", "name": "web"}}
        count:
          description: Number of records returned.
          type: int
          sample: 12
        elapsed_ms:
          description: Time the gathering took, in milliseconds.
          type: float
          sample: 3.2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netaudit.sockets.plugins.module_utils import _facts_module


def main() -> None:
    _facts_module.run(AnsibleModule(argument_spec=_facts_module.ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == '__main__':
    main()
