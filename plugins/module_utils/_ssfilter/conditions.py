# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the nodes of a filter tree: the leaf conditions (src/dst hosts, port comparisons,
autobound, dev, fwmark, cgroup), each with ss's userspace judgement and the kernel's, and the not/and/or nodes."""

# Every consumer of a tree (the evaluation in ssfilter.py, bytecode.py, plugin_utils/_ssfilter_fast.py) tells the
# nodes apart with isinstance(), walks a run of and/or with Junction.chain() (the one flatten: no deep recursion
# for thousands of terms), and reads of a condition only its public interface, documented on the classes below.

from __future__ import annotations

import re
from typing import Any, Iterable, List, Optional, Pattern, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.c_numbers import signed32
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.globs import glob_regex
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.record_view import View
from ansible_collections.netaudit.sockets.plugins.module_utils._ssfilter.values import (
    AF_INET, AF_INET6, AF_UNSPEC, Alternative, OtherPort, address_word, device_name, is_v4mapped, prefix_equal,
    ss_device_index,
)

# The ephemeral port range (low, high) that `autobound` judges inet sockets by.
PortRange = Tuple[int, int]
# The families whose host words are not inet addresses.
_OTHER_FAMILIES = ('link', 'netlink', 'vsock')


class RecordProblem(NetauditError):
    """A record lacks what a condition needs (marks, cgroup ids, interface indexes)."""

    def __init__(self, term: Condition, what: str) -> None:
        super(RecordProblem, self).__init__(term, what)
        self.term, self.what = term, what


# --- the tree -------------------------------------------------------------------------------------------

class Node(object):
    """A node of the filter tree: a Condition (a leaf), or Not, And, Or."""

    def children(self) -> tuple[Node, ...]:
        return ()

    def leaves(self) -> list[Condition]:
        """Every condition under this node, left to right (walked without recursion: trees can be deep)."""
        found: List[Condition] = []
        pending: List[Node] = [self]
        while pending:
            node = pending.pop()
            if isinstance(node, Condition):
                found.append(node)
            else:
                pending.extend(reversed(node.children()))
        return found


class Not(Node):
    """`not X` (also `!X`, and what `!=`, `>` and `<` compile to)."""

    def __init__(self, inner: Node) -> None:
        self.inner = inner

    def children(self) -> tuple[Node, ...]:
        return (self.inner,)


class Junction(Node):
    """`and` or `or` of two nodes. ss reads them left to right with equal precedence (`a or b and c` is
    `(a or b) and c`), so a run of them is left-deep: chain() is how every consumer walks one."""
    op = ''

    def __init__(self, left: Node, right: Node) -> None:
        self.left, self.right = left, right

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def chain(self) -> tuple[Node, list[tuple[str, Node]]]:
        """This left-deep run of and/or nodes as (first, [(op, right), ...]), op 'and' or 'or', left to right."""
        steps = []
        node: Node = self
        while isinstance(node, Junction):
            steps.append((node.op, node.right))
            node = node.left
        steps.reverse()
        return node, steps


class And(Junction):
    op = 'and'


class Or(Junction):
    op = 'or'


# --- the conditions -------------------------------------------------------------------------------------

class Condition(Node):
    """A leaf of the filter tree. user() is ss's userspace check, kernel() the INET_DIAG interpreter's."""
    in_kernel = True
    needs_ephemeral_range = False
    word = 0
    text = ''
    device: Optional[str] = None    # a device name ss turns into its index where it runs (bind_device)

    @property
    def device_word(self) -> int:
        """The position of the word that names `device`."""
        return self.word

    def bind_device(self, index: int) -> bool:
        """Judge `device` as this index from here on; True when the kernel's program changes with it."""
        return False

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        raise NotImplementedError

    def kernel(self, view: View, ephemeral: PortRange | None) -> bool:
        return self.user(view, ephemeral)


class SideCondition(Condition):
    """A condition on one side of the socket: side 'src' (the local address and port) or 'dst' (the peer's)."""
    side = 'src'

    @property
    def address_key(self) -> str:
        """The record key of the address this condition reads."""
        return 'local_address' if self.side == 'src' else 'peer_address'

    @property
    def port_key(self) -> str:
        """The record key of the port this condition reads."""
        return 'local_port' if self.side == 'src' else 'peer_port'

    def _mine(self, view: View) -> tuple[int | None, int]:
        if self.side == 'src':
            return view.local, view.lport
        return view.peer, view.rport


