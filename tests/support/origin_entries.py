# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: the origin fields of socket records (unit, container, package, origin_unknown) carried into the
verdict entries of the same sockets, as the reports read them.

The reports show each socket's unit or container from its verdict entry (entry['unit'], entry['container'], the
records' own dicts). Until the policy copies them into its entries (_listening.Listener.summary()), the report tests
put them there with this, by inode; an entry that already has a key keeps it, so the tests then check the policy's
entries as they are."""

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _hoststr

ORIGIN_KEYS = ('unit', 'container', 'package', 'origin_unknown')


def with_origins(verdict, records):
    """verdict with every socket entry (anywhere in it: sockets, unexpected, the rules' sockets...) given the origin
    keys of the record of the same inode (cleaned: no lone surrogate, as every verdict string); returns the verdict (changed in place)."""
    by_inode = {}
    for record in records:
        if isinstance(record, dict) and isinstance(record.get('inode'), int):
            by_inode.setdefault(record['inode'], record)

    def visit(value):
        if isinstance(value, dict):
            if 'endpoint' in value and value.get('inode') in by_inode:
                record = by_inode[value['inode']]
                for key in ORIGIN_KEYS:
                    if key in record:
                        value.setdefault(key, _hoststr.clean_tree(record[key]))     # as the policy cleans host data
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
    visit(verdict)
    return verdict
