# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible runs of socket_facts on this machine: socket_meta timing and count, the processes option, psutil
missing on the managed host, and the README's two routes to the short name, followed from outside the repository."""

import json
import os
import re
import shlex
import subprocess
import sys
import time

import pytest
import yaml
from ansible.module_utils.basic import missing_required_lib

from support.natest import COLLECTIONS, REPO, VENV_BIN, find_listener, parse_ss, pyenv_pythons, run_adhoc


def ss_owners(port, inode):
    """(name, pid, fd) of every owner of this listener, as the real `ss -p` shows them (-u too: parse_ss wants a Netid column)."""
    proc = subprocess.run(['ss', '-H', '-n', '-t', '-u', '-l', '-e', '-p', 'sport = :%d' % port],
                          capture_output=True, text=True, check=True, timeout=30)
    rows = [r for r in parse_ss(proc.stdout) if r['inode'] == inode]
    assert len(rows) == 1, proc.stdout
    return rows[0]['processes']


def own_comm():
    with open('/proc/self/comm') as handle:
        return handle.read().strip()


def python_without_psutil():
    """A managed-host Python (3.8+) on which `import psutil` fails, and its sys.executable; (None, None) if none."""
    candidates = pyenv_pythons('3') + ['/usr/bin/python3']
    for python in candidates:
        probe = subprocess.run([python, '-c', 'import sys; assert sys.version_info >= (3, 8); print(sys.executable)'],
                               capture_output=True, text=True, check=False, timeout=30)
        if probe.returncode != 0:
            continue
        if subprocess.run([python, '-c', 'import psutil'], capture_output=True, check=False, timeout=30).returncode != 0:
            return python, probe.stdout.strip()
    return None, None


def test_meta_elapsed_ms_and_count(listener):
    port, inode, _fd = listener
    started = time.monotonic()
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'listening=true', extra=['-c', 'local'])
    wall_ms = (time.monotonic() - started) * 1000.0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    meta = facts['socket_meta']
    elapsed = meta['elapsed_ms']
    assert isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool), repr(elapsed)
    assert 0 <= elapsed <= wall_ms, (elapsed, wall_ms)
    assert len(find_listener(facts['sockets'], port, inode)) == 1
    assert meta['count'] == len(facts['sockets'])


def test_processes_option(listener):
    port, inode, fd = listener
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'tables=all processes=false', extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sockets = results['localhost']['ansible_facts']['sockets']
    assert len(find_listener(sockets, port, inode)) == 1, 'the listener is gathered, only its owners are left out'
    assert [r for r in sockets if r['processes'] != []] == []

    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :%d"' % port, extra=['-c', 'local'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = find_listener(results['localhost']['ansible_facts']['sockets'], port, inode)
    assert len(found) == 1
    owners = sorted((p['name'], p['pid'], p['fd']) for p in found[0]['processes'])
    assert owners == [(own_comm(), os.getpid(), fd)]
    assert owners == ss_owners(port, inode)


