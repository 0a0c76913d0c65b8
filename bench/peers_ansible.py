# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Ansible part of bench_peers.py: ad hoc runs inside a socket table's namespace, and the namespace fleet.

All runs use the ansible of the interpreter running this (.venv-bench: ansible-core plus the full `ansible` package
for community.general), a config file of ours (not the repository's ansible.cfg), and a collections path that
puts the repository first, so netaudit.sockets is the working tree (checked by `check_collections`).
  listeners   `ansible localhost -c local -m netaudit.sockets.socket_facts -a 'tables=tcp listening=true'` against
              `... -m community.general.listen_ports_facts` in a table of N TCP listeners
  records     `ansible localhost -c local -m netaudit.sockets.socket_facts -a tables=tcp` end to end (default
              callback, output read and dropped), the same with a stdout callback that shows nothing, and the
              module process alone: the AnsiballZ file of a run with ANSIBLE_KEEP_REMOTE_FILES, run directly by
              /usr/bin/python3 for its wall time and peak RSS
  fleet       ansible-playbook netaudit.sockets.audit (role port_audit, the example policy, port_audit_fail=false)
              against `ansible all -m setup`, same inventory and forks, on tests/fleet/fleet.py's namespace hosts
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time

from peers_measure import spawn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.cache', 'collections')
TARGET_PYTHON = '/usr/bin/python3'
# A stdout callback that shows nothing: the same run without the display of the result, to tell the two apart.
QUIET_CALLBACK = 'community.general.null'


class AnsibleBenchError(RuntimeError):
    """An Ansible run failed or returned other data than the table holds; the message says which."""


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def ansible_env(workdir, forks=20):
    """Environment for every ansible run: our config file, remote and local temporary files under workdir."""
    site = sysconfig.get_paths()['purelib']
    config = os.path.join(workdir, 'ansible.cfg')
    with open(config, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join([
            '# written by bench/peers_ansible.py', '[defaults]',
            'collections_path = %s:%s' % (COLLECTIONS, site),
            'host_key_checking = False', 'retry_files_enabled = False', 'forks = %d' % forks,
            'interpreter_python = %s' % TARGET_PYTHON,
            'remote_tmp = %s' % os.path.join(workdir, 'remote'), 'local_tmp = %s' % os.path.join(workdir, 'local'),
            '']))
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith('ANSIBLE_'))
    env.update(ANSIBLE_CONFIG=config, ANSIBLE_NOCOLOR='1', PATH=os.path.dirname(sys.executable) + ':' + env['PATH'])
    return env


def check_collections(env):
    """Where netaudit.sockets and community.general resolve from: {name: (version, path)}; netaudit.sockets must be
    the repository's."""
    found = {}
    for name in ('netaudit.sockets', 'community.general'):
        proc = subprocess.run([_bin('ansible-galaxy'), 'collection', 'list', name, '--format', 'json'],
                              env=env, capture_output=True, text=True, check=False)
        try:
            listing = json.loads(proc.stdout)
        except ValueError:
            listing = {}
        for path, collections in listing.items():
            if name in collections and name not in found:   # the first path that holds it is the one used
                found[name] = (collections[name].get('version'), path)
        if name not in found:
            raise AnsibleBenchError('%s is not on the collections path: %s' % (name, proc.stderr.strip()[-500:]))
    path = found['netaudit.sockets'][1]
    if os.path.realpath(os.path.join(path, 'netaudit', 'sockets')) != os.path.realpath(REPO):
        raise AnsibleBenchError('netaudit.sockets resolves to %s, not to this repository' % path)
    return found


def _adhoc(table, module, args=None):
    argv = [_bin('ansible'), 'localhost', '-i', 'localhost,', '-c', 'local', '-m', module,
            '-e', 'ansible_python_interpreter=%s' % TARGET_PYTHON]
    if args:
        argv += ['-a', args]
    return table.exec_argv(argv) if table else argv


def _shown(module, args=None):
    return 'ansible localhost -c local -m %s%s' % (module, " -a '%s'" % args if args else '')


