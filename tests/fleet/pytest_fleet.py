# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest plugin: the namespace test fleet (``fleet.py``) as fixtures.

The project loads it from ``pytest.ini`` (``pythonpath = ... tests``, ``addopts = -p fleet.pytest_fleet``: the
folder ``tests/fleet`` is the package ``fleet``, the library is ``fleet.fleet``). It also works as a top-level
module (``pytest_plugins = ["pytest_fleet"]`` with ``tests/fleet`` on ``sys.path``); load it under one name
only, so that the session fleet is built once.

Fixtures
--------
``fleet``
    session scope: a :class:`fleet.Fleet` of 3 hosts ``h1`` .. ``h3``, up, torn down at the end of the session.
``fleet_factory``
    function scope: ``fleet_factory(size=3, groups=None, hostvars=None, **kwargs)`` brings up a fleet
    (``kwargs`` go to ``Fleet``: ``groupvars``, ``names``, ``keep``, ``clean_shell`` ...) and returns it; every
    fleet it made is torn down after the test.

Both skip the test, saying why ("fleet tests need root: ..."), when a fleet cannot be built here: not root,
no ``ip netns``, no ``/usr/sbin/sshd`` (``apt-get install -y openssh-server``). The first fleet of a session
is preceded by ``fleet.gc()``, which removes fleets whose owner process died (a killed earlier run).
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest

if __package__:  # "-p fleet.pytest_fleet" with tests/ on the path (pytest.ini): tests/fleet is package "fleet"
    from . import fleet as fleetlib
else:  # loaded as a top-level module "pytest_fleet"
    _HERE = os.path.dirname(os.path.abspath(__file__))
    if _HERE not in sys.path:
        sys.path.insert(0, _HERE)
    import fleet as fleetlib  # pylint: disable=import-error


def skip_reason():
    """Why fleet tests cannot run here, or None."""
    missing = fleetlib.check_prerequisites()
    if not missing:
        return None
    return "fleet tests need " + "; need ".join(f"{need}: {why}" for need, why in missing)


@pytest.fixture(scope="session")
def _fleet_host_ready():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    try:
        fleetlib.gc()
    except fleetlib.FleetError as exc:  # a stale fleet that will not go away must not stop the session
        warnings.warn(f"fleet gc: {exc}", stacklevel=1)


@pytest.fixture(scope="session")
def fleet(_fleet_host_ready):
    """Three hosts h1..h3 for the whole session."""
    with fleetlib.Fleet(size=3) as session_fleet:
        yield session_fleet


@pytest.fixture
def fleet_factory(_fleet_host_ready):
    """Build fleets on demand: ``fleet_factory(size, groups=..., hostvars=..., **kwargs)``."""
    made = []

    def make(size=3, groups=None, hostvars=None, **kwargs):
        new_fleet = fleetlib.Fleet(size=size, groups=groups, hostvars=hostvars, **kwargs)
        made.append(new_fleet)
        return new_fleet.up()

    yield make
    errors = []
    for made_fleet in reversed(made):
        try:
            made_fleet.down()
        except fleetlib.FleetError as exc:
            errors.append(str(exc))
    if errors:
        raise fleetlib.FleetError("; ".join(errors))
