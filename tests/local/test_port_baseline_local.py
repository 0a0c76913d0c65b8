# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ansible-playbook runs of the port_baseline role (and its port_drift action) on this machine.

Hostile inputs are real: inventory names that climb out of the folder, baselines that are FIFOs, links to
/dev/zero or to files elsewhere, malformed JSON records, a folder shared with mode 1777, a process that names
itself with terminal escape codes (prctl) and holds a listener. The oracles are the file system (paths, modes,
inodes), the saved port_baseline_result and ansible's own output."""

import hashlib
import json
import os
import re
import socket
import stat
import subprocess

import pytest
import yaml

from support.natest import REPO, VENV_BIN, ansible_doc, ansible_env, local_playbook, plugin_doc, run_playbook

HOSTILE = os.path.join(REPO, 'tests', 'support', 'hostile.py')
CONTROL = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f]')


def _save(failed):
    """A task that saves the host's result and failure message (or none) for Run."""
    return {'name': 'Save the result', 'ansible.builtin.copy': {
        'content': '{{ {"result": port_baseline_result | default(none), "failed": %s} | to_json }}' % failed,
        'dest': '{{ results_dir }}/{{ inventory_hostname | hash("sha1") }}.json', 'mode': '0600'},
        'delegate_to': 'localhost'}


# The role inside a block, so that each host's result and failure message are saved even when the role fails the
# host; the rescue fails it again.
PLAYBOOK = [{
    'name': 'Baseline', 'hosts': 'all', 'gather_facts': False,
    'tasks': [{'name': 'Run the role and keep its result', 'block': [
        {'name': 'Include port_baseline', 'ansible.builtin.include_role': {'name': 'netaudit.sockets.port_baseline'}},
        _save('none'),
    ], 'rescue': [
        _save('ansible_failed_result.msg'),
        {'name': 'Fail again', 'ansible.builtin.fail': {'msg': 'the role failed the host'}},
    ]}],
}]


def free_ports(count):
    """TCP ports below the ephemeral range that nothing listens on (socket_diff names such a listener by port)."""
    probes, ports = [], []
    try:
        for port in range(24000 + os.getpid() % 4000, 32000):
            probe = socket.socket()
            try:
                probe.bind(('0.0.0.0', port))
            except OSError:
                probe.close()
                continue
            probes.append(probe)
            ports.append(port)
            if len(ports) == count:
                return ports
    finally:
        for probe in probes:
            probe.close()
    raise RuntimeError('no free ports')


class Run(object):
    """One ansible-playbook run of the role over local hosts; results by inventory name."""

    def __init__(self, tmp_path, hosts, umask=None, timeout=300, **role_vars):
        self.results_dir = tmp_path / ('results-%d' % len(list(tmp_path.glob('results-*'))))
        self.results_dir.mkdir()
        inventory = tmp_path / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': dict(
            (name, dict({'ansible_connection': 'local', 'ansible_python_interpreter': '/usr/bin/python3'},
                        **(hostvars or {})))
            for name, hostvars in (hosts.items() if isinstance(hosts, dict) else ((h, None) for h in hosts)))}}))
        playbook = tmp_path / 'baseline.yml'
        playbook.write_text(yaml.safe_dump(PLAYBOOK))
        role_vars.setdefault('port_baseline_dir', str(tmp_path / 'baselines'))
        extra = dict(role_vars, results_dir=str(self.results_dir))
        argv = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', str(inventory), str(playbook), '-e', json.dumps(extra)]
        if umask is not None:
            argv = ['sh', '-c', 'umask %03o && exec "$@"' % umask, 'sh'] + argv
        self.proc = subprocess.run(argv, env=ansible_env(), capture_output=True, text=True, timeout=timeout, check=False)
        self.output = self.proc.stdout + self.proc.stderr
        self.results, self.failures = {}, {}
        names = hosts if isinstance(hosts, dict) else dict((h, None) for h in hosts)
        for name in names:
            path = self.results_dir / (hashlib.sha1(name.encode('utf-8')).hexdigest() + '.json')
            if path.exists():
                saved = json.loads(path.read_text())
                self.results[name], self.failures[name] = saved['result'], saved['failed']


def record(tmp_path, hosts=('localhost',), **role_vars):
    """Record baselines of nothing much (one port that nothing listens on): a quick, stable baseline."""
    role_vars.setdefault('port_baseline_filter', 'sport = :1')
    run = Run(tmp_path, hosts, **role_vars)
    assert run.proc.returncode == 0, run.output
    return run


