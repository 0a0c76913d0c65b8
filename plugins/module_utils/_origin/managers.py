# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: which processes are systemd managers, and where each looks for its units.

Anyone can name a process `systemd`, so the name alone proves nothing. What is trusted:

- the system manager is PID 1 of the /proc the module reads (only the kernel assigns PID 1, and only root starts
  it) and is named `systemd`;
- a user's manager is a process named `systemd` whose real uid (a kernel credential) is UID and whose cgroup is the
  manager's own place, `user@UID.service/init.scope` (or `user@UID.service` itself on older systemd), below the
  slices. PID 1 makes `user@UID.service` and hands the tree below it to UID, so a process of UID can put itself
  there: such a "manager" can only claim the user units of UID, which UID writes anyway, never a system unit or
  another user's.

The environment of a manager (read from /proc/PID/environ, root's to read) gives its XDG folders and
SYSTEMD_UNIT_PATH; a user's home comes from that environment, else from the password file.
"""

from __future__ import annotations

import os
from typing import Dict, List, NamedTuple, Optional

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import unit_files
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import units

MANAGER_NAME = 'systemd'
ENVIRON_LIMIT = 1024 * 1024
PASSWD_LIMIT = 16 * 1024 * 1024


class Manager(NamedTuple):
    """A systemd manager: `kind` 'system' or 'user', `uid` (None for the system manager), its `pid`, the
    `search_path` for its units, `specifiers` (%t, %h ... for unit values) and `notes` (what could not be read)."""
    kind: str
    uid: Optional[int]
    pid: int
    search_path: List[str]
    specifiers: Dict[str, str]
    runtime_dir: str
    notes: List[str]


def read_environ(proc_root: str, pid: int) -> Dict[str, str]:
    """The environment of process pid ({} when it cannot be read)."""
    try:
        data = _bounded.read_bytes(os.path.join(proc_root, str(pid), 'environ'), ENVIRON_LIMIT)
    except _bounded.BoundedReadError:
        return {}
    found = {}
    for item in data.split(b'\0'):
        key, equals, value = item.partition(b'=')
        if equals and key:
            found[_bounded.host_text(key)] = _bounded.host_text(value)
    return found


def real_uid(proc_root: str, pid: int) -> Optional[int]:
    """The real uid of process pid, from the Uid: line of its status; None when it cannot be read."""
    try:
        data = _bounded.read_bytes(os.path.join(proc_root, str(pid), 'status'), _bounded.SMALL_LIMIT)
    except _bounded.BoundedReadError:
        return None
    for line in data.split(b'\n'):
        if line.startswith(b'Uid:'):
            fields = line.split()
            if len(fields) > 1 and fields[1].isdigit():
                return int(fields[1])
    return None


def passwd_entry(root: str, uid: int) -> Optional[List[str]]:
    """The fields of uid's line in root's /etc/passwd (name, password, uid, gid, gecos, home, shell); None when
    absent. On the machine's own root, the system's user database (NSS: LDAP, sssd) is asked when the file has none."""
    path = os.path.join(root, 'etc/passwd')
    try:
        for line in _bounded.read_bytes(path, PASSWD_LIMIT).split(b'\n'):
            fields = line.split(b':')
            if len(fields) >= 7 and fields[2] == str(uid).encode():
                return [_bounded.host_text(field) for field in fields[:7]]
    except _bounded.BoundedReadError:
        pass
    if os.path.abspath(root) == '/':
        import pwd  # pylint: disable=import-outside-toplevel
        try:
            entry = pwd.getpwuid(uid)
        except (KeyError, OverflowError):
            return None
        return [_bounded.host_name(entry.pw_name) or '', '', str(uid), str(entry.pw_gid), '',
                _bounded.host_name(entry.pw_dir) or '', '']
    return None


def is_system_manager(pid: int, name: Optional[str]) -> bool:
    return pid == 1 and name == MANAGER_NAME


def user_manager_uid(name: Optional[str], uid: Optional[int], cgroup_path: Optional[str]) -> Optional[int]:
    """UID when a process named `name`, of real uid `uid`, in cgroup `cgroup_path`, is UID's user manager."""
    if name != MANAGER_NAME or uid is None or cgroup_path is None:
        return None
    placed = units.user_manager_uid(cgroup_path)
    return uid if placed is not None and placed == uid else None


def system_manager(proc_root: str, root: str) -> Manager:
    environ = read_environ(proc_root, 1)
    specifiers = {'t': '/run', 'S': '/var/lib', 'C': '/var/cache', 'L': '/var/log', 'E': '/etc', 'T': '/tmp',
                  'V': '/var/tmp', 'h': '/root', 'U': '0', 'u': 'root', 'G': '0', 'g': 'root'}
    path = unit_files.with_unit_path_override(unit_files.SYSTEM_SEARCH_PATH, environ)
    return Manager('system', None, 1, path, specifiers, '/run', [])


def user_manager(proc_root: str, root: str, pid: int, uid: int) -> Manager:
    environ = read_environ(proc_root, pid)
    notes = []
    entry = passwd_entry(root, uid)
    home = environ.get('HOME') if (environ.get('HOME') or '').startswith('/') else (entry[5] if entry else None)
    if not home:
        notes.append('the home folder of uid %d is not known (no HOME in the environment of its manager, pid %d, '
                     'and no password entry), so the unit folders in it were not read' % (uid, pid))
    path = unit_files.with_unit_path_override(unit_files.user_search_path(uid, environ, home), environ)
    runtime = environ.get('XDG_RUNTIME_DIR') or '/run/user/%d' % uid
    home_or_unknown = home or ''
    specifiers = {
        't': runtime, 'S': environ.get('XDG_STATE_HOME') or home_or_unknown + '/.local/state',
        'C': environ.get('XDG_CACHE_HOME') or home_or_unknown + '/.cache',
        'L': (environ.get('XDG_STATE_HOME') or home_or_unknown + '/.local/state') + '/log',
        'E': environ.get('XDG_CONFIG_HOME') or home_or_unknown + '/.config', 'T': '/tmp', 'V': '/var/tmp',
        'U': str(uid),
    }
    if home:
        specifiers['h'] = home
    else:
        for key in ('S', 'C', 'L', 'E'):
            specifiers.pop(key)
    if entry:
        specifiers['u'] = entry[0]
    return Manager('user', uid, pid, path, specifiers, runtime, notes)
