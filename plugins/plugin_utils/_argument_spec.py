# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: an action's argument spec, read from the options of its docs-only module.

The actions port_verdict, port_reports and port_drift are documented by a module of the same name in
plugins/modules/ that holds only DOCUMENTATION, EXAMPLES and RETURN. Their argument specs are built from that
DOCUMENTATION when the action is imported, so what ansible-doc shows and what the action accepts are one text.
The files are read as ansible-doc reads them: parsed with ast (nothing is imported) and their documentation loaded
as YAML, with the options of the collection's own documentation fragments (plugins/doc_fragments/, named in
extends_documentation_fragment) merged as ansible-doc merges them. Fragments of other collections (ansible.builtin's
attributes) hold no options of these modules and are not read.
"""

from __future__ import annotations

import ast
import os

from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.yaml import yaml_load

PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = os.path.join(PLUGINS, 'modules')
FRAGMENTS = os.path.join(PLUGINS, 'doc_fragments')
COLLECTION = 'netaudit.sockets.'
# The keys of an option's documentation that are also keys of its argument spec; `suboptions` becomes `options`.
SPEC_KEYS = ('type', 'elements', 'choices', 'default', 'required', 'aliases')


def _yaml_text(path: str, statements: list[ast.stmt], name: str) -> str | None:
    """The string assigned to `name` among `statements` of the file at `path`, or None."""
    for node in statements:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == name
                                                for target in node.targets):
            text = ast.literal_eval(node.value)
            if not isinstance(text, str):
                raise ValueError('%s: %s is not a string' % (path, name))
            return text
    return None


def _mapping(path: str, name: str, text: str) -> dict[str, Any]:
    doc = yaml_load(text)
    if not isinstance(doc, Mapping):
        raise ValueError('%s: %s is not a YAML mapping' % (path, name))
    return dict(doc)


def _parsed(path: str) -> ast.Module:
    with open(path, 'rb') as source:
        return ast.parse(source.read(), path)


def fragment(name: str) -> dict[str, Any]:
    """The collection's documentation fragment `name` (netaudit.sockets.FILE, or netaudit.sockets.FILE.PART for the
    upper-cased PART of FILE's ModuleDocFragment instead of its DOCUMENTATION), loaded as YAML."""
    file_name, _dot, part = name[len(COLLECTION):].partition('.')
    path = os.path.join(FRAGMENTS, file_name + '.py')
    variable = part.upper() or 'DOCUMENTATION'
    for node in _parsed(path).body:
        if isinstance(node, ast.ClassDef) and node.name == 'ModuleDocFragment':
            text = _yaml_text(path, node.body, variable)
            if text is not None:
                return _mapping(path, variable, text)
    raise ValueError('%s: no ModuleDocFragment.%s' % (path, variable))


def documentation(module: str) -> dict[str, Any]:
    """The DOCUMENTATION of plugins/modules/<module>.py, loaded as YAML, with the options of the collection's
    fragments it extends merged in (the module's own keys of an option win, as in ansible-doc)."""
    path = os.path.join(MODULES, module + '.py')
    text = _yaml_text(path, _parsed(path).body, 'DOCUMENTATION')
    if text is None:
        raise ValueError('%s: no DOCUMENTATION' % path)
    doc = _mapping(path, 'DOCUMENTATION', text)
    options = dict(doc.get('options') or {})
    for name in doc.get('extends_documentation_fragment') or ():
        if name.startswith(COLLECTION):
            for key, option in (fragment(name).get('options') or {}).items():
                options[key] = dict(option, **options.get(key, {}))
    if options:
        doc['options'] = options
    return doc


def spec_of(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
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


def argument_spec(module: str) -> dict[str, dict[str, Any]]:
    """The argument spec of the action documented by plugins/modules/<module>.py."""
    return spec_of(documentation(module).get('options') or {})