def test_psutil_backend_on_a_python_without_psutil(monkeypatch, listener):
    python, executable = python_without_psutil()
    if python is None:
        pytest.skip('no Python 3.8+ without psutil on this machine')
    port, inode, _fd = listener
    extra = ['-c', 'local', '-e', 'ansible_python_interpreter=%s' % python]
    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'backend=psutil', extra=extra)
    assert proc.returncode != 0
    result = results['localhost']
    # Ansible's own wording, as the managed host's Python would produce it (it names that interpreter).
    monkeypatch.setattr(sys, 'executable', executable)
    assert result['msg'] == missing_required_lib('psutil')
    assert 'ansible_facts' not in result
    assert 'Traceback' not in json.dumps(result) + proc.stdout + proc.stderr

    results, proc = run_adhoc('localhost', 'netaudit.sockets.socket_facts', 'filter="sport = :%d"' % port, extra=extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = results['localhost']['ansible_facts']
    assert [r['inode'] for r in facts['sockets']] == [inode]
    assert facts['socket_meta']['backend'] == 'netlink'


def readme_short_name_section():
    with open(os.path.join(REPO, 'README.md')) as handle:
        text = handle.read()
    section = text.split('### The short name `socket_facts`', 1)[1].split('\n## ', 1)[0]
    return section


def outside_env(home, **extra):
    """A user's environment outside the repository: their own HOME, no ANSIBLE_* settings of this project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('ANSIBLE_')}
    env.update(HOME=str(home), PATH=VENV_BIN + os.pathsep + env.get('PATH', ''), ANSIBLE_NOCOLOR='1',
               ANSIBLE_DEPRECATION_WARNINGS='False',
               # The managed host's Python, not part of the route: discovery would find pyenv shims that fail.
               ANSIBLE_PYTHON_INTERPRETER='/usr/bin/python3')
    env.update(extra)
    return env


def run_outside(argv, cwd, env):
    return subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True, check=False, timeout=300)


def test_readme_route_play_collections_keyword(tmp_path, listener):
    port, inode, _fd = listener
    keyword = re.search(r'`(collections: [^`]+)`', readme_short_name_section()).group(1)
    assert yaml.safe_load(keyword) == {'collections': ['netaudit.sockets']}, keyword
    env = outside_env(tmp_path / 'home', ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    out = tmp_path / 'sockets.json'
    play = {'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
            'tasks': [{'socket_facts': {'listening': True}},
                      {'ansible.builtin.copy': {'content': "{{ ansible_facts['sockets'] | to_json }}", 'dest': str(out)}}]}
    without = tmp_path / 'without.yml'
    without.write_text(yaml.safe_dump([play]))
    proc = run_outside([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', 'localhost,', str(without)], tmp_path, env)
    assert proc.returncode != 0, 'without the keyword the short name must not resolve here'
    assert "couldn't resolve module/action 'socket_facts'" in proc.stdout + proc.stderr
    assert not out.exists()

    play.update(yaml.safe_load(keyword))
    playbook = tmp_path / 'site.yml'
    playbook.write_text(yaml.safe_dump([play]))
    proc = run_outside([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', 'localhost,', str(playbook)], tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(find_listener(json.loads(out.read_text()), port, inode)) == 1


def test_readme_route_library_link(tmp_path, listener):
    port, inode, _fd = listener
    block = re.search(r'```bash\n(.*?)```', readme_short_name_section(), re.S).group(1)
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    commands = [line for line in lines if not line.startswith('ansible ')]
    adhoc = [shlex.split(line) for line in lines if line.startswith('ansible ')]
    assert len(adhoc) == 1 and '-m' in adhoc[0] and adhoc[0][adhoc[0].index('-m') + 1] == 'socket_facts', lines
    home = tmp_path / 'home'
    # Stands in for the README's `ansible-galaxy collection install .`: the collection at the default path.
    installed = home / '.ansible' / 'collections' / 'ansible_collections' / 'netaudit'
    installed.mkdir(parents=True)
    os.symlink(REPO, str(installed / 'sockets'))
    env = outside_env(home)
    tree = tmp_path / 'tree'
    argv = [os.path.join(VENV_BIN, 'ansible')] + adhoc[0][1:] + ['-i', 'localhost,', '-c', 'local', '--tree', str(tree)]

    proc = run_outside(argv, tmp_path, env)
    assert proc.returncode != 0, 'before the link the short name must not resolve here'
    assert 'socket_facts' in proc.stdout + proc.stderr

    for command in commands:
        done = run_outside(['bash', '-ec', command], tmp_path, env)
        assert done.returncode == 0, (command, done.stderr)
    proc = run_outside(argv, tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(str(tree / 'localhost')) as handle:
        facts = json.load(handle)['ansible_facts']
    assert len(find_listener(facts['sockets'], port, inode)) == 1