def adhoc_facts(stdout):
    """ansible_facts from an ad hoc run's output (the default callback: `localhost | SUCCESS => {...}`)."""
    text = stdout.decode('utf-8', 'replace')
    head, found, body = text.partition(' => ')
    if not found or 'SUCCESS' not in head:
        raise AnsibleBenchError('the ad hoc run did not succeed: %s' % text[:1000])
    return json.loads(body)['ansible_facts']


def _timed_rounds(runners, repeat, budget=None, least=1):
    """Ansible runs take seconds: every run is timed, under GNU time (about 1 ms more) for its peak RSS, and the
    first run of each keeps its output for a check. runners: [(name, argv, env)]; budget: seconds after which no
    new round starts once `least` rounds are done. ({name: {ms, rss_kib}}, {name: stdout of its first run})."""
    runs, first = {}, {}
    started = time.monotonic()
    for number in range(repeat):
        if number >= least and budget is not None and time.monotonic() - started > budget:
            break
        for name, argv, env in runners:
            sample = spawn(argv, env, rss=True)
            first.setdefault(name, sample.stdout)
            runs.setdefault(name, {'ms': [], 'rss_kib': []})
            runs[name]['ms'].append(sample.seconds * 1000.0)
            runs[name]['rss_kib'].append(sample.maxrss_kib)
            sample = None
    return runs, first


def listeners(table, env, repeat, expected, budget=None):
    """socket_facts (tables=tcp listening=true) against listen_ports_facts, ad hoc, in a table of listeners, and
    `-m ping` (what any ad hoc run costs) for the floor."""
    ours = ('netaudit.sockets.socket_facts', 'tables=tcp listening=true')
    theirs = ('community.general.listen_ports_facts', None)
    runs, first = _timed_rounds([('ping', _adhoc(table, 'ping'), env), ('ours', _adhoc(table, *ours), env),
                                 ('theirs', _adhoc(table, *theirs), env)], repeat, budget)
    ours_count = len(adhoc_facts(first['ours'])['sockets'])
    facts = adhoc_facts(first['theirs'])
    theirs_count = len(facts['tcp_listen']) + len(facts['udp_listen'])
    if not ours_count == theirs_count == expected:
        raise AnsibleBenchError('at %d listeners socket_facts reported %d and listen_ports_facts %d'
                                % (expected, ours_count, theirs_count))
    return {'listeners': expected, 'runs': runs, 'ours_argv': _shown(*ours), 'theirs_argv': _shown(*theirs),
            'ping_argv': _shown('ping')}


def _fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def ansiballz(env, workdir):
    """The module's AnsiballZ file for `-a tables=tcp`, as ansible ships it to a host (args inside), made by a run
    with ANSIBLE_KEEP_REMOTE_FILES in the root namespace (its sockets do not matter: only the file is kept)."""
    remote = _fresh(os.path.join(workdir, 'remote'))
    spawn(_adhoc(None, 'netaudit.sockets.socket_facts', 'tables=tcp'), dict(env, ANSIBLE_KEEP_REMOTE_FILES='1'))
    found = glob.glob(os.path.join(remote, 'ansible-tmp-*', 'AnsiballZ_socket_facts.py'))
    if len(found) != 1:
        raise AnsibleBenchError('expected one AnsiballZ_socket_facts.py under %s, found %d' % (remote, len(found)))
    wrapper = os.path.join(workdir, 'AnsiballZ_socket_facts.py')
    shutil.copyfile(found[0], wrapper)
    shutil.rmtree(remote, ignore_errors=True)
    return wrapper


def module_records(stdout):
    """How many records the module's own output holds: in ansible_facts.sockets, or, when the action plugin asked
    for them packed (option compact_transfer), in the rows of the JSON text packed_sockets that the action decodes."""
    result = json.loads(stdout)
    if isinstance(result.get('packed_sockets'), str):
        return len(json.loads(result['packed_sockets'])['rows'])
    return len(result['ansible_facts']['sockets'])


