# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: which sockets listen, their stack and exposure, listening_ports (_listening.py)."""

from __future__ import annotations

import pytest

from ansible_collections.netaudit.sockets.plugins.plugin_utils import _listening
from ansible_collections.netaudit.sockets.plugins.plugin_utils._filter_args import PolicyError
from support.listening_records import (
    ALL, CUPS, CUPS6, ESTAB, ETH_DEV, LO_DEV, MAPPED, NS_SOCK, RAW, SSH4, SSH6_DUAL, SSH6_ONLY, SSH6_UNKNOWN, UNBOUND_UDP, UNIX,
    WEB, WEB6, listener,
)


# --- which sockets listen, and how ----------------------------------------------------------------------------

def test_listening_sockets_are_listen_and_bound_udp():
    found = _listening.listeners(ALL)
    assert [item.record for item in found] == [r for r in ALL if r not in (ESTAB, UNBOUND_UDP, RAW, UNIX)]


@pytest.mark.parametrize('record, stack, exposure, endpoint', [
    (SSH4, 'ipv4', 'all_interfaces', '0.0.0.0:22'),
    (SSH6_DUAL, 'dual', 'all_interfaces', '[::]:22'),
    (SSH6_ONLY, 'ipv6', 'all_interfaces', '[::]:2222'),
    (SSH6_UNKNOWN, 'dual', 'all_interfaces', '[::]:2223'),
    (CUPS, 'ipv4', 'loopback', '127.0.0.1:631'),
    (CUPS6, 'ipv6', 'loopback', '[::1]:631'),
    (MAPPED, 'ipv4', 'loopback', '[::ffff:127.0.0.1]:7000'),
    (WEB, 'ipv4', 'local_network', '10.0.0.5:8080'),
    (WEB6, 'ipv6', 'local_network', '[2001:db8::5]:8443'),
    (LO_DEV, 'ipv4', 'loopback', '0.0.0.0%lo:9090'),
    (ETH_DEV, 'ipv4', 'local_network', '0.0.0.0%eth0:9091'),
])
def test_listener_stack_and_exposure(record, stack, exposure, endpoint):
    item = listener(record)
    assert (item.stack, item.exposure, item.endpoint_text()) == (stack, exposure, endpoint)


def test_listener_summary():
    assert listener(WEB).summary() == {
        'id': 'tcp/8080@10.0.0.5', 'proto': 'tcp', 'family': 'inet', 'address': '10.0.0.5', 'port': 8080,
        'interface': None, 'endpoint': '10.0.0.5:8080', 'stack': 'ipv4', 'exposure': 'local_network', 'state': 'LISTEN',
        'processes': ['java'], 'pids': [1234, 1235], 'user': 'app', 'uid': 1001, 'netns': None, 'inode': 9080,
        'owner_unknown': None, 'unit': None, 'container': None, 'package': None,
        # facts from before the origin fields: the facts do not say any of them
        'origin_unknown': {'unit': 'not_said', 'container': 'not_said', 'package': 'not_said'}}
    assert listener(WEB).describe() == 'tcp 10.0.0.5:8080 (java pid 1234, java pid 1235, user app)'
    assert listener(NS_SOCK).describe() == 'tcp 0.0.0.0:80 in netns blue (nginx pid 300, user root)'


# --- listening_ports ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('with_address, with_family, expected', [
    (False, False, ['sctp/3868', 'tcp/22', 'tcp/80', 'tcp/631', 'tcp/2222', 'tcp/2223', 'tcp/7000', 'tcp/8080',
                    'tcp/8443', 'tcp/9090', 'tcp/9091', 'udp/53']),
    (False, True, ['sctp4/3868', 'tcp4/22', 'tcp46/22', 'tcp4/80', 'tcp4/631', 'tcp6/631', 'tcp6/2222', 'tcp46/2223',
                   'tcp4/7000', 'tcp4/8080', 'tcp6/8443', 'tcp4/9090', 'tcp4/9091', 'udp4/53']),
    (True, False, ['sctp/3868@0.0.0.0', 'tcp/22@0.0.0.0', 'tcp/22@[::]', 'tcp/80@0.0.0.0', 'tcp/631@127.0.0.1',
                   'tcp/631@[::1]', 'tcp/2222@[::]', 'tcp/2223@[::]', 'tcp/7000@[::ffff:127.0.0.1]', 'tcp/8080@10.0.0.5',
                   'tcp/8443@[2001:db8::5]', 'tcp/9090@0.0.0.0%lo', 'tcp/9091@0.0.0.0%eth0', 'udp/53@127.0.0.53']),
    (True, True, ['sctp4/3868@0.0.0.0', 'tcp4/22@0.0.0.0', 'tcp46/22@[::]', 'tcp4/80@0.0.0.0', 'tcp4/631@127.0.0.1',
                  'tcp6/631@[::1]', 'tcp6/2222@[::]', 'tcp46/2223@[::]', 'tcp4/7000@[::ffff:127.0.0.1]',
                  'tcp4/8080@10.0.0.5', 'tcp6/8443@[2001:db8::5]', 'tcp4/9090@0.0.0.0%lo', 'tcp4/9091@0.0.0.0%eth0',
                  'udp4/53@127.0.0.53']),
])
def test_listening_ports(with_address, with_family, expected):
    assert _listening.listening_ports(ALL, with_address, with_family) == expected


def test_listening_ports_input_forms():
    assert _listening.listening_ports({'sockets': [SSH4, SSH4, SSH6_DUAL]}) == ['tcp/22']
    assert _listening.listening_ports([]) == []
    assert _listening.listening_ports([SSH4], 'yes', 'no') == ['tcp/22@0.0.0.0']
    with pytest.raises(PolicyError) as caught:
        _listening.listening_ports([SSH4], with_address='sometimes')
    assert str(caught.value) == 'with_address: expected a boolean, got a string'
    with pytest.raises(PolicyError) as caught:
        _listening.listening_ports([SSH4, {'state': 'LISTEN'}])
    assert str(caught.value).startswith('sockets[1]: not a socket record: no "netid", "family"')
