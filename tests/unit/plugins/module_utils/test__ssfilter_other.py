# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets tests: unix:, link:, netlink: and vsock: conditions (and autobound, dev, ports) on
the records _netlink.families makes, as ss 6.1's userspace check judges them (the live comparison is in
test__netlink_families_live.py; vsock has no live oracle on kernels without vsock_diag, so it is pinned here)."""

from __future__ import annotations

import sys

import pytest

from ansible_collections.netaudit.sockets.plugins.module_utils._records import new_record
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter import ssfilter, values
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.errors import FilterError
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.record_view import View
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.values import other_address_value


def unix(name, inode, peer_inode=0, peer='', state='ESTAB', netid='u_str'):
    record = new_record(netid=netid, state=state, family='unix', local_address=name, local_port=None,
                        peer_address=peer, peer_port=peer_inode, inode=inode, recv_q=0, send_q=0)
    record['_ifindex'] = 0
    return record


def packet(protocol_text, ifindex, inode, netid='p_raw', interface=None):
    record = new_record(netid=netid, state='UNCONN', family='link', local_address=protocol_text, local_port=ifindex,
                        peer_address='', peer_port=0, interface=interface, inode=inode)
    record['_ifindex'] = ifindex
    return record


def netlink(protocol, portid, inode, peer='', peer_port=0):
    record = new_record(netid='nl', state='UNCONN', family='netlink', local_address=str(protocol), local_port=portid,
                        peer_address=peer, peer_port=peer_port, inode=inode)
    record['_ifindex'] = 0
    return record


def vsock(cid, port, peer_cid, peer_port, inode, state='LISTEN', netid='v_str'):
    record = new_record(netid=netid, state=state, family='vsock', local_address=cid, local_port=port,
                        peer_address=peer_cid, peer_port=peer_port, inode=inode)
    record['_ifindex'] = 0
    return record


UNIX = [
    unix('/run/Api.sock', 1, state='LISTEN', netid='u_str'),
    unix('/run/Api.sock', 2, peer_inode=3),
    unix('', 3, peer_inode=2, peer='/run/Api.sock'),
    unix('@8d25f', 4, state='UNCONN', netid='u_dgr'),
    unix('@8D25F', 5, state='UNCONN', netid='u_dgr'),          # upper case: not what the kernel autobinds
    unix('@abs@tract', 6, state='LISTEN'),
    unix('', 7, state='UNCONN'),
    unix('/run/br[1].sock', 8, state='UNCONN', netid='u_dgr'),
]
PACKET = [
    packet('*', 0, 11), packet('[2048]', 1, 12, netid='p_dgr', interface='lo'), packet('[0]', 0, 13),
    packet('[0]', 1, 14, interface='lo'), packet('[34525]', 0, 15), packet('[2054]', 3, 16, interface='eth1'),
]
NETLINK = [
    netlink(0, 0, 21), netlink(0, 4242, 22), netlink(0, -1918719028, 23), netlink(2, 778, 24, peer='0', peer_port=777),
    netlink(15, 50000, 25), netlink(16, 0, 26), netlink(4, 0, 27),
]
VSOCK = [
    vsock('*', 1234, '*', -1, 31), vsock('2', 5000, '3', 1024, 32, state='ESTAB'),
    vsock('3', 1024, '2', 5000, 33, state='ESTAB'), vsock('*', 80, '*', -1, 34, netid='v_dgr', state='UNCONN'),
    vsock('2', -1, '*', -1, 35, state='UNCONN'),
]


def selected(text, records, table):
    return sorted(r['inode'] for r in ssfilter.parse(text, tables=(table,)).select(records))


@pytest.mark.parametrize('text, inodes', [
    ('src unix:/run/*', [1, 2, 8]), ('src unix:/RUN/API.SOCK', [1, 2]), ('src unix:*api*', [1, 2]),
    ('src unix:', [3, 7]), ('src unix:@*', [4, 5, 6]), ('src unix:@abs?tract', [6]),
    ('src unix:/run/br[1].sock', []), ('src unix:/run/br\\\\\\[1\\\\\\].sock', [8]), ('src unix:/run/[!a]*', [8]),
    # live ss never learns a peer's name: dst globs see ""
    ('dst unix:/run/*', []), ('dst unix:', [1, 2, 3, 4, 5, 6, 7, 8]), ('dst unix:*', [1, 2, 3, 4, 5, 6, 7, 8]),
    # ports are inodes; the peer port is the peer's inode
    ('sport = :2', [2]), ('dport = :2', [3]), ('dport = 0', [1, 4, 5, 6, 7, 8]), ('sport > 5', [6, 7, 8]),
    ('dport >= 1', [2, 3]),
    ('autobound', [3, 4, 7]), ('not autobound', [1, 2, 5, 6, 8]),
    # an inet address test sees zeros where ss never filled in an address: every peer, unnamed local names
    ('dst 0.0.0.0', [1, 2, 3, 4, 5, 6, 7, 8]), ('src 0.0.0.0', [3, 7]), ('src 0.0.0.0/0', [1, 2, 3, 4, 5, 6, 7, 8]),
    ('dev 0', [1, 2, 3, 4, 5, 6, 7, 8]), ('dev 1', []), ('fwmark 0', [1, 2, 3, 4, 5, 6, 7, 8]),
])
def test_unix_conditions(text, inodes):
    assert selected(text, UNIX, 'unix') == inodes


def test_unix_peer_names_are_never_seen():
    # Live ss never learns a peer's name, so `dst unix:` sees "" on every record, with or without peer inodes.
    record = new_record(netid='u_str', state='ESTAB', family='unix', local_address='', peer_address='/peer', inode=9)
    for each in (record, unix('', 9, peer_inode=10, peer='/peer')):
        assert not ssfilter.parse('dst unix:/peer').match(each)
        assert ssfilter.parse('dst unix:').match(each)


@pytest.mark.parametrize('text, inodes', [
    ('src link:ip', [12]), ('src link:IPv6', [15]), ('src link:all', [11]), ('src link:*', [11, 12, 13, 14, 15, 16]),
    ('src link:*:lo', [12, 14]), ('src link:*:1', [12, 14]), ('src link:arp:eth1', [16]), ('src link:0x806', [16]),
    ('src link:0', [13, 14]), ('sport = link:3', [16]), ('sport = 0', [11, 13, 15]), ('sport > 0', [12, 14, 16]),
    ('dst link:0', [11, 12, 13, 14, 15, 16]), ('dst link:ip', []), ('dst link:*:0', [11, 12, 13, 14, 15, 16]),
    ('dst link:*:1', []), ('autobound', [13]), ('dev 1', [12, 14]), ('dev 0', [11, 13, 15]),
    ('src 0.8.0.0' if sys.byteorder == 'little' else 'src 0.0.8.0', [12]), ('src 0.0.0.0', [13, 14]),
])
def test_link_conditions(text, inodes):
    assert selected(text, PACKET, 'packet') == inodes


@pytest.mark.parametrize('text, inodes', [
    ('src netlink:rtnl', [21, 22, 23]), ('src netlink:0', [21, 22, 23]), ('src netlink:uevent', [25]),
    ('src netlink::kernel', [21, 26, 27]), ('src netlink:*:0', [21, 26, 27]), ('src netlink:rtnl:4242', [22]),
    ('sport = netlink:4242', [22]), ('sport = netlink:-1918719028', [23]), ('sport = :778', [24]),
    ('autobound', [23]), ('sport < 0', [23]), ('dport < 0', [21, 22, 23, 24, 25, 26, 27]), ('dport = :0', []),
    ('dport = :777', []), ('dst netlink:rtnl', [21, 22, 23, 24, 25, 26, 27]), ('dst netlink:usersock', []),
    ('src 0.0.0.0', [21, 22, 23]), ('dev 0', [21, 22, 23, 24, 25, 26, 27]),
])
def test_netlink_conditions(text, inodes):
    assert selected(text, NETLINK, 'netlink') == inodes


@pytest.mark.parametrize('text, inodes', [
    ('src vsock:2', [32, 35]), ('src vsock:*', [31, 32, 33, 34, 35]), ('src vsock:4294967295', [31, 34]),
    ('src vsock:*:1024', [33]), ('src vsock:2:5000', [32]), ('dst vsock:2', [33]), ('dst vsock:3:1024', [32]),
    # a port of 0xffffffff is -1 in ss's int: any port
    ('src vsock:*:4294967295', [31, 32, 33, 34, 35]), ('sport = vsock:80', [34]), ('sport > 1023', [31, 32, 33]),
    ('dport = :-1', [31, 32, 33, 34, 35]), ('dport < 0', [31, 34, 35]),
    ('autobound', [31, 32, 33]), ('not autobound', [34, 35]), ('dev 0', [31, 32, 33, 34, 35]),
])
def test_vsock_conditions(text, inodes):
    assert selected(text, VSOCK, 'vsock') == inodes


def test_family_prefixes_keep_to_their_family():
    everything = UNIX + PACKET + NETLINK + VSOCK
    assert selected('src link:*', everything, 'all') == [11, 12, 13, 14, 15, 16]
    assert selected('src netlink:*', everything, 'all') == [21, 22, 23, 24, 25, 26, 27]
    assert selected('src vsock:*', everything, 'all') == [31, 32, 33, 34, 35]
    assert selected('src unix:*', everything, 'all') == [1, 2, 3, 4, 5, 6, 7, 8]
    # The last prefix picks the family; an earlier spec is then judged on that family's sockets, as ss does.
    assert selected('src link:0 or src netlink:usersock', everything, 'all') == [21, 22, 23, 24]


@pytest.mark.parametrize('record, local, lport, rport, iface', [
    (UNIX[1], None, 2, 3, 0), (UNIX[2], 0, 3, 2, 0),
    (PACKET[1], int.from_bytes((0x800).to_bytes(4, sys.byteorder), 'big') << 96, 1, 0, 1),
    (NETLINK[2], 0, -1918719028, -1, 0),
    (NETLINK[3], int.from_bytes((2).to_bytes(4, sys.byteorder), 'big') << 96, 778, -1, 0),
    (VSOCK[0], (1 << 128) - (1 << 96), 1234, -1, 0),
])
def test_view_is_ss_sockstat(record, local, lport, rport, iface):
    view = View(record)
    assert (view.local, view.lport, view.rport, view.iface) == (local, lport, rport, iface)


def test_views_of_records_without_private_keys():
    # Facts lose the private keys; the views come from the public fields alone.
    bare = dict((key, value) for key, value in PACKET[5].items() if not key.startswith('_'))
    assert View(bare).iface == 3
    assert ssfilter.parse('dev 3', tables=('packet',)).match(bare)
    unsigned = dict(NETLINK[2], local_port=NETLINK[2]['local_port'] + (1 << 32))
    assert View(unsigned).lport == -1918719028


@pytest.mark.parametrize('family, text, value', [
    ('link', '*', 3), ('link', '[2048]', 0x800), ('link', 'ip', 0x800), ('link', 'LLDP', 0x88cc), ('link', '0x88cc', 0x88cc),
    ('link', '802.1Q', 0x8100), ('netlink', '0', 0), ('netlink', 'genl', 16), ('netlink', '16', 16),
    ('vsock', '*', 0xffffffff), ('vsock', '2', 2), ('link', 'junk', 'junk'), ('link', None, None), ('netlink', 7, 7),
])
def test_other_address_values(family, text, value):
    assert other_address_value(family, text) == value


def test_name_tables_hold_what_ss_61_accepts():
    # The names ss 6.1 accepts (found by running it), each with its number; ours add a few unambiguous spellings.
    ss_link = {'loop': 0x60, 'pup': 0x200, 'ip': 0x800, 'x25': 0x805, 'arp': 0x806, 'rarp': 0x8035, 'ipx': 0x8137,
               'ipv6': 0x86dd, 'ppp_disc': 0x8863, '802_3': 1, 'ax25': 2, 'all': 3, '802_2': 4, 'can': 0xc,
               'tipc': 0x88ca, 'aoe': 0x88a2, '802.1q': 0x8100, '802.1ad': 0x88a8, 'mpls_uc': 0x8847, 'teb': 0x6558,
               'lldp': 0x88cc, 'ipv4': 0x800}
    for name, number in ss_link.items():
        assert values.ETHERTYPES[name] == number
    assert values.NETLINK_PROTOCOLS['tcpdiag'] == 4 and values.NETLINK_PROTOCOLS['uevent'] == 15


# --- a family prefix carries over to later words (ss's preferred_family), and port words after a prefix ----------

@pytest.mark.parametrize('text, inodes', [
    # after a unix: prefix every later host or port word is a glob: sport on the local name, dport on the peer's ("")
    ('src unix:/run/* and not dport = 0', [1, 2, 8]), ('not dport = 0 and src unix:/run/*', [2]),
    ('src unix:* and sport = :2', []), ('sport = :2 and src unix:*', [2]),
    ('src unix:@* or sport = /run/br*', [4, 5, 6, 8]), ('src unix:* and dport = *', [1, 2, 3, 4, 5, 6, 7, 8]),
    ('src unix:* and dport = :*', []), ('src unix:* and dst *', [1, 2, 3, 4, 5, 6, 7, 8]),
    ('src unix:* and dst /run/*', []), ('src unix:* and src 0.0.0.0', []), ('src 0.0.0.0 and src unix:*', [3, 7]),
    # ... and a port comparison has no port to compare with: ss's -1
    ('src unix:/run/* and dport > 0', [1, 2, 8]), ('dport > 0 and src unix:/run/*', [2]),
    ('src unix:/run/* and dport < 1', []), ('( src unix:@* or src unix: ) and dport > 0', [3, 4, 5, 6, 7]),
    ('src unix:* and sport >= 5', [1, 2, 3, 4, 5, 6, 7, 8]), ('sport >= 5 and src unix:*', [5, 6, 7, 8]),
])
def test_unix_prefix_carries_over(text, inodes):
    assert selected(text, UNIX, 'unix') == inodes


@pytest.mark.parametrize('text, inodes', [
    # one ':' after the prefix of a port word is dropped
    ('sport = link::1', [12, 14]), ('sport = link::lo', [12, 14]), ('sport = link::', [11, 12, 13, 14, 15, 16]),
    # comparisons use the port of the spec; `*`, empty and -1 mean ss's -1
    ('sport > link:0', [12, 14, 16]), ('sport < link:1', [11, 13, 15]), ('sport >= link::3', [16]),
    ('sport > link:*', [11, 12, 13, 14, 15, 16]), ('sport <= link:', []), ('sport = link:-1', [11, 12, 13, 14, 15, 16]),
    # after a link: prefix, later words are link specs: a port word is an ifindex or a device, `src X` an ethertype
    ('src link:* and sport = 1', [12, 14]), ('src link:* and sport > 1', [16]), ('src link:* and sport = :3', [16]),
    ('src link:* and sport = eth1', [16]), ('src link:* and src arp', [16]), ('src link:* and dst ip', []),
])
def test_link_ports_after_prefix(text, inodes):
    assert selected(text, PACKET, 'packet') == inodes


@pytest.mark.parametrize('text, inodes', [
    ('sport = netlink::4242', [22]), ('sport = netlink::kernel', [21, 26, 27]), ('sport < netlink:1', [21, 23, 26, 27]),
    ('sport > netlink:kernel', [22, 24, 25]), ('sport >= netlink:4242', [22, 25]), ('sport <= netlink::-1', [23]),
    ('sport <= netlink::-1918719029', []), ('dport > netlink:-2', [21, 22, 23, 24, 25, 26, 27]),
    ('sport = netlink:-1', [21, 22, 23, 24, 25, 26, 27]),
    ('src netlink:* and sport = kernel', [21, 26, 27]), ('src netlink:* and src rtnl', [21, 22, 23]),
    ('src netlink:rtnl and sport > 0', [22]), ('src netlink:* and src uevent:50000', [25]),
])
def test_netlink_ports_after_prefix(text, inodes):
    assert selected(text, NETLINK, 'netlink') == inodes


@pytest.mark.parametrize('text, inodes', [
    ('sport = vsock::80', [34]), ('sport > vsock:1023', [31, 32, 33]), ('dport > vsock:4294967295', [32, 33]),
    ('src vsock:* and sport < 1024', [34, 35]), ('src vsock:* and dst 2', [33]), ('src vsock:* and sport = 5000', [32]),
    ('src vsock:', [31, 32, 33, 34, 35]), ('src vsock:2', [32, 35]), ('sport = vsock:*', [31, 32, 33, 34, 35]),
])
def test_vsock_ports_after_prefix(text, inodes):
    assert selected(text, VSOCK, 'vsock') == inodes


def test_link_port_comparisons_use_the_device_index(monkeypatch):
    # ss turns a device name into its index to compare; a name this host lacks is refused.
    def if_nametoindex(name):
        if name not in ('lo', 'eth1'):
            raise OSError(19, 'No such device')
        return {'lo': 1, 'eth1': 3}[name]
    monkeypatch.setattr(values.socket, 'if_nametoindex', if_nametoindex)
    assert selected('sport > link:lo', PACKET, 'packet') == [16]
    assert selected('sport >= link:eth1', PACKET, 'packet') == [16]
    assert selected('src link:* and sport < lo', PACKET, 'packet') == [11, 13, 15]
    with pytest.raises(FilterError) as info:
        ssfilter.parse('sport > link:eth9', tables=('packet',))
    assert str(info.value) == ('filter: expected a port after "sport >" at word 3: "link:eth9" '
                               '(no device "eth9" here, and ss compares with its index)')


@pytest.mark.parametrize('text, families', [
    ('src unix:* or sport = 22', {'unix'}), ('src link:* and sport = 1', {'link'}), ('sport = 22 or src inet6:*', {'inet6'}),
    ('src inet:* or sport = 22', {'inet'}), ('src inet6:* or src inet:127.0.0.1', {'inet'}),
    ('src netlink:* or src unix:* or sport = x', {'unix'}),
])
def test_families_after_prefix(text, families):
    assert ssfilter.parse(text, tables=('tcp', 'unix'), resolver=lambda name, family: []).families == frozenset(families)


@pytest.mark.parametrize('text, message', [
    ('sport = link:3000000000', 'filter: expected a port after "sport =" at word 3: "link:3000000000" '
                                '("3000000000" is out of range)'),
    ('sport = netlink:3000000000', 'filter: expected a port after "sport =" at word 3: "netlink:3000000000" '
                                   '("3000000000" is out of range)'),
    ('sport = link:1:2', 'filter: expected a port after "sport =" at word 3: "link:1:2" ("1:2" is not a device name or index)'),
    ('src link:* and src 1.2.3.4', 'filter: expected an address after "src" at word 5: "1.2.3.4" (unknown link address '
                                   '"1.2.3.4"; the link: prefix at word 2 applies to the later host and port words too, as in ss)'),
    ('src netlink:* and sport = 1x', 'filter: expected a port after "sport =" at word 6: "1x" ("1x" is not a number; the '
                                     'netlink: prefix at word 2 applies to the later host and port words too, as in ss)'),
    ('src inet:127.0.0.1 or src [::1]', 'filter: expected an address after "src" at word 5: "[::1]" (not an inet address or '
                                        'a host name that resolves to one; the inet: prefix at word 2 applies to the later '
                                        'host and port words too, as in ss)'),
    ('src inet6:[::1] or src 127.0.0.1', 'filter: expected an address after "src" at word 5: "127.0.0.1" (not an inet6 '
                                         'address or a host name that resolves to one; the inet6: prefix at word 2 applies '
                                         'to the later host and port words too, as in ss)'),
    # vsock ports are read like ss's get_u32: empty, negative or too large is an error (link and netlink: empty is any)
    ('src vsock:2:', 'filter: expected an address after "src" at word 2: "vsock:2:" ("" is not a number from 0 to 4294967295)'),
    ('sport = vsock::', 'filter: expected a port after "sport =" at word 3: "vsock::" ("" is not a number from 0 to 4294967295)'),
    ('sport = vsock:-1', 'filter: expected a port after "sport =" at word 3: "vsock:-1" ("-1" is not a number from 0 to 4294967295)'),
    ('src vsock:*:4294967296', 'filter: expected an address after "src" at word 2: "vsock:*:4294967296" ("4294967296" is not '
                               'a number from 0 to 4294967295)'),
    ('src inet:* or src inet6:* or dst 10.0.0.1', 'filter: expected an address after "dst" at word 8: "10.0.0.1" (not an '
                                                  'inet6 address or a host name that resolves to one; the inet6: prefix at '
                                                  'word 5 applies to the later host and port words too, as in ss)'),
])
def test_errors_after_prefix(text, message):
    with pytest.raises(FilterError) as info:
        ssfilter.parse(text, tables=('tcp', 'packet', 'netlink'), resolver=lambda name, family: [])
    assert str(info.value) == message