class HostCond(SideCondition):
    """src/dst/sport =/dport = : a host (alternatives) and a port, or a unix glob, or link/netlink/vsock.

    Public: side; family, the word's family prefix (None when none); port, the port it asks for (-1: any);
    is_inet, passes_any_address(which)."""

    def __init__(self, side: str, family: str | None, port: int, alternatives: Iterable[Alternative] = (),
                 pattern: str | None = None, other: tuple[int | None, OtherPort] | None = None, text: str = '',
                 word: int = 0) -> None:
        self.side = side              # 'src' or 'dst'
        self.family = family          # the token's family prefix, None when none
        self.port = port              # -1 = any
        self.alternatives: List[Alternative] = list(alternatives) or [(AF_UNSPEC, 0, 0)]
        self.pattern = pattern        # unix glob text
        self.regex: Pattern[str] | None = glob_regex(pattern) if pattern is not None else None
        self.other = other            # (address value or None, port value or None) for link/netlink/vsock
        self.text, self.word = text, word
        self.in_kernel = family not in ('unix',) + _OTHER_FAMILIES
        self.device = None
        # A link/netlink/vsock spec as ss stores it: the address word and its bit length, and the port.
        self.other_bits, self.other_data = 0, 0
        self.other_port: int | str = -1   # -1 = any; a str is a device name ss would turn into its index
        if family in _OTHER_FAMILIES:
            self._other_spec(family or '', other or (None, None))

    def _other_spec(self, family: str, other: tuple[int | None, OtherPort]) -> None:
        """The address word, its bit length and the port, as ss stores them for a link/netlink/vsock spec."""
        address, port = other
        self.other_bits = 0 if address is None else 32
        self.other_data = 0 if address is None else address_word(address)
        if port is None:
            port = -1
        elif isinstance(port, int):
            # ss reads these ports into a C int: a negative number stays negative (autobound netlink portids),
            # and a vsock port of 0xffffffff is -1, which means any.
            port = port - (1 << 64) if port >= 1 << 63 else port
            if family == 'vsock':
                port = signed32(port)
        self.other_port = port
        self.device = port if isinstance(port, str) else None

    @property
    def is_inet(self) -> bool:
        """Whether it judges inet sockets by address and port (no unix:, link:, netlink: or vsock: prefix)."""
        return self.family in (None, 'inet', 'inet6')

    def passes_any_address(self, which: str) -> bool:
        """Whether the judgement `which` ('user' or 'kernel') of an inet socket passes whatever its address, so
        that it reads the port alone."""
        family, bits, _data = self.alternatives[0]
        if which == 'user':
            return bits == 0
        return family == AF_UNSPEC and bits == 0

    def bind_device(self, index: int) -> bool:
        self.other_port = index
        return False

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        if self.family == 'unix':
            if view.family != 'unix':
                return False
            name = view.name if self.side == 'src' else view.peer_name
            return self.regex is not None and self.regex.match(name or '') is not None
        if self.family in _OTHER_FAMILIES:
            return self._other_match(view)
        data, port = self._mine(view)
        if self.port != -1 and self.port != port:
            return False
        if self.alternatives[0][1] == 0:
            return True
        if data is None:
            return False
        mapped = view.family == 'inet6' and is_v4mapped(data)
        for family, bits, rule in self.alternatives:
            if prefix_equal(data, rule, bits):
                return True
            if mapped and family == AF_INET and prefix_equal((data & 0xffffffff) << 96, rule, bits):
                return True
        return False

    def kernel(self, view: View, ephemeral: PortRange | None) -> bool:
        data, port = self._mine(view)
        if self.port != -1 and self.port != port:
            return False
        if data is None:
            return False        # the kernel judges inet sockets only, whose addresses are numbers
        sock_family = AF_INET if view.family == 'inet' else AF_INET6
        for family, bits, rule in self.alternatives:
            if family != AF_UNSPEC and family != sock_family:
                if (sock_family == AF_INET6 and family == AF_INET and is_v4mapped(data)
                        and prefix_equal((data & 0xffffffff) << 96, rule, bits)):
                    return True
                continue
            if prefix_equal(data, rule, bits):
                return True
        return False

    def _other_match(self, view: View) -> bool:
        """ss's generic check with a link/netlink/vsock spec: the port, then the first address word."""
        data, port = self._mine(view)
        wanted = self.other_port
        if isinstance(wanted, str):
            # A device ss would have turned into its index here; records name their device.
            if self.side != 'src' or view.family != 'link' or view.record.get('interface') != wanted:
                return False
        elif wanted != -1 and wanted != port:
            return False
        if self.other_bits:
            return data is not None and prefix_equal(data, self.other_data, self.other_bits)
        return True


