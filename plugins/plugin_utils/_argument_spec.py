# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: an action's argument spec, read from the options of its docs-only module.

The actions port_verdict, port_reports and port_drift are documented by a module of the same name in
plugins/modules/ that holds only DOCUMENTATION, EXAMPLES and RETURN. Their argument specs are built from that
DOCUMENTATION when the action is imported, so what ansible-doc shows and what the action accepts are one text.
The file is read as ansible-doc reads it: parsed with ast (the module is never imported) and its DOCUMENTATION
string loaded as YAML.
"""

from __future__ import annotations

import ast
import os

from collections.abc import Mapping
from typing import Any, Dict

import yaml

MODULES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'modules')
# The keys of an option's documentation that are also keys of its argument spec; `suboptions` becomes `options`.
SPEC_KEYS = ('type', 'elements', 'choices', 'default', 'required', 'aliases')


def documentation(module: str) -> Dict[str, Any]:
    """The DOCUMENTATION of plugins/modules/<module>.py, loaded as YAML."""
    path = os.path.join(MODULES, module + '.py')
    with open(path, 'rb') as source:
        tree = ast.parse(source.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == 'DOCUMENTATION'
                                                for target in node.targets):
            doc = yaml.safe_load(ast.literal_eval(node.value))
            if not isinstance(doc, Mapping):
                raise ValueError('%s: DOCUMENTATION is not a YAML mapping' % path)
            return dict(doc)
    raise ValueError('%s: no DOCUMENTATION' % path)


def spec_of(options: Mapping) -> Dict[str, Dict[str, Any]]:
    """The argument spec of documented `options`: each option's type, elements, choices (a list, also when the
    documentation maps each choice to its description), default, required and aliases, and its suboptions as
    `options`; descriptions and the other keys of the documentation are left out."""
    spec = {}
    for name, option in options.items():
        entry = {key: option[key] for key in SPEC_KEYS if key in option}
        if 'choices' in entry:
            entry['choices'] = list(entry['choices'])
        if option.get('suboptions'):
            entry['options'] = spec_of(option['suboptions'])
        spec[name] = entry
    return spec


def argument_spec(module: str) -> Dict[str, Dict[str, Any]]:
    """The argument spec of the action documented by plugins/modules/<module>.py."""
    return spec_of(documentation(module).get('options') or {})