# --- item 8: host names that would leave the folder -----------------------------------------------------------

def test_host_names_never_leave_the_baseline_folder(tmp_path):
    folder = tmp_path / 'a' / 'b' / 'baselines'
    hosts = ['../../escaped', '..', '.hidden', 'web-01.example.com', 'h1', 'we b/ü%']
    run = record(tmp_path, hosts, port_baseline_dir=str(folder))
    expected = {'%2E.%2F..%2Fescaped.json': '../../escaped', '%2E..json': '..', '%2Ehidden.json': '.hidden',
                'web-01.example.com.json': 'web-01.example.com', 'h1.json': 'h1',
                'we%20b%2F%C3%BC%25.json': 'we b/ü%'}
    assert sorted(os.listdir(folder)) == sorted(expected)
    # Nothing anywhere else below tmp_path but the folder, the inventory, the playbook and the results.
    for dirpath, _dirs, files in os.walk(tmp_path):
        for name in files:
            path = os.path.join(dirpath, name)
            assert path.startswith(str(folder) + os.sep) or 'results-' in path or name in ('inventory.yml', 'baseline.yml'), path
    for name, host in expected.items():
        stored = json.loads((folder / name).read_text())
        assert stored['host'] == host
        assert run.results[host]['baseline'] == str(folder / name)


# --- item 7: malformed baselines, named; the size limit ---------------------------------------------------------

GOOD = {'netid': 'tcp', 'state': 'LISTEN', 'family': 'inet', 'local_address': '0.0.0.0', 'local_port': 22,
        'peer_address': '0.0.0.0', 'peer_port': 0, 'processes': [{'name': 'sshd', 'pid': 1, 'fd': 3}],
        'user': 'root', 'uid': 0}
MALFORMED = {
    # host: (file content, the message after "baseline for HOST (FILE): ")
    'proc-list': ({'sockets': [GOOD, dict(GOOD, processes=[{'name': ['x']}])]},
                  'sockets[1].processes[0].name: expected a string or null, got a list'),
    'proc-plain': ({'sockets': [dict(GOOD, processes=[['sshd']])]},
                   'sockets[0].processes[0]: expected a process (a dict with a name), got a list'),
    'address-list': ({'sockets': [dict(GOOD, local_address=['0.0.0.0'])]},
                     'sockets[0].local_address: expected a string or null, got a list'),
    'port-list': ({'sockets': [GOOD, GOOD, GOOD, dict(GOOD, local_port=[22])]},
                  'sockets[3].local_port: expected an integer or null, got a list'),
    'user-dict': ({'sockets': [dict(GOOD, user={'a': 1})]}, 'sockets[0].user: expected a string or null, got a dict'),
    'netns-list': ({'sockets': [dict(GOOD, netns=['a'])]}, 'sockets[0].netns: expected a string or null, got a list'),
    'no-state': ({'sockets': [dict((k, v) for k, v in GOOD.items() if k != 'state')]},
                 'sockets[0]: not a socket record: no "state"'),
    'not-a-record': ({'sockets': ['tcp/22']}, 'sockets[0]: expected a socket record (a dict), got a string'),
    'sockets-dict': ({'sockets': {'a': 1}}, 'sockets: expected a list, got an object'),
    'no-sockets': ({'host': 'x'}, 'sockets: missing'),
    'top-list': ([GOOD], 'expected a JSON object with "sockets"'),
    'date-list': ({'sockets': [], 'recorded_at': [1]}, 'recorded_at: expected a string or null, got a list'),
    'not-json': ('{"sockets": [', 'not JSON: Expecting value: line 1 column 14'),
    'deep': ('[' * 100000 + ']' * 100000, 'not a baseline: JSON nested too deeply'),
    'latin1': (b'{"sockets": [], "host": "\xe9"}', 'not UTF-8 text (byte 25)'),
}


def test_malformed_baselines_fail_with_the_host_file_key_and_problem(tmp_path):
    folder = tmp_path / 'baselines'
    folder.mkdir()
    for host, (content, _message) in MALFORMED.items():
        data = content if isinstance(content, bytes) else content.encode() if isinstance(content, str) else json.dumps(content).encode()
        (folder / (host + '.json')).write_bytes(data)
    run = Run(tmp_path, list(MALFORMED), port_baseline_filter='sport = :1')
    assert run.proc.returncode != 0
    for host, (_content, message) in MALFORMED.items():
        failure = run.failures[host]
        assert failure.startswith('baseline for %s (%s): %s' % (host, folder / (host + '.json'), message)), failure
        assert run.results[host] is None
    for text in ('unhashable', 'Lazy', 'Traceback', 'concatenate'):
        assert text not in run.output


