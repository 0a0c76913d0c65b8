# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the `ss` filter language, laid out like a compiler. `ssfilter.py` is what callers
use: `parse()` gives an `SSFilter`, which judges records as a live ss would (states, families, the kernel's program,
ss's userspace check). Reading the text: `lexer.py` (words, keywords, the cursor), `parser.py` (the grammar, words
to the tree), `states.py` (state names and masks). What a term's value parses to: `values.py` (ports, addresses,
link/netlink/vsock specs, devices, marks, cgroups), over `c_numbers.py` (numbers as ss's C helpers read them) and
`globs.py` (unix name globs). The tree: `conditions.py` (the leaf conditions, each with ss's userspace and kernel
judgement, and the and/or/not nodes with the one walk of and/or chains), judging `record_view.py` (what ss sees of
one record). The back end for the kernel: `bytecode.py` (the INET_DIAG_REQ_BYTECODE compiler). `errors.py` holds
FilterError and how a message names the word at fault.
"""
