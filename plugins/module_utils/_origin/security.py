# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: a process's SELinux or AppArmor label (`security_context`), as `ss -Z` shows it.

`ss -Z` prints a socket's process context, the label the kernel's security module gives the process
(`/proc/PID/attr/current`, which libselinux's getpidcon reads), with the trailing newline and NUL cut. A host runs
at most one labelling module as its "major" one; which modules are active is listed in
`/sys/kernel/security/lsm` (securityfs, Linux 4.15+). Where securityfs is not mounted, the modules' own files tell:
SELinux mounts selinuxfs (`/sys/fs/selinux/enforce`), AppArmor says `Y` in `/sys/module/apparmor/parameters/enabled`.

| active | read | `security_context` |
|---|---|---|
| SELinux | `/proc/PID/attr/current` | `system_u:system_r:sshd_t:s0-s0:c0.c1023` |
| AppArmor | `/proc/PID/attr/apparmor/current` (Linux 5.1+), else `attr/current` | `unconfined`, `/usr/sbin/cupsd (enforce)` |
| neither | nothing | null, and no `origin_unknown` entry: there is no label to tell |

A label is what the policy (SELinux) or the profile's name (AppArmor) says, which root chose; on a host without
either it is not unknown but absent. The kernel keeps labels under a page: a longer one, control characters in a
copied tree, invalid UTF-8 are read bounded and decoded as every host string is (\\xNN for invalid bytes). A label
that cannot be read while a module is active (the process exited, permission denied) is unknown, with the reason.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import rootfiles

LSM_LIST = '/sys/kernel/security/lsm'
SELINUX_ENFORCE = '/sys/fs/selinux/enforce'
APPARMOR_ENABLED = '/sys/module/apparmor/parameters/enabled'
# The kernel refuses to set a label of a page or more (proc_pid_attr_write); a longer one is not the kernel's.
LABEL_LIMIT = 4096
LABELLING = ('selinux', 'apparmor')
Told = Tuple[Optional[str], Optional[str]]


def active_modules(root: str = '/') -> 'tuple[list[str], str]':
    """(the labelling modules active on this host, in the kernel's order, how that was told)."""
    try:
        listed = _bounded.read_text(rootfiles.host_path(root, LSM_LIST)).strip().split(',')
        return [name for name in listed if name in LABELLING], rootfiles.host_path(root, LSM_LIST)
    except _bounded.BoundedReadError:
        pass    # securityfs not mounted: the modules' own files tell
    found = []
    if os.path.isfile(rootfiles.host_path(root, SELINUX_ENFORCE)):
        found.append('selinux')
    try:
        if _bounded.read_text(rootfiles.host_path(root, APPARMOR_ENABLED)).strip() == 'Y':
            found.append('apparmor')
    except _bounded.BoundedReadError:
        pass
    return found, '%s and %s' % (rootfiles.host_path(root, SELINUX_ENFORCE), rootfiles.host_path(root, APPARMOR_ENABLED))


class SecurityContexts(object):
    """The labels of one run's processes: context(pid)."""

    def __init__(self, proc_root: str = '/proc', root: str = '/') -> None:
        self.proc_root = proc_root
        self.root = root or '/'
        self._modules: 'list[str] | None' = None
        self._told: 'dict[int, Told]' = {}

    def modules(self) -> 'list[str]':
        """The labelling modules active (['selinux'], ['apparmor'], []), read once."""
        if self._modules is None:
            self._modules = active_modules(self.root)[0]
        return self._modules

    def context(self, pid: int) -> Told:
        """(label, reason): the label of process pid; (None, None) where no labelling module is active."""
        if pid not in self._told:
            self._told[pid] = self._context(pid)
        return self._told[pid]

    def _context(self, pid: int) -> Told:
        modules = self.modules()
        if not modules:
            return None, None
        folder = os.path.join(self.proc_root, str(pid), 'attr')
        paths = [os.path.join(folder, 'current')]
        if modules[0] == 'apparmor':
            paths.insert(0, os.path.join(folder, 'apparmor', 'current'))
        problem = None
        for path in paths:
            try:
                raw = _bounded.read_bytes(path, LABEL_LIMIT)
            except _bounded.BoundedReadError as exc:
                problem = problem or 'unreadable: %s' % exc
                if exc.missing and path != paths[-1]:
                    continue     # a kernel before 5.1 has no attr/apparmor/
                return None, problem
            label = raw.rstrip(b'\n\0')
            if not label:
                return None, 'unreadable: %s is empty although %s is active' % (path, modules[0])
            return _bounded.host_text(label), None
        return None, problem
