# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Renders socket_facts results (an `ansible --tree` folder) as a table per host, and writes the reports.

Usage: socket_table.py TREE_DIR REPORT_DIR
"""

import ipaddress
import json
import os
import sys


def exposure(record):
    """Who can reach a listener: loopback, link-local, a local network address, or all interfaces."""
    address = record['local_address']
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return '?'
    if getattr(ip, 'ipv4_mapped', None):
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return 'all interfaces' + (' (%s)' % record['interface'] if record['interface'] else '')
    if ip.is_loopback:
        return 'loopback'
    if ip.is_link_local:
        return 'link-local (%s)' % (record['interface'] or '?')
    return 'local network'


def stack(record):
    if record['family'] == 'inet':
        return 'v4'
    if record['local_address'].startswith('::ffff:'):
        return 'v4 (mapped)'
    if record['local_address'] == '::' and record['v6only'] is False:
        return 'dual stack'
    return 'v6'


def owners(record):
    names = []
    for proc in record['processes']:
        label = '%s[%d]' % (proc['name'], proc['pid'])
        if label not in names:
            names.append(label)
    return ','.join(names) or '-'


def bind(record):
    address = record['local_address']
    if ':' in address:
        address = '[%s]' % address
    if record['interface']:
        address += '%' + record['interface']
    return '%s:%s' % (address, record['local_port'] if record['local_port'] else '*')


HEADER = ('proto', 'bind', 'exposure', 'stack', 'process', 'user')


def rows(sockets):
    for record in sockets:
        yield (record['netid'], bind(record), exposure(record), stack(record), owners(record), record['user'] or str(record['uid']))


def render(table):
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return '\n'.join('  '.join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table)


def main(tree_dir, report_dir):
    hosts = sorted(os.listdir(tree_dir)) if os.path.isdir(tree_dir) else []
    markdown = ['# Listening sockets', '']
    status = 0
    for host in hosts:
        with open(os.path.join(tree_dir, host)) as handle:
            result = json.load(handle)
        print('\n== %s ==' % host)
        markdown += ['## %s' % host, '']
        if result.get('failed') or result.get('unreachable') or 'ansible_facts' not in result:
            message = result.get('msg', 'no facts returned')
            print('FAILED: %s' % message)
            markdown += ['FAILED: %s' % message, '']
            status = 1
            continue
        facts = result['ansible_facts']
        meta = facts['socket_meta']
        table = [HEADER] + list(rows(facts['sockets']))
        print(render(table))
        markdown += ['| %s |' % ' | '.join(HEADER), '|%s' % ('---|' * len(HEADER))]
        markdown += ['| %s |' % ' | '.join(row) for row in table[1:]]
        summary = '%d listening sockets, gathered by %s in %.1f ms' % (meta['count'], meta['backend'], meta['elapsed_ms'])
        if not meta['complete']:
            summary += '; INCOMPLETE: ' + '; '.join(meta['incomplete_reasons'])
        print(summary)
        markdown += ['', summary, '']
    if not hosts:
        print('no results in %s' % tree_dir)
        status = 1
    md_path = os.path.join(report_dir, 'sockets.md')
    with open(md_path, 'w') as handle:
        handle.write('\n'.join(markdown) + '\n')
    print('\nReports:')
    print('  Markdown: %s' % md_path)
    print('  JSON (one file per host): %s' % tree_dir)
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
