# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The layer rules of docs/architecture.md, checked on the imports of every file under plugins/ (read with ast):

1. host code (plugins/module_utils, its packages included) imports no controller code (plugin_utils, action,
   filter) and nothing of ansible outside ansible.module_utils; each folder of plugins/ imports only the folders
   below it;
2. every module_utils file, each file of its packages too, is reached from a module (so no controller-only file
   stays among the host code);
3. the import graph of the files inside plugins/ has no cycle (a cycle between the files of one package counts);
4. a folder of module_utils or plugin_utils that holds Python files is a package (it has an `__init__.py`), and
   every `__init__.py` holds no code: a docstring at most, so nothing is imported or defined there and every name
   has one place (its file), imported by its full name.

The checks are functions of a tree, so the cases at the end run them on small trees that break each rule."""

import ast
import os

import pytest

from support.natest import REPO

PREFIX = 'ansible_collections.netaudit.sockets.'
# What each folder of plugins/ may import from plugins/ (docs/architecture.md, "Layers").
ALLOWED = {
    'modules': {'module_utils'},
    'module_utils': {'module_utils'},
    'plugin_utils': {'module_utils', 'plugin_utils'},
    'action': {'module_utils', 'plugin_utils'},
    'filter': {'module_utils', 'plugin_utils'},
}


def python_files(root):
    """Every .py under root/plugins, as paths relative to root."""
    found = []
    for folder, _dirs, names in os.walk(os.path.join(root, 'plugins')):
        found.extend(os.path.relpath(os.path.join(folder, name), root) for name in names if name.endswith('.py'))
    return sorted(found)


def module_name(path):
    """plugins/module_utils/_x.py -> ansible_collections.netaudit.sockets.plugins.module_utils._x (a package's
    __init__.py -> the package)."""
    parts = path[:-len('.py')].split(os.sep)
    if parts[-1] == '__init__':
        parts.pop()
    return PREFIX + '.'.join(parts)


def imported_names(root, path):
    """The dotted names `path` imports, anywhere in the file (functions, guarded and type-checking imports too),
    relative imports resolved: `from X import a` gives X.a when that is a file (or package) of the collection, else X."""
    tree = ast.parse(open(os.path.join(root, path), 'rb').read(), path)
    package = module_name(path) if path.endswith('__init__.py') else module_name(path).rsplit('.', 1)[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = '.'.join(anchor + ([base] if base else []))
            for alias in node.names:
                full = '%s.%s' % (base, alias.name)
                names.append(full if target_file(root, full) else base)
    return names


def target_file(root, name):
    """The file under root/plugins that dotted `name` is, or None (a name outside the collection)."""
    if not name.startswith(PREFIX + 'plugins.'):
        return None
    base = os.path.join(*name[len(PREFIX):].split('.'))
    for candidate in (base + '.py', os.path.join(base, '__init__.py')):
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None


def import_graph(root):
    """{file: set of files under plugins/ it imports}, for every .py under root/plugins."""
    return dict((path, set(target_file(root, name) for name in imported_names(root, path)) - {None})
                for path in python_files(root))


def folder_of(path):
    return path.split(os.sep)[1]


def layer_violations(root):
    """Imports that break rule 1: (file, what it imports)."""
    bad = []
    for path in python_files(root):
        folder = folder_of(path)
        for name in imported_names(root, path):
            if folder == 'module_utils':
                if (name == 'ansible' or name.startswith('ansible.')) and not (
                        name == 'ansible.module_utils' or name.startswith('ansible.module_utils.')):
                    bad.append((path, name))
                    continue
                if name.startswith('ansible_collections') and not name.startswith(PREFIX + 'plugins.module_utils'):
                    bad.append((path, name))
                    continue
            target = target_file(root, name)
            if target is not None and folder_of(target) not in ALLOWED.get(folder, ()):
                bad.append((path, name))
    return sorted(set(bad))


def host_files(root):
    """The files the modules reach through their imports (a package's __init__.py is loaded with what is below it)."""
    graph = import_graph(root)
    seen = set()
    todo = [path for path in graph if folder_of(path) == 'modules']
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(graph.get(path, ()))
        folder = os.path.dirname(path)
        while folder.startswith(os.path.join('plugins', 'module_utils') + os.sep):
            if os.path.isfile(os.path.join(root, folder, '__init__.py')):
                todo.append(os.path.join(folder, '__init__.py'))
            folder = os.path.dirname(folder)
    return seen


def unreached_host_files(root):
    """module_utils files that no module reaches (rule 2)."""
    reached = host_files(root)
    return [path for path in python_files(root) if folder_of(path) == 'module_utils' and path not in reached]


def cycle(root):
    """One import cycle inside plugins/ as a list of files (first file repeated at the end), or None (rule 3). The
    files of a package are nodes like any other, so two files of one package that import each other are a cycle."""
    graph = import_graph(root)
    state = {}

    def visit(path, stack):
        state[path] = 'open'
        stack.append(path)
        for target in sorted(graph.get(path, ())):
            if state.get(target) == 'open':
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target, stack)
                if found:
                    return found
        stack.pop()
        state[path] = 'done'
        return None

    for path in sorted(graph):
        if path not in state:
            found = visit(path, [])
            if found:
                return found
    return None


