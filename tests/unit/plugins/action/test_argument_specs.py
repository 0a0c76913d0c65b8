# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The actions' argument specs and their docs-only modules' documentation are the same.

The actions build ARGUMENT_SPEC from the module's DOCUMENTATION (plugin_utils/_argument_spec.py); the oracle here is
what ansible-doc shows (its own parser, with the documentation fragments merged), compared option by option. The
constants the documentation repeats (report formats and extensions, the default title, the baseline size limit) are
compared with the code that uses them."""

import json
import os
import subprocess

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netaudit.sockets.plugins.action import port_drift
from ansible_collections.netaudit.sockets.plugins.action import port_reports
from ansible_collections.netaudit.sockets.plugins.action import port_verdict
from ansible_collections.netaudit.sockets.plugins.plugin_utils._reports import common as report_common
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _argument_spec
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _baseline_store
from support.natest import REPO, VENV_BIN, ansible_env

ACTIONS = {'port_verdict': port_verdict.ActionModule, 'port_reports': port_reports.ActionModule,
           'port_drift': port_drift.ActionModule}
# An option's argument spec key and its value when the key is absent, as ansible reads both.
ABSENT = {'type': 'str', 'elements': None, 'choices': None, 'default': None, 'required': False, 'aliases': []}
REQUIRED_ARGS = {'port_verdict': {'policy': {}}, 'port_reports': {'verdicts': {}, 'dest': '/reports'},
                 'port_drift': {'dir': '/baselines'}}


@pytest.fixture(scope='module')
def shown():
    """Module name to its options as `ansible-doc --json` shows them."""
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-doc'), '-t', 'module', '--json']
                          + ['netaudit.sockets.' + name for name in ACTIONS],
                          env=ansible_env(), capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pages = json.loads(proc.stdout)
    return {name: pages['netaudit.sockets.' + name]['doc']['options'] for name in ACTIONS}


@pytest.mark.parametrize('name', sorted(ACTIONS))
def test_argument_spec_is_the_documented_options(shown, name):
    spec, options = ACTIONS[name].ARGUMENT_SPEC, shown[name]
    assert sorted(spec) == sorted(options)
    for option, documented in options.items():
        assert not documented.get('suboptions') and 'options' not in spec[option], option
        for key, absent in ABSENT.items():
            want = documented.get(key, absent)
            if key == 'choices' and want is not None:
                want = list(want)
            assert spec[option].get(key, absent) == want, (option, key)


@pytest.mark.parametrize('name', sorted(ACTIONS))
def test_argument_spec_validates_and_fills_the_documented_defaults(shown, name):
    result = ArgumentSpecValidator(ACTIONS[name].ARGUMENT_SPEC).validate(dict(REQUIRED_ARGS[name]))
    assert not result.error_messages
    for option, documented in shown[name].items():
        if option not in REQUIRED_ARGS[name]:
            assert result.validated_parameters[option] == documented.get('default'), option
    missing = ArgumentSpecValidator(ACTIONS[name].ARGUMENT_SPEC).validate({})
    assert sorted(REQUIRED_ARGS[name]) == sorted(option for option, documented in shown[name].items()
                                                 if documented.get('required'))
    assert all(option in ' '.join(missing.error_messages) for option in REQUIRED_ARGS[name])


@pytest.mark.parametrize('name, option, value', [
    ('port_reports', 'formats', ['pdf']),
    ('port_drift', 'mode', 'replace'),
    ('port_drift', 'max_size', 'big'),
    ('port_verdict', 'gather', 'sometimes'),
    ('port_verdict', 'policy', 'tcp/22'),
])
def test_argument_spec_refuses_what_the_documentation_does_not_allow(name, option, value):
    result = ArgumentSpecValidator(ACTIONS[name].ARGUMENT_SPEC).validate(dict(REQUIRED_ARGS[name], **{option: value}))
    assert result.error_messages and option in result.error_messages[0]


def test_report_formats_written_to_files_are_one_list():
    """One EXTENSIONS (_reports/common.py): port_reports' formats and the port_audit role's port_audit_report_formats offer
    exactly its formats, in its order. summary is a format of the audit_report filter (one line to show) and is no
    file: port_reports refuses it."""
    assert port_reports.ActionModule.ARGUMENT_SPEC['formats']['choices'] == list(report_common.EXTENSIONS)
    assert set(port_reports.ActionModule.ARGUMENT_SPEC['formats']['default']) <= set(report_common.EXTENSIONS)
    assert set(report_common.EXTENSIONS) == set(report_common.FORMATS) - {'summary'}
    assert not hasattr(port_reports, 'EXTENSIONS')
    with open(os.path.join(REPO, 'roles', 'port_audit', 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
        role = yaml.safe_load(handle)['argument_specs']['main']['options']['port_audit_report_formats']
    assert role['choices'] == list(report_common.EXTENSIONS)
    assert role['default'] == port_reports.ActionModule.ARGUMENT_SPEC['formats']['default']
    result = ArgumentSpecValidator(port_reports.ActionModule.ARGUMENT_SPEC).validate(
        dict(REQUIRED_ARGS['port_reports'], formats=['summary']))
    assert result.error_messages and 'summary' in result.error_messages[0]


def test_documented_defaults_are_the_code_defaults():
    assert port_reports.ActionModule.ARGUMENT_SPEC['title']['default'] == report_common.DEFAULT_TITLE
    assert port_drift.ActionModule.ARGUMENT_SPEC['max_size']['default'] == _baseline_store.DEFAULT_MAX_SIZE


@pytest.mark.parametrize('options, spec', [
    ({}, {}),
    ({'a': {'description': 'A.', 'type': 'list', 'elements': 'str', 'default': [], 'version_added': '0.2.0'}},
     {'a': {'type': 'list', 'elements': 'str', 'default': []}}),
    ({'a': {'description': ['A.'], 'required': True, 'aliases': ['b']}}, {'a': {'required': True, 'aliases': ['b']}}),
    ({'a': {'choices': {'x': 'The x.', 'y': 'The y.'}, 'default': 'x'}}, {'a': {'choices': ['x', 'y'], 'default': 'x'}}),
    ({'a': {'type': 'dict', 'suboptions': {'b': {'description': 'B.', 'type': 'int', 'default': 1}}}},
     {'a': {'type': 'dict', 'options': {'b': {'type': 'int', 'default': 1}}}}),
])
def test_spec_of(options, spec):
    assert _argument_spec.spec_of(options) == spec


def test_documentation_fails_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_argument_spec, 'MODULES', str(tmp_path))
    (tmp_path / 'bare.py').write_text('EXAMPLES = ""\n')
    (tmp_path / 'scalar.py').write_text('DOCUMENTATION = "just text"\n')
    for module, problem in (('bare', 'no DOCUMENTATION'), ('scalar', 'DOCUMENTATION is not a YAML mapping')):
        with pytest.raises(ValueError, match='%s.py: %s' % (module, problem)):
            _argument_spec.argument_spec(module)


FRAGMENT = '''class ModuleDocFragment(object):
    DOCUMENTATION = """
