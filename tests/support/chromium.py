# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: the HTML fleet report as a real headless Chromium renders it (the DOM after the page's scripts ran),
its elements (DOM, also for a report as rendered, without a browser), and the check that its matrix holds every host
and every listening port of the verdicts."""

import shutil
import subprocess
import tempfile

from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports.html import CELL_STATUSES

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync']


def chromium(required=False):
    """The browser's path; without one, the test is skipped (or fails, when required)."""
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(name)
        if path:
            return path
    (pytest.fail if required else pytest.skip)('no headless Chromium here: apt-get install chromium chromium-driver '
                                               '(tools/setup --tests installs them as root); the HTML report is checked '
                                               'in a real browser only')
    return None


def render_in_chromium(path, fragment='', *extra, required=False):
    """The DOM after the page's scripts ran, as Chromium serialises it."""
    with tempfile.TemporaryDirectory(prefix='na-chromium-') as profile:
        argv = [chromium(required)] + CHROMIUM_FLAGS + ['--user-data-dir=' + profile] + list(extra)
        proc = subprocess.run(argv + ['--dump-dom', 'file://%s%s' % (quote(str(path)), fragment)], capture_output=True,
                              text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class DOM(HTMLParser):
    """Elements with their attributes and text (the text of every descendant, in order)."""

    def __init__(self, text):
        super(DOM, self).__init__()
        self.elements, self.open = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {'tag': tag, 'attrs': dict(attrs), 'text': ''}
        self.elements.append(element)
        if tag not in ('meta', 'br', 'link', 'img', 'input'):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open and self.open.pop()['tag'] != tag:
            pass

    def handle_data(self, data):
        for element in self.open:
            element['text'] += data

    def find(self, tag=None, **attrs):
        return [e for e in self.elements if (tag is None or e['tag'] == tag)
                and all(e['attrs'].get(k.replace('_', '-')) == v for k, v in attrs.items())]


def check_matrix(dom, verdicts):
    """Every host is a row and every port of its listening sockets a column, with a cell coloured by the verdict."""
    hosts = [h['attrs']['data-host'] for h in dom.find('tr') if 'data-host' in h['attrs']]
    assert hosts == [host.name for host in report_common.hosts_of(verdicts)]
    columns = [th['attrs']['data-port'] for th in dom.find('th') if 'data-port' in th['attrs']]
    for host, verdict in verdicts.items():
        if not verdict:
            assert dom.find('tr', data_host=host)[0]['attrs']['data-state'] == 'no_verdict'
            continue
        row = dom.find('tr', data_host=host)[0]
        assert row['attrs']['data-state'] == ('compliant' if verdict['compliant'] else 'non_compliant')
        for entry in verdict['sockets']:
            port = '%s/%d' % (entry['proto'], entry['port'])
            assert port in columns
            cell = dom.find('td', data_host=host, data_port=port)
            assert len(cell) == 1, (host, port)
            status = cell[0]['attrs']['data-status']
            assert status in CELL_STATUSES and 'st-' + status in cell[0]['attrs']['class']
            assert entry['endpoint'] in cell[0]['attrs']['title']
    return columns