def test_a_baseline_over_the_size_limit_is_not_read(tmp_path):
    folder = tmp_path / 'baselines'
    folder.mkdir()
    big = {'host': 'big', 'sockets': [GOOD] * 200}
    (folder / 'big.json').write_text(json.dumps(big))
    size = (folder / 'big.json').stat().st_size
    (folder / 'sparse.json').write_bytes(b'')
    os.truncate(str(folder / 'sparse.json'), 3 << 30)          # 3 GiB, sparse
    run = Run(tmp_path, ['big', 'sparse'], port_baseline_max_size=4096, port_baseline_filter='sport = :1', timeout=120)
    assert run.failures['big'] == ('baseline for big (%s): is %s (%d bytes), more than port_baseline_max_size, 4 KiB '
                                   '(4096 bytes); it is not read' % (folder / 'big.json', '%.1f KiB' % (size / 1024.0), size)
                                   ).replace('.0 KiB', ' KiB')
    assert run.failures['sparse'].startswith('baseline for sparse (%s): is 3 GiB (3221225472 bytes), more than '
                                             'port_baseline_max_size' % (folder / 'sparse.json'))
    # What is over the limit is not written either: the next baseline could not be read back.
    written = Run(tmp_path, ['fresh'], port_baseline_max_size=200, port_baseline_filter='sport = :1')
    assert 'more than port_baseline_max_size, 200 bytes, and could not be read back; it is not written' in \
        written.failures['fresh']
    assert not (folder / 'fresh.json').exists()


# --- item 8: files that are not regular files -------------------------------------------------------------------

def test_fifos_devices_and_links_in_place_of_a_baseline_are_not_followed(tmp_path):
    folder = tmp_path / 'baselines'
    folder.mkdir()
    outside = tmp_path / 'outside.json'
    outside.write_text(json.dumps({'host': 'x', 'sockets': []}))
    os.mkfifo(str(folder / 'fifo.json'))
    os.symlink('/dev/zero', str(folder / 'zero.json'))
    os.symlink(str(outside), str(folder / 'link.json'))
    os.mknod(str(folder / 'device.json'), 0o600 | stat.S_IFCHR, os.makedev(1, 5))     # what /dev/zero is
    (folder / 'folder.json').mkdir()
    run = Run(tmp_path, ['fifo', 'zero', 'link', 'device', 'folder'], port_baseline_filter='sport = :1', timeout=120)
    where = 'baseline for %%s (%s/%%s.json): ' % folder
    assert run.failures['fifo'] == where % ('fifo', 'fifo') + 'is a FIFO, not a regular file; it is not read'
    assert run.failures['device'] == where % ('device', 'device') + 'is a device, not a regular file; it is not read'
    assert run.failures['folder'] == where % ('folder', 'folder') + 'is a folder, not a regular file; it is not read'
    for host in ('zero', 'link'):
        assert run.failures[host] == where % (host, host) + (
            'is a symbolic link; a baseline must be a regular file, links are not followed')
    # Nothing was written through the link, and the planted entries are as they were.
    assert json.loads(outside.read_text()) == {'host': 'x', 'sockets': []}
    assert stat.S_ISFIFO(os.lstat(str(folder / 'fifo.json')).st_mode)
    assert os.readlink(str(folder / 'zero.json')) == '/dev/zero'


# --- item 8: record or compare; a missing baseline -------------------------------------------------------------

