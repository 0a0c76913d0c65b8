# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: socket_diff compares where a socket comes from (unit, container, package):
a restart of the same unit or container is not drift, a move to another is, with from and to; an origin unknown on
either side is "cannot tell", never drift (_snapshot_diff.py, the port_drift line, docs/drift.md).

The records are built here; the last tests gather a real listener twice, restarted (a new pid) in between, in a
cgroup named as systemd names a service's."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.netaudit.sockets.plugins.action import port_drift
from ansible_collections.netaudit.sockets.plugins.module_utils import _gather
from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record
from ansible_collections.netaudit.sockets.plugins.plugin_utils import _baseline_store, _snapshot_diff
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError

from support.cgroup_lab import Holder, holders, made_cgroups


def unit(name, manager='system', uid=None, service=None):
    return {'name': name, 'manager': manager, 'uid': uid, 'service': service}


def container(name, ident, runtime='docker', pod=None, namespace=None, inner=None):
    return {'runtime': runtime, 'id': ident, 'name': name, 'pod': pod, 'namespace': namespace, 'container': inner}


def package(name, manager='dpkg'):
    return {'name': name, 'manager': manager, 'path': '/usr/sbin/' + name}


def rec(port=8080, pid=100, name='nginx', unknown=None, **origin):
    """A listening record with the origin fields of a host that could tell them (origin_unknown {} unless given)."""
    record = new_record(netid='tcp', state='LISTEN', family='inet', local_address='0.0.0.0', local_port=port,
                        peer_address='0.0.0.0', peer_port=0, uid=0, user='root', inode=5000 + pid,
                        processes=[{'name': name, 'pid': pid, 'fd': 3}], owner_cgroups=[],
                        origin_unknown={} if unknown is None else unknown)
    record.update(origin)
    return record


def old(record):
    """The record as facts from before the origin fields: none of their keys."""
    return dict((key, value) for key, value in record.items()
                if key not in ('cgroup', 'owner_cgroups', 'unit', 'container', 'package', 'security_context',
                               'origin_unknown'))


def diff(before, after):
    return _snapshot_diff.socket_diff(before, after)


DOCKER_ID_A, DOCKER_ID_B = 'a' * 64, 'b' * 64


@pytest.mark.parametrize('before, after', [
    # the same unit, restarted: a new pid
    ([rec(pid=100, unit=unit('nginx.service'))], [rec(pid=4711, unit=unit('nginx.service'))]),
    # the same named container, recreated: a new id, and with it a new docker-ID.scope unit
    ([rec(unit=unit('docker-%s.scope' % DOCKER_ID_A), container=container('web', DOCKER_ID_A))],
     [rec(pid=200, unit=unit('docker-%s.scope' % DOCKER_ID_B), container=container('web', DOCKER_ID_B))]),
    # the same Kubernetes container (namespace/pod/container), restarted under a new container id
    ([rec(container=container('nginx', 'c1', 'containerd', 'web-0', 'default', 'nginx'))],
     [rec(pid=300, container=container('nginx', 'c2', 'containerd', 'web-0', 'default', 'nginx'))]),
    # a program started from a login session, again from another session: both transient scopes
    ([rec(unit=unit('session-3.scope'))], [rec(pid=9, unit=unit('session-57.scope'))]),
    # the same package, upgraded (the path and version are not compared)
    ([rec(unit=unit('ssh.service'), package=package('openssh-server'))],
     [rec(pid=7, unit=unit('ssh.service'), package=dict(package('openssh-server'), path='/usr/sbin/sshd.new'))]),
    # socket activation: systemd holds the socket, whatever happens to the service
    ([rec(name='systemd', pid=1, unit=unit('ssh.socket', service='ssh.service'))],
     [rec(name='systemd', pid=1, unit=unit('ssh.socket', service='ssh.service'))]),
    # packages not gathered in either snapshot: nothing to compare, nothing to say
    ([rec(unit=unit('a.service'), unknown={'package': 'not_gathered'})],
     [rec(pid=2, unit=unit('a.service'), unknown={'package': 'not_gathered'})]),
    # facts from before the origin fields on both sides compare as they always did
    ([old(rec())], [old(rec(pid=2))]),
])
def test_a_restart_of_the_same_origin_is_not_drift(before, after):
    result = diff(before, after)
    assert result['drift'] is False and result['changed'] == [] and result['unchanged'] == 1
    assert result['cannot_tell'] == []


