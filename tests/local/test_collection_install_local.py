# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users get it: `ansible-galaxy collection build` and `install .` from this working tree (which
holds the test suite's virtual environments and caches), then the installed copy used by ansible-doc and ansible."""

import os
import subprocess
import tarfile

from support.natest import REPO, VENV_BIN, ansible_env

# Made by tools/setup, tools/test and the tests in every working tree: none of it belongs in the collection.
LOCAL_ONLY = ('.venv', '.venv-2.20', '.venv-2.21', '.venv-bench', '.cache', '.hypothesis', '.pytest_cache', 'build')
SHIPPED = ('MANIFEST.json', 'meta/runtime.yml', 'plugins/modules/socket_facts.py', 'plugins/action/port_verdict.py',
           'roles/port_audit/tasks/main.yml', 'playbooks/audit.yml', 'README.md')


def galaxy(*args, env=None):
    return subprocess.run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection'] + list(args), cwd=REPO,
                          env=env or ansible_env(), capture_output=True, text=True, check=False, timeout=300)


def test_build_leaves_out_what_only_this_tree_has(tmp_path):
    built = galaxy('build', '--output-path', str(tmp_path))
    assert built.returncode == 0, built.stdout + built.stderr
    [name] = os.listdir(tmp_path)
    with tarfile.open(tmp_path / name) as archive:
        members = archive.getnames()
    tops = set(member.split('/', 1)[0] for member in members)
    assert not tops & set(LOCAL_ONLY), sorted(tops & set(LOCAL_ONLY))
    assert not [member for member in members if '__pycache__' in member or member.endswith('.pyc')]
    assert set(SHIPPED) <= set(members)
    assert os.path.getsize(tmp_path / name) < 5 * 1024 * 1024


def test_install_from_the_working_tree_gives_a_collection_ansible_uses(tmp_path):
    # --force: the project's own collections path (ansible.cfg) already holds this collection as a link.
    installed = galaxy('install', '.', '--force', '-p', str(tmp_path))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    root = tmp_path / 'ansible_collections' / 'netaudit' / 'sockets'
    assert sorted(set(os.listdir(root)) & set(LOCAL_ONLY)) == []
    env = ansible_env(ANSIBLE_COLLECTIONS_PATH=str(tmp_path))
    doc = subprocess.run([os.path.join(VENV_BIN, 'ansible-doc'), 'netaudit.sockets.socket_facts'], env=env,
                         capture_output=True, text=True, check=False, timeout=120)
    assert doc.returncode == 0 and str(root) in doc.stdout, doc.stdout + doc.stderr
    run = subprocess.run([os.path.join(VENV_BIN, 'ansible'), 'localhost', '-i', 'localhost,', '-c', 'local', '-m',
                          'netaudit.sockets.socket_facts', '-a', 'tables=tcp listening=true'], env=env,
                         capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0 and '"socket_meta"' in run.stdout, run.stdout + run.stderr