def records(table, env, wrapper, repeat, expected, budget=None):
    """socket_facts returning every TCP socket: ad hoc end to end; the module process alone (the AnsiballZ file
    run directly by the target Python, stdout read by us as ansible would); the same ad hoc run with a stdout
    callback that shows nothing (what the display costs); `-m ping` for the floor."""
    module = ('netaudit.sockets.socket_facts', 'tables=tcp')
    quiet = dict(env, ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK=QUIET_CALLBACK)
    runs, first = _timed_rounds([('ping', _adhoc(table, 'ping'), env), ('end_to_end', _adhoc(table, *module), env),
                                 ('quiet', _adhoc(table, *module), quiet),
                                 ('module', table.exec_argv([TARGET_PYTHON, wrapper]), env)], repeat, budget)
    shown = len(adhoc_facts(first['end_to_end'])['sockets'])
    alone = module_records(first['module'])
    if not shown == alone == expected:
        raise AnsibleBenchError('socket_facts returned %d records end to end and %d alone; the table holds %d TCP '
                                'sockets' % (shown, alone, expected))
    return {'records': expected, 'runs': runs, 'module_output_bytes': len(first['module']),
            'shown_output_bytes': len(first['end_to_end']), 'end_to_end_argv': _shown(*module),
            'module_argv': '%s AnsiballZ_socket_facts.py' % TARGET_PYTHON, 'ping_argv': _shown('ping'),
            'quiet_callback': QUIET_CALLBACK}


def fleet(size, env, workdir, repeat, forks, log, budget=None):
    """The audit playbook (role port_audit) against `ansible all -m setup` on a fleet of `size` namespace hosts, and
    `ansible all -m netaudit.sockets.socket_facts -a listening=true` (the role's one remote task) for reference."""
    sys.path.insert(0, os.path.join(REPO, 'tests', 'fleet'))
    import fleet as fleet_lib   # pylint: disable=import-outside-toplevel,import-error
    reports = os.path.join(workdir, 'reports')
    with fleet_lib.Fleet(size=size, owner_pid=os.getpid()) as hosts:
        log('fleet %s up: %d hosts in %.1f s' % (hosts.run_id, size, hosts.timings['up']))
        fleet_env = dict(env, **hosts.env)
        common = ['-i', hosts.inventory, '-f', str(forks)]
        audit = [_bin('ansible-playbook'), 'netaudit.sockets.audit'] + common + [
            '-e', 'audit_hosts=all', '-e', 'audit_policy_file=example_policy.yml', '-e', 'port_audit_fail=false',
            '-e', 'port_audit_report_dir=%s' % reports]
        setup = [_bin('ansible'), 'all'] + common + ['-m', 'setup']
        facts = [_bin('ansible'), 'all'] + common + ['-m', 'netaudit.sockets.socket_facts', '-a', 'listening=true']
        # The warm-up opens the ssh masters that every run then reuses (ControlPersist), and checks every host.
        if _successes(spawn([_bin('ansible'), 'all'] + common + ['-m', 'ping'], fleet_env).stdout) != size:
            raise AnsibleBenchError('ping did not reach all %d hosts' % size)
        runs, first = _timed_rounds([('setup', setup, fleet_env), ('audit', audit, fleet_env),
                                     ('facts', facts, fleet_env)], repeat, budget, least=2)
        for name in ('setup', 'facts'):
            if _successes(first[name]) != size:
                raise AnsibleBenchError('%s succeeded on %d of %d hosts' % (name, _successes(first[name]), size))
        with open(os.path.join(reports, 'port-audit.json'), encoding='utf-8') as handle:
            summary = json.load(handle)['summary']
        if summary['hosts'] != size or summary['no_verdict']:
            raise AnsibleBenchError('the audit has verdicts for %d of %d hosts'
                                    % (summary['hosts'] - summary['no_verdict'], size))
        timings = dict(hosts.timings)
    return {'hosts': size, 'forks': forks, 'runs': runs, 'up_seconds': timings.get('up'),
            'audit_argv': 'ansible-playbook netaudit.sockets.audit -i INVENTORY -f %d -e audit_hosts=all '
                          '-e audit_policy_file=example_policy.yml -e port_audit_fail=false' % forks,
            'setup_argv': 'ansible all -i INVENTORY -f %d -m setup' % forks,
            'facts_argv': "ansible all -i INVENTORY -f %d -m netaudit.sockets.socket_facts -a 'listening=true'" % forks}


def _successes(stdout):
    return stdout.decode('utf-8', 'replace').count(' | SUCCESS =>')
