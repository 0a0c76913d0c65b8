# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible-lint, production profile (.ansible-lint), over both roles, the playbooks and the molecule scenarios."""

import os
import subprocess

import pytest
import yaml

from support.natest import COLLECTIONS, REPO, VENV_BIN, ansible_env

TARGETS = ('roles/port_audit', 'roles/port_baseline', 'playbooks', 'extensions/molecule')


def test_ansible_lint_production_profile():
    lint = os.path.join(VENV_BIN, 'ansible-lint')
    assert os.path.exists(lint), 'ansible-lint is missing from .venv: tools/setup installs requirements/controller.txt'
    proc = subprocess.run([lint, '--nocolor', '--offline'] + list(TARGETS), cwd=REPO, capture_output=True, text=True,
                          env=ansible_env(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, NO_COLOR='1'), timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output, output


@pytest.mark.parametrize('role_name', ['port_audit', 'port_baseline'])
def test_argument_specs_match_defaults_key_for_key(role_name):
    """meta/argument_specs.yml documents every default of defaults/main.yml, in the same order, with the same value."""
    role = os.path.join(REPO, 'roles', role_name)
    with open(os.path.join(role, 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(role, 'meta', 'argument_specs.yml')) as handle:
        options = yaml.safe_load(handle)['argument_specs']['main']['options']
    assert list(options) == list(defaults)
    for name, spec in options.items():
        assert name.startswith(role_name + '_'), name
        assert spec['default'] == defaults[name], name
        assert spec['description'] and spec['type'], name
        if spec['type'] == 'list':
            assert spec.get('elements'), name