options:
  a: {description: A., type: int, default: 1}
  b: {description: B., type: str}
"""
    PART = """
options:
  c: {description: C., type: bool, default: false}
"""
'''


def test_documentation_merges_the_collection_fragments(tmp_path, monkeypatch):
    """The collection's fragments give their options, the module's own keys of an option win (as in ansible-doc),
    and other collections' fragments (ansible.builtin's attributes) are not read."""
    monkeypatch.setattr(_argument_spec, 'MODULES', str(tmp_path))
    monkeypatch.setattr(_argument_spec, 'FRAGMENTS', str(tmp_path))
    (tmp_path / 'shared.py').write_text(FRAGMENT)
    (tmp_path / 'mod.py').write_text('DOCUMENTATION = """\nextends_documentation_fragment:\n'
                                     '  - ansible.builtin.action_common_attributes\n  - netaudit.sockets.shared\n'
                                     '  - netaudit.sockets.shared.part\noptions:\n  a: {default: 2}\n"""\n')
    assert _argument_spec.argument_spec('mod') == {'a': {'type': 'int', 'default': 2}, 'b': {'type': 'str'},
                                                   'c': {'type': 'bool', 'default': False}}
    (tmp_path / 'other.py').write_text('DOCUMENTATION = """\nextends_documentation_fragment: [netaudit.sockets.shared.nope]\n"""\n')
    with pytest.raises(ValueError, match=r'shared.py: no ModuleDocFragment.NOPE'):
        _argument_spec.argument_spec('other')