def test_a_deleted_baseline_fails_a_compare_run_and_is_not_re_recorded(tmp_path):
    record(tmp_path)
    baseline = tmp_path / 'baselines' / 'localhost.json'
    baseline.unlink()
    failing = Run(tmp_path, ['localhost'], port_baseline_filter='sport = :1', port_baseline_fail_on_drift=True)
    assert failing.proc.returncode != 0, failing.output
    result = failing.results['localhost']
    assert (result['action'], result['drift']) == ('missing', False)
    assert result['summary'] == ('no baseline to compare with: %s is missing, and it is not recorded because '
                                 'port_baseline_fail_on_drift is true (record it with port_baseline_mode=record)' % baseline)
    assert failing.failures['localhost'] == result['summary']
    assert not baseline.exists()
    # port_baseline_mode=compare fails without fail_on_drift too.
    compare = Run(tmp_path, ['localhost'], port_baseline_filter='sport = :1', port_baseline_mode='compare')
    assert compare.proc.returncode != 0 and compare.results['localhost']['action'] == 'missing'
    assert 'because port_baseline_mode is compare' in compare.failures['localhost']
    assert not baseline.exists()
    # auto without fail_on_drift records it, and says that there was none.
    auto = Run(tmp_path, ['localhost'], port_baseline_filter='sport = :1')
    assert auto.proc.returncode == 0, auto.output
    assert auto.results['localhost']['action'] == 'recorded'
    assert auto.results['localhost']['summary'].startswith('no baseline yet: baseline recorded in %s (0 listening)'
                                                           % baseline)
    # record rewrites it (updated), compare leaves it alone, both pass.
    before = baseline.stat().st_ino
    updated = Run(tmp_path, ['localhost'], port_baseline_filter='sport = :1', port_baseline_mode='record',
                  port_baseline_fail_on_drift=True)
    assert updated.proc.returncode == 0 and updated.results['localhost']['action'] == 'updated'
    assert baseline.stat().st_ino != before          # a new file renamed into place
    assert [p.name for p in baseline.parent.iterdir()] == ['localhost.json']        # no temporary file left
    inode = baseline.stat().st_ino
    compared = Run(tmp_path, ['localhost'], port_baseline_filter='sport = :1', port_baseline_mode='compare',
                   port_baseline_fail_on_drift=True)
    assert compared.proc.returncode == 0 and compared.results['localhost']['action'] == 'compared'
    assert baseline.stat().st_ino == inode


# --- item 8: modes of the folder and the files ------------------------------------------------------------------

@pytest.mark.parametrize('umask, role_vars, dir_mode, file_mode', [
    (0o022, {}, 0o755, 0o644),
    (0o077, {}, 0o700, 0o600),
    (0o027, {}, 0o750, 0o640),
    (0o077, {'port_baseline_dir_mode': '0711', 'port_baseline_file_mode': '0604'}, 0o711, 0o604),
])
def test_new_folder_and_file_modes_follow_the_umask_or_the_variables(tmp_path, umask, role_vars, dir_mode, file_mode):
    folder = tmp_path / 'new' / 'baselines'
    record(tmp_path, port_baseline_dir=str(folder), umask=umask, **role_vars)
    assert stat.S_IMODE(os.stat(str(folder)).st_mode) == dir_mode
    assert stat.S_IMODE(os.stat(str(folder / 'localhost.json')).st_mode) == file_mode


def test_an_existing_shared_folder_keeps_its_mode(tmp_path):
    folder = tmp_path / 'shared'
    folder.mkdir()
    os.chmod(str(folder), 0o1777)
    record(tmp_path, port_baseline_dir=str(folder), port_baseline_dir_mode='0700')
    assert stat.S_IMODE(os.stat(str(folder)).st_mode) == 0o1777
    assert (folder / 'localhost.json').is_file()


# --- item 4: host data in the line -----------------------------------------------------------------------------