@pytest.mark.parametrize('before, after, fields, source, target', [
    ([rec(unit=unit('nginx.service'))], [rec(pid=5, unit=unit('foo.service'))], ['unit'],
     'unit nginx.service', 'unit foo.service'),
    ([rec(unit=unit('docker-%s.scope' % DOCKER_ID_A), container=container('web', DOCKER_ID_A))],
     [rec(pid=5, unit=unit('foo.service'))], ['container', 'unit'], 'container web (docker)', 'unit foo.service'),
    ([rec(container=container('web', DOCKER_ID_A))], [rec(container=container('api', DOCKER_ID_B))], ['container'],
     'container web (docker)', 'container api (docker)'),
    ([rec(container=container('web', DOCKER_ID_A))], [rec(container=container('web', 'c9', 'podman'))], ['container'],
     'container web (docker)', 'container web (podman)'),
    ([rec(unit=unit('nginx.service'))], [rec(unit=None)], ['unit'], 'unit nginx.service', 'no unit or container'),
    ([rec(unit=unit('app.service', 'user', 1000))], [rec(unit=unit('app.service', 'user', 1001))], ['unit'],
     'unit app.service (user manager of uid 1000)', 'unit app.service (user manager of uid 1001)'),
    ([rec(unit=unit('session-3.scope'))], [rec(unit=unit('nginx.service'))], ['unit'],
     'unit session-3.scope', 'unit nginx.service'),
    ([rec(unit=unit('ssh.service'), package=package('openssh-server'))],
     [rec(unit=unit('ssh.service'), package=package('dropbear-bin'))], ['package'],
     'package openssh-server (dpkg)', 'package dropbear-bin (dpkg)'),
    ([rec(container=container('nginx', 'c1', 'containerd', 'web-0', 'default', 'nginx'))],
     [rec(container=container('nginx', 'c2', 'containerd', 'web-0', 'prod', 'nginx'))], ['container'],
     'container default/web-0/nginx (containerd)', 'container prod/web-0/nginx (containerd)'),
])
def test_a_move_is_drift_from_what_to_what(before, after, fields, source, target):
    result = diff(before, after)
    assert result['drift'] is True and [c['id'] for c in result['changed']] == ['tcp/8080']
    change = result['changed'][0]
    assert change['changes'] == ['origin']
    assert change['moved'] == {'fields': fields, 'from': source, 'to': target,
                               'text': 'tcp/8080 moved from %s to %s' % (source, target)}
    line = port_drift.drift_text(result)
    assert line == 'changed tcp/8080 (moved from %s to %s)' % (source, target)


def test_the_example_of_the_docs():
    result = diff([rec(unit=unit('docker-%s.scope' % DOCKER_ID_A), container=container('web', DOCKER_ID_A))],
                  [rec(pid=5, unit=unit('foo.service'))])
    assert result['changed'][0]['moved']['text'] == 'tcp/8080 moved from container web (docker) to unit foo.service'
    assert result['changed'][0]['before']['containers'] == ['web (docker)']
    assert result['changed'][0]['after']['units'] == ['foo.service']


@pytest.mark.parametrize('before, after, why', [
    # the host could not tell the unit now (the owner is not visible, say)
    ([rec(unit=unit('nginx.service'))], [rec(unit=None, unknown={'unit': 'not_visible'})],
     ['unit unknown in the current snapshot: not_visible']),
    ([rec(unit=None, unknown={'container': 'state_unreadable'})], [rec(container=container('web', DOCKER_ID_A))],
     ['container unknown in the baseline snapshot: state_unreadable']),
    # a container known only by its id on one side: recreated or replaced, the facts cannot say
    ([rec(container=container(None, DOCKER_ID_A))], [rec(container=container(None, DOCKER_ID_B))],
     ['container: a container without a name (only its id, which changes when it is recreated) in one snapshot']),
])
def test_unknown_on_one_side_is_cannot_tell_not_drift(before, after, why):
    result = diff(before, after)
    assert result['drift'] is False and result['changed'] == [] and result['unchanged'] == 1
    assert result['cannot_tell'] == [{'id': 'tcp/8080', 'kind': 'listening', 'why': why}]
    line = port_drift.summary('compared', result, '/b/h.json', '2026-12-01T00:00:00Z', False, 'auto')
    assert line.startswith('no drift since 2026-12-01T00:00:00Z (1 listening unchanged) [cannot tell whether these '
                           'moved to another unit, container or package (not counted as drift): ')
    assert line.endswith(': tcp/8080]')


