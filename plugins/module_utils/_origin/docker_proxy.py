# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: the container a docker-proxy forwards a published port to.

With its userland proxy (the default), dockerd starts one `docker-proxy` per published port, on the host, outside
the container: `docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port
80`. The listening socket is docker-proxy's, so its cgroup says nothing of the container; the container is the
running one whose address (NetworkSettings.Networks.*.IPAddress in docker's state) is the -container-ip, and, when
two running containers share an address on different networks, whose published ports hold the -host-port.

Anyone can call a process docker-proxy, and anyone can run the docker-proxy binary with arguments of their choice.
docker's proxy is believed only when:
- the file the process runs (/proc/PID/exe, the kernel's path) is named docker-proxy, and it and every folder above
  it are root's and writable by nobody else (rootfiles.trust_problem), so it is the installed binary, not a copy a
  user made;
- the process runs as root: every uid of /proc/PID/status is 0 (dockerd is root; a user cannot make a root process).
Otherwise the process is judged by its own cgroup, like any other.
"""

from __future__ import annotations

import os

from ansible_collections.netaudit.sockets.plugins.module_utils import _bounded
from ansible_collections.netaudit.sockets.plugins.module_utils._origin import rootfiles
from ansible_collections.netaudit.sockets.plugins.module_utils._origin.rootfiles import Unknown

PROXY_NAME = 'docker-proxy'


def is_docker_proxy(proc_root: str, pid: 'int | str') -> bool:
    """Whether process pid runs docker's own docker-proxy, as root."""
    folder = os.path.join(proc_root, str(pid))
    try:
        target = os.readlink(os.path.join(folder, 'exe'))
    except OSError:
        return False
    if os.path.basename(target) != PROXY_NAME:
        return False
    try:
        status = _bounded.read_text(os.path.join(folder, 'status'))
    except _bounded.BoundedReadError:
        return False
    uids = [line.split()[1:] for line in status.split('\n') if line.startswith('Uid:')]
    if len(uids) != 1 or set(uids[0]) != {'0'}:
        return False
    return rootfiles.trust_problem('/', target) is None


def arguments(proc_root: str, pid: 'int | str') -> 'dict[str, str]':
    """docker-proxy's flags from its command line, Go's flag syntax: -name value, --name value, -name=value, and
    a boolean flag alone (-use-listen-fd). A flag given twice counts with its last value, as in Go."""
    path = os.path.join(proc_root, str(pid), 'cmdline')
    try:
        words = [_bounded.host_text(word) for word in _bounded.read_bytes(path).split(b'\0')]
    except _bounded.BoundedReadError as exc:
        raise Unknown('unreadable: %s' % exc) from None
    flags: 'dict[str, str]' = {}
    index = 1
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith('-') or word in ('-', '--'):
            continue
        name = word.lstrip('-')
        if '=' in name:
            name, value = name.split('=', 1)
        elif index < len(words) and words[index] and not words[index].startswith('-'):
            value = words[index]
            index += 1
        else:
            value = 'true'
        flags[name] = value
    return flags


def target(flags: 'dict[str, str]', containers: 'list[tuple[str, dict[str, object]]]', pid: 'int | str') -> str:
    """The id of the running container docker-proxy (pid, flags) forwards to, among docker's containers
    [(id, container_state.docker fields)]; Unknown when none or several."""
    address = flags.get('container-ip')
    if not address:
        raise Unknown('docker-proxy (pid %s) names no -container-ip' % pid)
    port = '%s/%s' % (flags.get('container-port'), flags.get('proto') or 'tcp')
    candidates = [container_id for container_id, fields in containers
                  if fields.get('_running') and address in (fields.get('_addresses') or ())]  # type: ignore[operator]
    if len(candidates) > 1:
        published = dict(containers)
        candidates = [container_id for container_id in candidates
                      if flags.get('host-port') in published[container_id]['_ports'].get(port, ())]  # type: ignore[attr-defined]
    if len(candidates) != 1:
        raise Unknown('docker-proxy (pid %s) forwards to %s port %s, which %s running container\'s state names' % (
            pid, address, port, 'no' if not candidates else 'more than one'))
    return candidates[0]
