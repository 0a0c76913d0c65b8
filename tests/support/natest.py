# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: run real ansible from the project's venv, find the pyenv Pythons a managed host may run the module
with, and read the real ss."""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
COLLECTIONS = os.path.join(REPO, '.cache', 'collections')
# Where pyenv keeps its Pythons (the module is run with several of them). pyenv may be missing (a user other than
# the one it was installed for): then its usual places.
PYENV_ROOT = ((subprocess.run(['pyenv', 'root'], capture_output=True, text=True, check=False).stdout.strip() if shutil.which('pyenv') else '')
              or os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv'))


def pyenv_pythons(version='3'):
    """The interpreters of the pyenv Pythons VERSION.* ('3.8': every 3.8.x; '3': every 3.x), in the order of their
    paths."""
    return sorted(glob.glob(os.path.join(PYENV_ROOT, 'versions', version + '.*', 'bin', 'python')))


def pyenv_python(version):
    """The interpreter of the last pyenv Python VERSION.* ('3.8' -> .../versions/3.8.18/bin/python), or None."""
    found = pyenv_pythons(version)
    return found[-1] if found else None


def ansible_env(**extra):
    """Environment for ansible commands: the project's ansible.cfg and collections path, no stray config."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_HOST_KEY_CHECKING='False',
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_DEPRECATION_WARNINGS='False',
        # Discovery would find pyenv shims that fail; inventories and -e still override this.
        ANSIBLE_PYTHON_INTERPRETER='/usr/bin/python3',
        PATH=VENV_BIN + os.pathsep + env.get('PATH', ''),
    )
    env.update(extra)
    return env


def run_adhoc(pattern, module, args=None, inventory='localhost,', extra=(), env=None, timeout=120, wrap=None):
    """Run `ansible PATTERN -m MODULE -a ARGS` (WRAP(argv): the command line that runs it, such as
    scratch_netns.unshared's); return ({host: result}, CompletedProcess).

    Results come from ansible's tree callback, one JSON file per host, so the parsing does not depend on stdout.
    """
    tree = tempfile.mkdtemp(prefix='na-tree-')
    try:
        argv = [os.path.join(VENV_BIN, 'ansible'), pattern, '-i', inventory, '-m', module, '--tree', tree]
        if args:
            argv += ['-a', args]
        argv += list(extra)
        if wrap is not None:
            argv = wrap(argv)
        proc = subprocess.run(argv, env=env or ansible_env(), capture_output=True, text=True, timeout=timeout, check=False)
        results = {}
        for host in os.listdir(tree):
            with open(os.path.join(tree, host)) as handle:
                results[host] = json.load(handle)
        return results, proc
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def run_playbook(path, inventory='localhost,', extra=(), env=None, timeout=300):
    argv = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, path] + list(extra)
    return subprocess.run(argv, env=env or ansible_env(), capture_output=True, text=True, timeout=timeout, check=False)


def ansible_doc(kind, name):
    """The page `ansible-doc -t KIND NAME` prints with the project's environment, once it has rendered (exit 0)
    with no ERROR or WARNING."""
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-doc'), '-t', kind, name], env=ansible_env(),
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'ERROR' not in proc.stderr and 'WARNING' not in proc.stderr, proc.stderr
    return proc.stdout


def local_playbook(path, **play):
    """Write to PATH a playbook of one play on this machine (localhost, connection local, no fact gathering) with
    PLAY's keys (tasks, roles, vars ...); PATH as a string, for run_playbook."""
    with open(str(path), 'w', encoding='utf-8') as handle:
        handle.write(yaml.safe_dump([dict({'hosts': 'localhost', 'connection': 'local', 'gather_facts': False}, **play)]))
    return str(path)


def plugin_doc(relative, block):
    """A documentation block (DOCUMENTATION, EXAMPLES, RETURN) of the plugin file RELATIVE to plugins/, as YAML data:
    a module's string (the file is run up to its first module_utils import, so only its documentation is), or a
    filter's .yml sidecar (where EXAMPLES is YAML inside a string)."""
    path = os.path.join(REPO, 'plugins', relative)
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    if path.endswith('.yml'):
        value = yaml.safe_load(text)[block]
    else:
        namespace = {}
        exec(compile(text.split('from ansible.module_utils')[0], path, 'exec'), namespace)  # pylint: disable=exec-used
        value = namespace[block]
    return yaml.safe_load(value) if isinstance(value, str) else value


_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')
_INODE = re.compile(r'\bino:(\d+)')


def split_endpoint(text):
    """'[::ffff:1.2.3.4]:80' / '0.0.0.0:*' / '[fe80::1]%ifb0:22' / '*:22' -> (address, port, interface)."""
    host, port = text.rsplit(':', 1)
    interface = None
    if '%' in host:
        host, interface = host.split('%', 1)
    if host.startswith('[') and host.endswith(']'):
        host = host[1:-1]
    return host, (0 if port == '*' else int(port)), interface


def parse_ss(text):
    """Parse `ss -H -n -a [-e] [-p]` output with a Netid column into dicts.

    The address `*` stays `*`: ss prints it for both families' wildcard, so callers map it by family.
    """
    sockets = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        local, peer = split_endpoint(fields[4]), split_endpoint(fields[5])
        rest = ' '.join(fields[6:])
        inode = _INODE.search(rest)
        sockets.append({
            'netid': fields[0], 'state': fields[1], 'recv_q': int(fields[2]), 'send_q': int(fields[3]),
            'local_address': local[0], 'local_port': local[1], 'interface': local[2] or peer[2],
            'peer_address': peer[0], 'peer_port': peer[1],
            'inode': int(inode.group(1)) if inode else None,
            'processes': sorted((name, int(pid), int(fd)) for name, pid, fd in _USER.findall(rest)),
        })
    return sockets


def assert_owner_not_visible(facts, record):
    """The facts of one run that could not see the process owning `record` (a listener of the test, seen from a PID
    namespace of its own): the record says so, and so do the facts, naming the PID namespace."""
    assert record['processes'] == []
    assert record.get('owner_unknown') == 'not_visible'
    meta = facts['socket_meta']
    assert meta['complete'] is False
    assert any('PID namespace other than the initial one' in reason for reason in meta['incomplete_reasons']), meta
    assert '1 listening socket shows no owner (owner_unknown): 1 not visible to the module' in meta['incomplete_reasons']
    assert meta.get('owners_visible') is False
    assert meta.get('owners_unknown') == {'not_visible': 1}


def find_listener(sockets, port, inode):
    """The LISTEN records among SOCKETS (socket facts) of the socket with this port and inode."""
    return [r for r in sockets if r['local_port'] == port and r['inode'] == inode and r['state'] == 'LISTEN']