def test_a_baseline_from_before_the_origin_fields_loads_and_compares_without_drift(tmp_path):
    """A baseline file written before the keys: read and checked as port_drift does, then compared with facts that
    have them: no drift; the line says the baseline cannot tell."""
    document = {'host': 'h1', 'recorded_at': '2026-11-25T17:33:12Z', 'options': {'tables': ['tcp']},
                'socket_meta': {'complete': True}, 'sockets': [old(rec(port=22, name='sshd', pid=712)), old(rec())]}
    _baseline_store.write_document(str(tmp_path), 'h1', document)
    _path, loaded = _baseline_store.read_document(str(tmp_path), 'h1')
    _snapshot_diff.check_snapshot(loaded['sockets'], 'sockets')
    current = [rec(port=22, name='sshd', pid=800, unit=unit('ssh.service')),
               rec(pid=4711, container=container('web', DOCKER_ID_A), unit=unit('docker-%s.scope' % DOCKER_ID_A))]
    result = diff(loaded, current)
    assert result['drift'] is False and result['unchanged'] == 2
    assert [item['id'] for item in result['cannot_tell']] == ['tcp/22', 'tcp/8080']
    assert all('the facts do not say' in why for item in result['cannot_tell'] for why in item['why'])
    # the other way round too: a current snapshot from an older module against a new baseline
    assert diff(current, loaded)['drift'] is False


@pytest.mark.parametrize('record, message', [
    (dict(rec(), unit=['ssh.service']), 'baseline[0].unit: expected an object or null, got a list'),
    (dict(rec(), unit={'name': 22}), 'baseline[0].unit.name: expected a string or null, got a value of type int'),
    (dict(rec(), container={'runtime': 'docker', 'name': ['web']}), 'baseline[0].container.name: expected a string'),
    (dict(rec(), package={'name': 'x', 'manager': 1}), 'baseline[0].package.manager: expected a string'),
    (dict(rec(), origin_unknown='all'), 'baseline[0].origin_unknown: expected an object or null, got a string'),
])
def test_bad_origin_values_are_named(record, message):
    with pytest.raises(PolicyError, match=message.replace('[', r'\[').replace(']', r'\]')):
        diff([record], [rec()])


HOSTILE = '\x1b[2J\u202eevil\u200b<b>|*`\udcff\n'


def test_hostile_origin_names_are_escaped_in_the_line():
    before = [rec(unit=unit(HOSTILE + '.service'))]
    after = [rec(container=container(HOSTILE, DOCKER_ID_A, runtime=HOSTILE))]
    result = diff(before, after)
    json.dumps(result)                                    # cleaned: encodes as JSON
    line = port_drift.drift_text(result)
    assert '\x1b' not in line and '\u202e' not in line and '\n' not in line and '\udcff' not in line
    assert 'moved from unit \\x1b[2J\\u202eevil\\u200b<b>|*`\\xff\\x0a.service to container ' in line


# --- real: a listener restarted between two gathers -----------------------------------------------------------

@pytest.fixture
def cgroup_lab():
    with made_cgroups() as lab:
        yield lab


def _listener(lab, place, port, name='drifter'):
    holder = Holder([{'label': 'l', 'family': 'inet', 'type': 'stream', 'address': '127.0.0.1', 'port': port,
                      'v6only': None, 'device': None}], name=name)
    lab.place(holder.pid, place)
    sockets = holder.open()
    return holder, sockets['l']['port']


def _gather_port(port):
    facts = _gather.gather(tables=['tcp'], listening=True, filter_text='sport = :%d' % port)
    assert facts['sockets'], 'the listener on port %d was not gathered' % port
    return facts


def test_real_listener_restarted_in_the_same_unit_is_not_drift(cgroup_lab):
    name = 'netaudit-drift-%d.service' % os.getpid()
    place = cgroup_lab.make('/system.slice/' + name)
    other = cgroup_lab.make('/system.slice/netaudit-moved-%d.service' % os.getpid())
    with holders() as made:
        first, port = _listener(cgroup_lab, place, 0)
        made.append(first)
        baseline = _gather_port(port)
        first.stop()
        second, _port = _listener(cgroup_lab, place, port)
        made.append(second)
        current = _gather_port(port)
        second.stop()
        third, _port = _listener(cgroup_lab, other, port)
        made.append(third)
        moved = _gather_port(port)
    pids = [[owner['pid'] for record in facts['sockets'] for owner in record['processes']]
            for facts in (baseline, current)]
    assert pids[0] and pids[1] and set(pids[0]).isdisjoint(pids[1])       # a real restart: a new pid
    assert [record['unit']['name'] for record in baseline['sockets']] == [name]
    assert [record['unit']['name'] for record in current['sockets']] == [name]
    result = _snapshot_diff.socket_diff(baseline, current, ephemeral=True)   # the port is what it was
    assert result['drift'] is False and result['unchanged'] == 1 and result['cannot_tell'] == [], result
    # and the same port from another unit is a move, named
    result = _snapshot_diff.socket_diff(baseline, moved, ephemeral=True)
    assert result['drift'] is True
    assert result['changed'][0]['moved']['text'] == 'tcp/%d moved from unit %s to unit netaudit-moved-%d.service' % (
        port, name, os.getpid())
