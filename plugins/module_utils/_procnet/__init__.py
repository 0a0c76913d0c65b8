# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the /proc/net reader of the socket tables (the `proc` backend, `proc_root` trees,
and ss's fallback for a table the kernel has no sock_diag module for). `reader.py` reads a tree: read_table() per
table (the files behind it, why one is missing, the unix count read around the unix file) and parse_text() per
file. One file per layout turns lines into records: `inet.py` the tcp, udp and raw lines of both families,
`unix.py` the unix lines (names that hold a newline, and the kernel's count of unix sockets in net/protocols that
settles them), `packet_netlink.py` the packet and netlink lines; `lines.py` holds what they share (matching the
data lines, reporting the malformed ones). `interfaces.py` names network devices from the tree's own files, and
`lost.py` says which record keys /proc cannot fill, per table, and why.
"""
