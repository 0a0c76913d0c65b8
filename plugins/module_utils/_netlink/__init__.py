# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the socket tables read from the kernel over netlink sock_diag (the `netlink`
backend, ss's own source). `transport.py` is the NETLINK_SOCK_DIAG socket: request framing, one dump run to its
end, the walk over reply messages and attributes, the errors that name the table; `names.py` the names records
carry (states, interfaces). `inet.py` reads the inet tables (tcp, udp, raw, sctp, mptcp, dccp: dump_inet);
`port_locks.py` asks which of their sockets hold no port lock (ss's `autobound`); `background.py` runs such a dump
on a thread beside another. `families.py` reads the unix, packet, netlink and vsock tables, one file each
(`unix.py`, `packet.py`, `netlink.py`, `vsock.py`) over what `family_parser.py` shares.
"""
