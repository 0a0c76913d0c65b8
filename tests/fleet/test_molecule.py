# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Molecule scenarios under extensions/molecule, each a full `molecule test` against a namespace fleet."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from fleet import fleet as fleetlib
from fleet.pytest_fleet import skip_reason
from support.natest import REPO, VENV_BIN

MOLECULE = os.path.join(VENV_BIN, 'molecule')


def molecule_env(ephemeral):
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(('ANSIBLE_', 'MOLECULE_')))
    env.update(
        # Its own folder (short: the ssh ControlPath sockets live in it), not one shared with other checkouts.
        MOLECULE_EPHEMERAL_DIRECTORY=ephemeral,
        PATH=VENV_BIN + os.pathsep + env.get('PATH', ''),  # molecule calls ansible-config and ansible-playbook by name
        NO_COLOR='1',
        ANSIBLE_NOCOLOR='1',
        # The scenario's create.yml hands this to 'fleet.py up --owner-pid': if this process dies, gc removes the fleet.
        NETAUDIT_FLEET_OWNER_PID=str(os.getpid()),
    )
    return env


def fleets_under(folder):
    return [state['run_id'] for state in fleetlib.list_fleets() if state['lab_dir'].startswith(folder + os.sep)]


@pytest.mark.root
@pytest.mark.parametrize('scenario', ['port_baseline', 'port_audit'])
def test_molecule_scenario(scenario):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    if not os.path.exists(MOLECULE):
        pytest.skip('molecule is not installed in the venv: run tools/setup (requirements/controller.txt pins it)')
    ephemeral = tempfile.mkdtemp(prefix='mol-')
    try:
        proc = subprocess.run([MOLECULE, 'test', '-s', scenario], cwd=REPO, env=molecule_env(ephemeral),
                              capture_output=True, text=True, timeout=900, check=False)
        left = fleets_under(ephemeral)
    finally:
        for run_id in fleets_under(ephemeral):
            fleetlib.teardown(run_id)
        shutil.rmtree(ephemeral, ignore_errors=True)
    output = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout + proc.stderr)
    assert proc.returncode == 0, output[-20000:]
    for step in ('create', 'converge', 'idempotence', 'verify', 'destroy'):
        # The DETAILS recap: 'SCENARIO > STEP: Executed: Successful' (an arrow instead of '>' with colours).
        assert re.search(r'^%s (?:>|\u279c) %s: Executed: Successful$' % (scenario, step), output, re.M), output[-20000:]
    assert left == [], 'molecule destroy left a fleet behind'
