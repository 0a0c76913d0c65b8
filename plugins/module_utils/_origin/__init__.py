# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to netaudit.sockets: where a socket comes from (issue 14), one file per idea.

- cgroups.py: cgroup id -> path, a process's cgroup paths (`cgroup`, `owner_cgroups`).
- units.py, socket_units.py, unit_files.py, managers.py: the systemd unit of a process, and the `.socket` unit of a
  socket a systemd manager holds (`unit`); attribute.py: the fields `cgroup`, `owner_cgroups`, `unit` of a run.
- containers.py: the container a process runs in (or docker-proxy forwards to), a network namespace's container
  (`container`).
- container_state.py: each container runtime's state files, read-only; boltdb.py: podman's bbolt database.
- packages.py: the package of a process's executable, dpkg (`package`); rpmdb.py: rpm's SQLite database.
- security.py: a process's SELinux or AppArmor label (`security_context`).
- rootfiles.py: bounded reads of files only root can have written, and the reasons when they cannot be believed.
"""
