# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the systemd unit a cgroup path belongs to, named as systemd names it.

systemd makes one cgroup per slice, nested as the slice names say (`system.slice/system-getty.slice`), and one per
service, scope, socket, mount or swap unit inside its slice. So a process's unit is the first component of its cgroup
path, after the leading slices, that is a valid unit name (one leading '_' removed: systemd adds it to names that
could clash with the kernel's own files); anything below that component belongs to the unit (a delegated subtree).
Under `user@UID.service` a user's own manager repeats the pattern for the user's units. A path whose first
component after the slices is not a unit name (a cgroup made by hand) belongs to no unit: None, not a guess.

Who writes what: the cgroups of system units are made by PID 1 (root); below `user@UID.service` the tree is
delegated to the user UID, who can make any cgroup there. So the system part of a path is root's word, and a user
unit's name is the user's claim about their own processes; the uid in it (from `user@UID.service`) is root's.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple, Union

from ansible_collections.netaudit.sockets.plugins.module_utils._errors import NetauditError

# Unit types, as the suffix of a unit name.
UNIT_TYPES = frozenset(('service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path',
                        'slice', 'scope'))
UNIT_NAME_MAX = 255
_NAME = re.compile(r'\A([A-Za-z0-9:_.\\-]+)(?:(@)([A-Za-z0-9:_.\\@-]*))?\.([a-z]+)\Z')
_UID = re.compile(r'\A(?:0|[1-9][0-9]{0,9})\Z')
_USER_MANAGER = re.compile(r'\Auser@([0-9]+)\.service\Z')

Unit = Dict[str, Union[str, int, None]]


def valid_unit_name(name: str, plain: bool = True, instance: bool = True, template: bool = False) -> bool:
    """Whether name is a unit name of the kinds asked for: plain (`ssh.service`), instance (`getty@tty1.service`),
    template (`getty@.service`). Characters: ASCII letters, digits, `:-_.\\`, one `@` before the instance."""
    if not name or len(name) > UNIT_NAME_MAX:
        return False
    match = _NAME.match(name)
    if not match or match.group(4) not in UNIT_TYPES:
        return False
    if not match.group(2):
        return plain
    return instance if match.group(3) else template


def unit_type(name: str) -> str:
    return name.rpartition('.')[2]


def valid_uid(text: str) -> bool:
    """A uid as systemd parses one in `user@UID.service`: decimal, neither -1 nor 65535 (the 16-bit -1)."""
    return bool(_UID.match(text)) and int(text) not in (0xffffffff, 0xffff) and int(text) < 0xffffffff


def _unescape(component: str) -> str:
    return component[1:] if component.startswith('_') else component


def _is_slice(component: str) -> bool:
    name = _unescape(component)
    return name.endswith('.slice') and valid_unit_name(name, instance=False)


def _first_unit(components: List[str]) -> Tuple[int, Optional[str]]:
    """(index, name) of the first component after the leading slices; name None when that is no unit name (or
    there is none)."""
    index = 0
    while index < len(components) and _is_slice(components[index]):
        index += 1
    if index == len(components):
        return index, None
    name = _unescape(components[index])
    if not valid_unit_name(name) or name.endswith('.slice'):
        return index, None
    return index, name


def _components(path: str) -> List[str]:
    return [part for part in path.split('/') if part]


class CgroupPathError(NetauditError, ValueError):
    """A cgroup path that names no place in the module's cgroup tree (outside its cgroup namespace)."""


def _check(path: str) -> List[str]:
    components = _components(path)
    if not path.startswith('/') or '..' in components or '.' in components:
        raise CgroupPathError('the cgroup path %s lies outside the cgroup namespace of the module, so its unit is '
                              'not known' % path)
    return components


def unit_of_cgroup(path: str) -> Optional[Unit]:
    """The unit of a process in cgroup `path` (a cgroup v2 path, or name=systemd on a legacy host):
    {"name", "manager": "system"|"user", "uid": the user manager's uid or None, "service": None}; None when
    the path belongs to no unit. Raises CgroupPathError for a path outside the module's cgroup namespace.

    A process of a user's manager (its own cgroup `init.scope` below `user@UID.service`, or that cgroup itself on
    older systemd) and one in a hand-made cgroup below it belong to the system unit `user@UID.service`."""
    components = _check(path)
    index, name = _first_unit(components)
    if name is None:
        return None
    manager = _USER_MANAGER.match(name)
    if manager and valid_uid(manager.group(1)):
        user_unit = _first_unit(components[index + 1:])[1]
        if user_unit is not None and user_unit != 'init.scope':
            return {'name': user_unit, 'manager': 'user', 'uid': int(manager.group(1)), 'service': None}
    return {'name': name, 'manager': 'system', 'uid': None, 'service': None}


def user_manager_uid(path: str) -> Optional[int]:
    """UID when `path` is the cgroup of a user's systemd manager itself: `.../user@UID.service/init.scope`, or
    `.../user@UID.service` (systemd before it gave the manager a scope of its own); else None."""
    try:
        components = _check(path)
    except CgroupPathError:
        return None
    index = _first_unit(components)[0]
    rest = components[index:]
    if not rest or len(rest) > 2 or (len(rest) == 2 and rest[1] != 'init.scope'):
        return None
    manager = _USER_MANAGER.match(rest[0])
    if not manager or not valid_uid(manager.group(1)):
        return None
    return int(manager.group(1))


def unit_prefix(name: str) -> str:
    """`foo` of `foo.socket` and of `foo@bar.socket`."""
    stem = name.rpartition('.')[0]
    return stem.partition('@')[0]


def unit_instance(name: str) -> Optional[str]:
    """`bar` of `foo@bar.socket`; None for a plain name ('' for a template)."""
    stem = name.rpartition('.')[0]
    return stem.partition('@')[2] if '@' in stem else None


def template_of(name: str) -> str:
    """`foo@.socket` of `foo@bar.socket`."""
    return '%s@.%s' % (unit_prefix(name), unit_type(name))


def unescape_instance(text: str) -> str:
    """systemd's unescaping of a name part (the %I specifier): `-` is `/`, `\\xNN` a byte; bytes that are not UTF-8
    stay as \\xNN."""
    out = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char == '-':
            out += b'/'
        elif char == '\\' and re.match(r'x[0-9a-fA-F]{2}', text[index + 1:index + 4]):
            out.append(int(text[index + 2:index + 4], 16))
            index += 3
        else:
            out += char.encode('utf-8')
        index += 1
    return out.decode('utf-8', 'backslashreplace')