class PortCmp(SideCondition):
    """sport/dport >= or <= N (> and < are their negations). device: the name of a `link:NAME` port, N being its
    index (the module reads it again in each network namespace it reads: SSFilter.bind_devices).

    Public: side; op, 'ge' or 'le'; port, N; limit(which), the N each judgement compares with."""

    def __init__(self, side: str, op: str, port: int, text: str = '', word: int = 0, device: str | None = None,
                 device_word: int = 0) -> None:
        self.side, self.op, self.port, self.text, self.word = side, op, port, text, word
        self.device, self._device_word = device, device_word

    @property
    def device_word(self) -> int:
        return self._device_word

    def bind_device(self, index: int) -> bool:
        changed = self.port != index
        self.port = index
        return changed

    def limit(self, which: str) -> int:
        """The port the judgement `which` compares with: the kernel reads it from a u16 field of the program."""
        return self.port if which == 'user' else self.port & 0xffff

    def _cmp(self, have: int, want: int) -> bool:
        return have >= want if self.op == 'ge' else have <= want

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        return self._cmp(view.lport if self.side == 'src' else view.rport, self.port)

    def kernel(self, view: View, ephemeral: PortRange | None) -> bool:
        # The kernel reads the port from a u16 field of the program.
        return self._cmp(view.lport if self.side == 'src' else view.rport, self.port & 0xffff)


# The name the kernel gives a unix socket bound to "": `@` and five lower-case hex digits.
_AUTOBIND_NAME = re.compile(r'@[0-9a-f]{5}\Z')


class AutoBound(Condition):
    """autobound: a port the kernel chose (no SOCK_BINDPORT_LOCK); ss's userspace check reads the ephemeral range."""
    text = 'autobound'
    needs_ephemeral_range = True

    def __init__(self, word: int = 0) -> None:
        self.word = word

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        if view.inet:
            if ephemeral is None:
                raise ValueError('autobound judges inet sockets by the ephemeral port range, and none was given')
            low, high = ephemeral
            return low <= view.lport <= high
        if view.family == 'unix':
            return view.name == '' or _AUTOBIND_NAME.match(view.name or '') is not None
        if view.family == 'link':
            return view.lport == 0 and view.local == 0
        if view.family == 'netlink':
            return view.lport < 0
        if view.family == 'vsock':
            return view.lport > 1023
        return False

    def kernel(self, view: View, ephemeral: PortRange | None) -> bool:
        locked = view.record.get('port_locked')
        if locked is None:
            # Without the kernel's BINDPORT lock, the best guess is the userspace rule.
            return self.user(view, ephemeral)
        return not locked


class DevCond(Condition):
    """dev NAME|INDEX. value is the word as written, value_word its position: the module reads it again in each
    network namespace it reads (SSFilter.bind_devices), as ss run there would; ss_filter keeps parse_dev's reading."""
    in_kernel = False

    def __init__(self, index: int | None, name: str | None, text: str = '', word: int = 0, value: str | None = None,
                 value_word: int = 0) -> None:
        self.index, self.name, self.text, self.word = index, name, text, word
        self.value, self.value_word = value, value_word
        self.bound = False

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        record = view.record
        if self.index is not None and view.iface is not None:
            # ss compares the socket's device index: the bound device of inet and packet sockets, else 0.
            return view.iface == self.index
        if not view.inet:
            return self.index is None and self.name is not None and record.get('interface') == self.name
        if self.index == 0:
            return not record.get('interface')
        if self.name is not None or self.bound:
            # Bound in the namespace read: a record without the index (the /proc reader knows no device) has the
            # device ss's /proc reading gives it, none.
            return self.name is not None and record.get('interface') == self.name
        raise RecordProblem(self, 'interface indexes (_ifindex)')

    def bind(self) -> bool:
        """Read the word again in the current network namespace, as ss run there reads it; False when ss refuses it."""
        index = ss_device_index(self.value) if self.value is not None else None
        if index is None:
            return False
        self.index, self.name, self.bound = index, device_name(index), True
        return True


def _kernel_field(term: Condition, view: View, key: str, what: str) -> Any:
    """A record's value of a field the kernel compares (mark, cgroup_id): 0 where ss sees none (null, or a socket
    outside inet); RecordProblem, naming `what`, for an inet record without the key."""
    value = view.record.get(key)
    if value is None:
        if key in view.record or not view.inet:
            return 0
        raise RecordProblem(term, what)
    return value


class MarkCond(Condition):
    """fwmark MARK[/MASK]."""

    def __init__(self, mark: int, mask: int, text: str = '', word: int = 0) -> None:
        self.mark, self.mask, self.text, self.word = mark, mask, text, word

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        return (_kernel_field(self, view, 'mark', 'socket marks (mark)') & self.mask) == self.mark


class CgroupCond(Condition):
    """cgroup PATH, judged by the cgroup's id (the inode of its directory)."""

    def __init__(self, cgroup_id: int, path: str, text: str = '', word: int = 0) -> None:
        self.cgroup_id, self.path, self.text, self.word = cgroup_id, path, text, word

    def user(self, view: View, ephemeral: PortRange | None) -> bool:
        return _kernel_field(self, view, 'cgroup_id', 'cgroup ids (cgroup_id)') == self.cgroup_id
