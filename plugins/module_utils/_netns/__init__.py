# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: other network namespaces, for the `netns` option. `resolving.py` finds them: the
option's value checked (`option_items`), names from `ip netns`, paths and `all` resolved to `Namespace` objects,
each namespace once. `calling.py` reads inside one: `call_in` runs a function in a forked child that entered the
namespace and pickles the answer back; what fails there comes back as `NamespaceError`, `NamespaceGone` or
`NamespaceCallError`, naming the namespace.
"""