@pytest.fixture()
def hostile_listener():
    """A real process named with terminal escape codes (prctl PR_SET_NAME) listening on a free TCP port."""
    procs = []

    def start(name, port):
        proc = subprocess.Popen(['/usr/bin/python3', HOSTILE, 'listen', json.dumps({'name': name.hex(), 'tcp': [port]})],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == b'ready', proc.stderr.read()
        return proc
    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_escape_codes_in_a_process_name_are_shown_escaped(tmp_path, hostile_listener):
    ports = free_ports(2)
    selector = 'sport = :%d or sport = :%d' % tuple(ports)
    record(tmp_path, port_baseline_filter=selector)
    hostile_listener(b'\x1b[2J\x1b[8m', ports[0])         # clear the screen, then conceal what follows
    hostile_listener(b'\x1b]0;pwn\x07\xff', ports[1])     # set the terminal title; a byte that is not UTF-8
    for role_vars in ({}, {'port_baseline_fail_on_drift': True}):
        run = Run(tmp_path, ['localhost'], port_baseline_filter=selector, **role_vars)
        summary = run.results['localhost']['summary']
        assert summary.startswith('drift since ')
        assert 'opened tcp/%d (\\x1b[2J\\x1b[8m), tcp/%d (\\x1b]0;pwn\\x07\\xff)' % tuple(ports) in summary, summary
        assert not CONTROL.search(summary), repr(summary)
        assert not CONTROL.search(run.output.replace('\n', '')), repr(run.output)
        if role_vars:
            assert run.proc.returncode != 0 and run.failures['localhost'] == summary
    # The baseline itself keeps the data as the host sent it (JSON escapes it).
    updated = Run(tmp_path, ['localhost'], port_baseline_filter=selector, port_baseline_mode='record')
    stored = json.loads((tmp_path / 'baselines' / 'localhost.json').read_text())
    assert updated.proc.returncode == 0
    assert sorted(p['name'] for r in stored['sockets'] for p in r['processes'])[0] == '\x1b[2J\x1b[8m'


# --- the action's documented examples ---------------------------------------------------------------------------

def test_port_drift_examples_run(tmp_path):
    tasks = plugin_doc('modules/port_drift.py', 'EXAMPLES')
    for task in tasks:
        if 'netaudit.sockets.port_drift' in task:
            task['netaudit.sockets.port_drift']['filter'] = 'sport = :1'
    proc = run_playbook(local_playbook(tmp_path / 'examples.yml', tasks=tasks))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / 'port_baselines' / 'localhost.json').is_file()
    assert 'no baseline yet: baseline recorded in ' in proc.stdout


def test_ansible_doc_renders_the_action_and_the_role():
    pages = (('module', 'netaudit.sockets.port_drift', ['OPTIONS', 'EXAMPLES', 'RETURN VALUES', 'max_size']),
             ('role', 'netaudit.sockets.port_baseline', ['port_baseline_mode', 'port_baseline_max_size', 'port_baseline_dir_mode']))
    for kind, name, words in pages:
        page = ansible_doc(kind, name)
        for word in words:
            assert word in page, word


# --- issue 14: where a socket comes from -------------------------------------------------------------------------

def _without_origin(path):
    """Rewrite a baseline as one recorded before the origin fields: no unit, container, package, origin_unknown..."""
    document = json.loads(path.read_text())
    for record in document['sockets']:
        for key in ('cgroup', 'owner_cgroups', 'unit', 'container', 'package', 'security_context', 'origin_unknown'):
            record.pop(key, None)
    path.write_text(json.dumps(document))


def test_a_listener_restarted_is_not_drift_and_old_baselines_cannot_tell(tmp_path, hostile_listener):
    """A real listener recorded with packages, killed and started again (a new pid): no drift and nothing it cannot
    tell; the same baseline without the origin fields (as an older version wrote it): no drift, "cannot tell"."""
    [port] = free_ports(1)
    selector = 'sport = :%d' % port
    first = hostile_listener(b'drifter', port)
    record(tmp_path, port_baseline_filter=selector, port_baseline_packages=True)
    stored = json.loads((tmp_path / 'baselines' / 'localhost.json').read_text())
    [recorded] = stored['sockets']
    assert 'origin_unknown' in recorded and 'package' not in recorded['origin_unknown'], recorded
    assert stored['options']['packages'] is True
    first.kill()
    first.wait(timeout=10)
    second = hostile_listener(b'drifter', port)
    assert second.pid != first.pid
    run = Run(tmp_path, ['localhost'], port_baseline_filter=selector, port_baseline_packages=True)
    result = run.results['localhost']
    assert run.proc.returncode == 0, run.output
    assert result['summary'].endswith('(1 listening unchanged)'), result['summary']
    assert result['drift'] is False and result['cannot_tell'] == [] and result['changed'] == []
    # without packages now: the baseline knows them, the facts do not: not drift, "cannot tell"
    run = Run(tmp_path, ['localhost'], port_baseline_filter=selector)
    summary = run.results['localhost']['summary']
    assert run.results['localhost']['drift'] is False, summary
    assert ('[cannot tell whether these moved to another unit, container or package (not counted as drift): package '
            'unknown in the current snapshot: not gathered: tcp/%d]' % port) in summary, summary
    # a baseline from before the origin fields
    _without_origin(tmp_path / 'baselines' / 'localhost.json')
    run = Run(tmp_path, ['localhost'], port_baseline_filter=selector, port_baseline_packages=True)
    summary = run.results['localhost']['summary']
    assert run.proc.returncode == 0 and run.results['localhost']['drift'] is False, summary
    assert summary.startswith('no drift since ') and 'the facts do not say' in summary and 'tcp/%d]' % port in summary
