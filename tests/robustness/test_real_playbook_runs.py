# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Robustness (issue 7): 200 filters through the real ss_filter filter plugin, in one ansible-playbook run.

A loop applies each filter to socket records of real shape (the captured dumps of the unit tests); each item's
result or error is saved. The oracle is the plugin's own module_utils function called in this process: the playbook
must fail exactly the items it refuses, with its message, and count what it selects; no message names a traceback
or an exception class of Python's."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _ssfilter_fast

from robustness import filtergen
from robustness.modulerun import CRASH_NAMES
from support.natest import run_playbook

COUNT = 200
PLAYBOOK = '''
- name: Apply many ss filters
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    robustness_filters: "{{ lookup('ansible.builtin.file', 'filters.json') | from_json }}"
    robustness_sockets: "{{ lookup('ansible.builtin.file', 'sockets.json') | from_json }}"
  tasks:
    - name: Select with each filter
      ansible.builtin.debug:
        msg: "{{ robustness_sockets | netaudit.sockets.ss_filter(item.filter, item.tables, ephemeral_range=[32768, 60999]) | length }}"
      loop: "{{ robustness_filters }}"
      register: robustness_results
      ignore_errors: true

    - name: Save what each item gave
      ansible.builtin.copy:
        content: "{{ robustness_results.results | to_json }}"
        dest: "{{ playbook_dir }}/results.json"
        mode: "0644"
'''


def playbook_filters():
    """Grammar, mutated and hostile filters, without lone surrogates (ansible's from_json refuses them)."""
    chosen = []
    for kind, count in (('grammar', 90), ('mutation', 70), ('hostile', 40)):
        chosen.extend({'filter': text, 'tables': list(tables) if index % 2 else None}
                      for index, (text, tables) in enumerate(filtergen.ansible_safe(filtergen.seed(400), count, kind)))
    return chosen


def test_filters_through_the_plugin_in_a_playbook(tmp_path):
    filters = playbook_filters()
    sockets = filtergen.facts_records()
    (tmp_path / 'filters.json').write_text(json.dumps(filters))
    (tmp_path / 'sockets.json').write_text(json.dumps(sockets))
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    proc = run_playbook(str(tmp_path / 'play.yml'), timeout=240)
    assert (tmp_path / 'results.json').exists(), 'the playbook did not get to the end:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-3000:])
    results = json.loads((tmp_path / 'results.json').read_text())
    assert len(results) == COUNT
    failures = []
    refused = 0
    for item, result in zip(filters, results):
        try:
            want, error = len(_ssfilter_fast.ss_filter(sockets, item['filter'], item['tables'], ephemeral_range=[32768, 60999])), None
        except ValueError as exc:
            want, error = None, str(exc)
        message = str(result.get('msg', ''))
        crashes = [name for name in CRASH_NAMES if name in message]
        if crashes:
            failures.append('%s: the message names %s: %s' % (ascii(item['filter'][:200]), crashes, ascii(message[:500])))
        elif error is None and (result.get('failed') or str(want) != message):
            failures.append('%s: in process %d records, the playbook: %s' % (ascii(item['filter'][:200]), want, ascii(message[:500])))
        elif error is not None:
            refused += 1
            if not result.get('failed'):
                failures.append('%s: refused in process (%s), the playbook gave %s' % (ascii(item['filter'][:200]), error[:200], message))
            elif 'ss_filter: ' + error[:60] not in message:
                failures.append('%s: the message does not carry the plugin\'s: %s' % (ascii(item['filter'][:200]), ascii(message[:500])))
    if failures:
        pytest.fail('%d of %d items went wrong:\n%s' % (len(failures), COUNT, '\n'.join(failures)), pytrace=False)
    assert 20 < refused < COUNT - 20, 'the filters should be a mix of accepted and refused ones: %d refused' % refused