# The folders of plugins/ whose subfolders are packages of shared code (rule 4).
SHARED = ('module_utils', 'plugin_utils')


def _has_code(tree):
    """Whether a parsed file holds anything but a docstring (comments are not in the tree)."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return bool(body)


def package_problems(root):
    """What breaks rule 4: (path, what is wrong) for a folder of shared code without an __init__.py, and for an
    __init__.py that holds code."""
    bad = []
    for path in python_files(root):
        parts = path.split(os.sep)
        folder = os.path.dirname(path)
        if len(parts) > 3 and parts[1] in SHARED and not os.path.isfile(os.path.join(root, folder, '__init__.py')):
            bad.append((folder, 'a folder of Python files without __init__.py (not a package)'))
        if parts[-1] == '__init__.py' and _has_code(ast.parse(open(os.path.join(root, path), 'rb').read(), path)):
            bad.append((path, 'holds code (imports, names or statements): a package __init__.py holds a docstring only'))
    return sorted(set(bad))


def packages(root):
    """The package folders under plugins/, as paths relative to root."""
    return sorted(os.path.dirname(path) for path in python_files(root) if os.path.basename(path) == '__init__.py')


def test_the_collection_is_seen():
    """The checks read the real tree: the module, the host code and the controller code, with imports between them."""
    graph = import_graph(REPO)
    assert 'plugins/modules/socket_facts.py' in graph
    # socket_facts.py holds its documentation and main(); its run (options to exit_json) is _facts_module.py's.
    assert graph['plugins/modules/socket_facts.py'] == {'plugins/module_utils/_facts_module.py'}
    assert 'plugins/module_utils/_gather.py' in graph['plugins/module_utils/_facts_module.py']
    assert any(folder_of(target) == 'module_utils' for path, targets in graph.items() if folder_of(path) == 'plugin_utils'
               for target in targets)
    assert len(host_files(REPO)) > 10
    # The packages of host code and controller code are read with their files.
    assert os.path.join('plugins', 'module_utils', '_procnet') in packages(REPO)
    assert os.path.join('plugins', 'module_utils', '_procnet', 'reader.py') in host_files(REPO)
    # A package imported inside a function (_gather imports _origin.run where it is needed) is reached too.
    assert os.path.join('plugins', 'module_utils', '_origin', 'run.py') in host_files(REPO)
    assert any(os.path.dirname(path).startswith(os.path.join('plugins', 'plugin_utils') + os.sep) for path in graph)


def test_host_code_imports_only_host_code_and_each_layer_only_lower_ones():
    assert layer_violations(REPO) == []


def test_every_module_utils_file_runs_on_the_host():
    assert unreached_host_files(REPO) == [], 'controller-only code belongs in plugins/plugin_utils/'


def test_no_import_cycle_in_plugins():
    assert cycle(REPO) is None


def test_packages_have_an_init_that_holds_no_code():
    assert package_problems(REPO) == []


# Small trees that break each rule: the checks find what is wrong.

def make_tree(tmp_path, files):
    for path, text in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return str(tmp_path)


MU = 'from ansible_collections.netaudit.sockets.plugins.module_utils import %s\n'
PU = 'from ansible_collections.netaudit.sockets.plugins.plugin_utils import %s\n'
GOOD = {
    'plugins/modules/m.py': MU % '_a',
    'plugins/module_utils/_a.py': 'import os\nfrom ansible.module_utils.basic import AnsibleModule\n' + MU % '_b',
    'plugins/module_utils/_b.py': '',
    'plugins/plugin_utils/_c.py': MU % '_b',
    'plugins/filter/f.py': PU % '_c' + 'from ansible.errors import AnsibleFilterError\n',
}


def test_a_good_tree_passes(tmp_path):
    root = make_tree(tmp_path, GOOD)
    assert (layer_violations(root), unreached_host_files(root), cycle(root)) == ([], [], None)


@pytest.mark.parametrize('path, text', [
    ('plugins/module_utils/_b.py', PU % '_c'),
    ('plugins/module_utils/_b.py', 'def late():\n    from ansible_collections.netaudit.sockets.plugins.plugin_utils._c import x\n'),
    ('plugins/module_utils/_b.py', 'from ansible.errors import AnsibleError\n'),
    ('plugins/module_utils/_b.py', 'import ansible_collections.netaudit.sockets.plugins.filter.f\n'),
    ('plugins/module_utils/_b.py', 'from ansible_collections.other.coll.plugins.module_utils import _z\n'),
    ('plugins/plugin_utils/_c.py', 'from ansible_collections.netaudit.sockets.plugins.filter import f\n'),
    ('plugins/modules/m.py', PU % '_c'),
])
def test_an_import_from_a_higher_layer_is_found(tmp_path, path, text):
    files = dict(GOOD)
    files[path] = files[path] + text
    assert [bad[0] for bad in layer_violations(make_tree(tmp_path, files))] == [path]


def test_a_controller_only_file_among_host_code_is_found(tmp_path):
    files = dict(GOOD, **{'plugins/module_utils/_d.py': '', 'plugins/filter/f.py': GOOD['plugins/filter/f.py'] + MU % '_d'})
    assert unreached_host_files(make_tree(tmp_path, files)) == ['plugins/module_utils/_d.py']


def test_a_package_under_module_utils_counts_as_reached(tmp_path):
    files = dict(GOOD, **{'plugins/module_utils/_p/__init__.py': '', 'plugins/module_utils/_p/_q.py': '',
                          'plugins/module_utils/_b.py': 'from ..module_utils._p import _q\n'})
    assert unreached_host_files(make_tree(tmp_path, files)) == []


def test_a_cycle_is_found(tmp_path):
    files = dict(GOOD, **{'plugins/module_utils/_b.py': 'from ._a import x\n'})
    found = cycle(make_tree(tmp_path, files))
    assert found[0] == found[-1] and sorted(found[1:]) == ['plugins/module_utils/_a.py', 'plugins/module_utils/_b.py']


# A package of host code and one of controller code, each reached and without a cycle, their __init__.py a docstring.
DOC = '"""A package: what it holds, file by file."""\n'
PACKAGES = dict(GOOD, **{
    'plugins/module_utils/_b.py': 'from ansible_collections.netaudit.sockets.plugins.module_utils._p import first\n',
    'plugins/module_utils/_p/__init__.py': '# a licence header\n' + DOC,
    'plugins/module_utils/_p/first.py': 'from . import second\n',
    'plugins/module_utils/_p/second.py': 'from ansible_collections.netaudit.sockets.plugins.module_utils._p.third import x\n',
    'plugins/module_utils/_p/third.py': 'import os\n',
    'plugins/plugin_utils/_r/__init__.py': DOC,
    'plugins/plugin_utils/_r/one.py': 'from .two import y\nfrom ...module_utils._p.third import z\n',
    'plugins/plugin_utils/_r/two.py': '',
    'plugins/plugin_utils/_c.py': MU % '_b' + 'from ._r.one import y\n',
})


def test_a_good_tree_with_packages_passes(tmp_path):
    root = make_tree(tmp_path, PACKAGES)
    assert (layer_violations(root), unreached_host_files(root), cycle(root), package_problems(root)) == ([], [], None, [])
    assert 'plugins/module_utils/_p/third.py' in host_files(root)
    assert packages(root) == ['plugins/module_utils/_p', 'plugins/plugin_utils/_r']


def test_a_package_file_no_module_reaches_is_found(tmp_path):
    files = dict(PACKAGES, **{'plugins/module_utils/_p/fourth.py': '',
                              'plugins/plugin_utils/_r/two.py': 'from ...module_utils._p import fourth\n'})
    assert unreached_host_files(make_tree(tmp_path, files)) == ['plugins/module_utils/_p/fourth.py']


@pytest.mark.parametrize('path, text', [
    ('plugins/module_utils/_p/third.py', 'from . import first\n'),
    ('plugins/module_utils/_p/third.py', 'def late():\n    from .second import x\n'),
    ('plugins/module_utils/_p/third.py', 'import ansible_collections.netaudit.sockets.plugins.module_utils._p.first\n'),
    ('plugins/plugin_utils/_r/two.py', 'from .._r import one\n'),
])
def test_a_cycle_between_the_files_of_one_package_is_found(tmp_path, path, text):
    files = dict(PACKAGES)
    files[path] = files[path] + text
    found = cycle(make_tree(tmp_path, files))
    assert found is not None and found[0] == found[-1] and path in found
    assert set(os.path.dirname(step) for step in found) == {os.path.dirname(path)}


def test_a_host_package_file_that_imports_controller_code_is_found(tmp_path):
    files = dict(PACKAGES, **{'plugins/module_utils/_p/third.py': 'from ...plugin_utils._r import two\n'})
    assert layer_violations(make_tree(tmp_path, files)) == [('plugins/module_utils/_p/third.py',
                                                             PREFIX + 'plugins.plugin_utils._r.two')]


@pytest.mark.parametrize('package', ['plugins/module_utils/_p', 'plugins/plugin_utils/_r'])
@pytest.mark.parametrize('text', [
    'from .first import x\n',                                  # a re-export
    'from . import first\n',
    'import os\n',
    'NAMES = ("a", "b")\n',
    'def render():\n    return ""\n',
    'from __future__ import annotations\n',
    '__all__ = ()\n',
])
def test_code_in_a_package_init_is_found(tmp_path, package, text):
    files = dict(PACKAGES)
    files[package + '/__init__.py'] = DOC + text
    assert [bad[0] for bad in package_problems(make_tree(tmp_path, files))] == [package + '/__init__.py']


@pytest.mark.parametrize('package', ['plugins/module_utils/_p', 'plugins/plugin_utils/_r'])
def test_a_folder_without_init_is_found(tmp_path, package):
    files = dict((path, text) for path, text in PACKAGES.items() if path != package + '/__init__.py')
    assert package_problems(make_tree(tmp_path, files)) == [
        (package, 'a folder of Python files without __init__.py (not a package)')]
