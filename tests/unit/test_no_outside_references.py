# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing in the repository refers to documents outside it: the files git tracks (and new files it does not
ignore) never name a design document or house style guide that the repository does not hold, nor a shared folder
beside the repository. A relative path into a folder that is in the repository (the molecule scenarios' common
folder, extensions/molecule/shared) is a reference inside it."""

import os
import re
import subprocess

import pytest

from support.natest import REPO

# This file names what it looks for in its cases below; those cases test the patterns instead.
SELF = os.path.relpath(os.path.abspath(__file__), REPO)

# Documents that lived beside the repository while it was written; the patterns do not match this file's own text.
OUTSIDE_DOCUMENTS = re.compile(rb'\b(?:DESIGN|STYLE)\.md\b|\bthe\s+brief\b', re.IGNORECASE)
# A relative path that climbs to a folder named shared: outside unless it resolves to a folder of the repository.
SHARED_PATH = re.compile(rb'(?:\.\./)+shared\b[\w./-]*')


def repository_files():
    if not os.path.isdir(os.path.join(REPO, '.git')):
        pytest.skip('not a git checkout')
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=REPO,
                            capture_output=True, check=True).stdout
    return sorted(name for name in listed.decode('utf-8', 'surrogateescape').split('\0')
                  if name and os.path.isfile(os.path.join(REPO, name)))


def shared_path_inside(name, reference):
    """True when `reference`, read relative to the folder of file `name`, names a folder or file of the repository."""
    folder = os.path.dirname(os.path.join(REPO, name))
    target = os.path.normpath(os.path.join(folder, reference.decode('utf-8', 'replace').rstrip('.')))
    inside = os.path.commonpath([target, REPO]) == REPO
    return inside and os.path.exists(target)


def outside_references(name, data):
    found = [match.group().decode('utf-8', 'replace') for match in OUTSIDE_DOCUMENTS.finditer(data)]
    found += [match.group().decode('utf-8', 'replace') for match in SHARED_PATH.finditer(data)
              if not shared_path_inside(name, match.group())]
    return found


def test_no_file_refers_to_documents_outside_the_repository():
    offenders = {}
    for name in repository_files():
        if name == SELF:
            continue
        with open(os.path.join(REPO, name), 'rb') as handle:
            found = outside_references(name, handle.read())
        if found:
            offenders[name] = found
    assert not offenders


@pytest.mark.parametrize('name, text, found', [
    ('docs/guide.md', b'as DESIGN.md says', ['DESIGN.md']),
    ('plugins/module_utils/_x.py', b'# see design.md, "A socket record"', ['design.md']),
    ('README.md', b'house style: ../shared/STYLE.md', ['STYLE.md', '../shared/STYLE.md']),
    ('docs/guide.md', b'the cases the\nbrief names', ['the\nbrief']),
    ('docs/guide.md', b'../../shared/notes', ['../../shared/notes']),
    ('extensions/molecule/port_audit/molecule.yml', b'create: ../shared/create.yml', []),
    ('extensions/molecule/port_audit/molecule.yml', b'see ../shared.', []),
    ('extensions/molecule/port_audit/molecule.yml', b'../shared/missing.yml', ['../shared/missing.yml']),
    ('LICENSES/GPL-3.0-or-later.txt', b'a brief idea of what it does', []),
])
def test_outside_references(name, text, found):
    assert outside_references(name, text) == found
