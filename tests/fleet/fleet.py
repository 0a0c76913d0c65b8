# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A test fleet on one machine: N hosts, each a network namespace with its own sshd.

Standard library (Python 3.11) and ``tests/support/scratch_netns.py``, which makes and deletes the hosts' network
namespaces as it does every namespace of the tests; needs root, ``ip`` (iproute2), ``unshare``/``nsenter``/``mount``
(util-linux), the OpenSSH client and ``/usr/sbin/sshd`` (``apt-get install -y openssh-server``).
``fleet_plumbing.py`` holds the root-namespace side (names, addresses, state, teardown, gc).

One fleet
---------
* a run id ``R`` (``[a-z0-9]{1,8}``; random 6 hex digits by default), so that fleets coexist;
* namespaces ``netaudit-R-h1`` ..., each joined by a veth pair (``naRh1`` in the root namespace, ``eth0``
  inside) to a bridge ``naRbr``; every link of the run carries the ifalias ``netaudit-fleet R``;
* a slice of 198.51.100.0/24 (TEST-NET-2), the smallest aligned block that fits, at least a /29: no other
  fleet's slice, no address, neighbour or route of the root namespace; a wider network of another tool
  (198.51.100.1/24 on its bridge) is avoided when possible, else the fleet takes a slice from the top end.
  The bridge gets the first address, the hosts the next ones; no forwarding, no default route;
* per host ``ip netns exec NS unshare --uts --mount sh -c ...``: hostname = inventory name, bind-mounted
  private ``/etc/hosts`` (every host of the fleet and ``fleet-controller``) and empty ``/etc/resolv.conf``
  (``setup`` does not wait on DNS), then ``sshd -D -e -f LAB/hosts/NAME/sshd_config`` (own host key, listens on
  the host's address only, root login with the lab's key only). With ``clean_shell`` (the default) root's
  ``~/.bashrc`` / ``~/.profile`` are blanked too, in the host only: the controller's pyenv init there costs
  about 0.5 s per ssh command, and Ansible runs several per task;
* a lab folder (given, or a new temporary one) with the client key pair, configs, sshd logs, ``inventory.yml``,
  ``fleet.json`` (the state) and ``cp/`` (the run's ssh ControlPersist sockets);
* a state file ``/run/netaudit-fleet/R.json`` (``$NETAUDIT_FLEET_STATE_DIR``) naming the owner process (pid and
  start time), so that ``gc`` removes fleets whose owner died.

Library
-------
Import it as ``fleet.fleet`` under the project's ``pytest.ini`` (``tests/`` on the path), or as ``fleet``
with ``tests/fleet`` on the path. The pytest fixtures are in ``pytest_fleet.py``. ::

    with Fleet(size=3, groups={"h1": ["web"]}, hostvars={"h2": {"http_port": 8080}}) as fl:
        subprocess.run(["ansible", "all", "-m", "ping", "-i", fl.inventory], env={**os.environ, **fl.env})
        fl.run_in("h1", ["ss", "-Htln"])                      # CompletedProcess, text output captured
        fl.spawn_in("h2", ["python3", "-m", "http.server"])   # Popen, killed at down()

``Fleet(size=3, lab_dir=None, groups=None, hostvars=None, groupvars=None, names=None, run_id=None, keep=False,
owner_pid=<this process>, clean_shell=True, pid_namespace=())``

* ``groups``: host -> group names; ``hostvars``: host -> variables (they override the connection variables,
  e.g. ``ansible_python_interpreter`` for an interpreter matrix); ``groupvars``: group -> variables;
  ``names``: the inventory names and hostnames (default ``h1`` .. ``hN``; ``size`` defaults to their number);
* ``keep``: keep the lab folder at ``down()`` (the ssh masters are closed all the same);
* ``clean_shell``: blank root's shell startup files in the hosts (see above);
* ``pid_namespace``: names of hosts whose sshd (and so every ssh session, every module) runs in a PID namespace of
  its own with its own ``/proc`` (``unshare --pid --fork --mount-proc``): processes started outside it, such as
  ``spawn_in``'s, are invisible there. ``Host.pid`` is then the ``unshare`` process, the sshd its only child;
* ``owner_pid``: ``gc`` tears the fleet down once that process is gone; ``None`` = detached, ``gc`` leaves it
  (while it is being built, a fleet belongs to the building process, so a crashed bring-up is gc's too);

``up()`` returns the fleet, or removes what it had built and raises ``FleetError`` with a message a person
can act on (what is missing, the sshd's log ...). ``down()`` is idempotent; so is ``with``.
Attributes: ``hosts`` (``Host(name, address, netns, index, veth, pid)``, ``pid`` = the sshd's), ``inventory``
(path), ``env`` (``ANSIBLE_SSH_CONTROL_PATH_DIR``, ``ANSIBLE_HOST_KEY_CHECKING=False``, ``ANSIBLE_INVENTORY``),
``lab_dir``, ``run_id``, ``subnet``, ``controller_address`` (the bridge), ``timings`` (seconds: ``lab``,
``network``, ``sshd``, ``ssh``, ``up``, ``down``).
Methods: ``host(name)``; ``run_in(host, argv, **kw)`` (``subprocess.run`` in the host's network, UTS and mount
namespaces through ``nsenter`` on its sshd); ``spawn_in(host, argv, **kw)`` (``Popen`` there, in a new session,
killed at ``down()``); ``ssh_argv(host, *command)`` (an ssh command line that leaves no master behind);
``Fleet.attach(lab_dir=... | run_id=...)`` (a handle on a fleet that another process brought up).
Functions: ``check_prerequisites()`` (``[(need, detail)]``), ``teardown(run_id)`` (every trace of a run,
also of a crashed one), ``gc()``, ``list_fleets()``.

Inventory (YAML): per host ``ansible_host``, ``ansible_user: root``, ``ansible_ssh_private_key_file``,
``ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null``,
``ansible_python_interpreter: /usr/bin/python3`` (always: discovery over ssh finds pyenv shims that fail),
``ansible_control_path_dir`` (the run's ``cp/``, so that any ansible run against it keeps its masters
there) and ``fleet_netns``; ``all.vars.fleet_run_id``; groups under ``all.children``.

CLI
---
::

    fleet.py up [--size N] [--lab DIR] [--run-id R] [--layout FILE.json] [--owner-pid PID] [--keep]
        brings a fleet up and leaves it up (detached unless --owner-pid); prints the inventory path
    fleet.py down (--lab DIR | --run-id R) [--keep]    idempotent; also removes a crashed run's leftovers
    fleet.py env (--lab DIR | --run-id R)               export lines for the run's ANSIBLE_* variables
    fleet.py list | gc | check

``--layout``: a JSON file with any of the keys ``groups``, ``hostvars``, ``groupvars``, ``names``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ipaddress
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

try:  # tests/fleet as the package "fleet" (pytest.ini puts tests/ on the path)
    from . import fleet_plumbing as plumbing
except ImportError:  # run as a script, or imported with tests/fleet itself on the path: tests/ too, for support/
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import fleet_plumbing as plumbing  # pylint: disable=import-error

from support import scratch_netns  # noqa: E402  (tests/ is on the path either way)

# The public API of the library lives here; these come from the plumbing module.
FleetError = plumbing.FleetError
check_prerequisites = plumbing.check_prerequisites
teardown = plumbing.teardown
gc = plumbing.gc
list_fleets = plumbing.list_fleets
allocate_subnet = plumbing.allocate_subnet
netns_name, veth_name, bridge_name = plumbing.netns_name, plumbing.veth_name, plumbing.bridge_name
STATE_DIR = plumbing.STATE_DIR

NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,62}")
GROUP_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_SIZE = 100
SSH_PORT = 22
READY_TIMEOUT = 10.0
# ssh binds "ControlPath.<17 random chars>" before renaming it to ControlPath = DIR/<40 hex chars>, and a
# unix socket path has at most 107 bytes: longer lab paths get their cp/ folder under STATE_DIR.
MAX_CONTROL_DIR = 48
SSH_OPTIONS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null")
# Shell startup files of the controller's root that the hosts' root does not read when clean_shell is on.
DOTFILES = (".bashrc", ".profile", ".bash_profile", ".bash_login")
# Arguments: hostname, private hosts file, an empty file, sshd_config, sshd, then the dotfiles to blank out.
_HOST_SCRIPT = ('name=$1 hosts=$2 empty=$3 config=$4 sshd=$5 && shift 5 && '
                'printf %s "$name" > /proc/sys/kernel/hostname && mount --bind "$hosts" /etc/hosts && '
                '{ [ ! -e /etc/resolv.conf ] || mount --bind "$empty" /etc/resolv.conf; } && '
                'for dotfile in "$@"; do mount --bind "$empty" "$dotfile" || exit 1; done && '
                'exec "$sshd" -D -e -f "$config"')

_live_fleets = []


@dataclass
class Host:
    name: str
    address: str
    netns: str
    index: int
    veth: str
    pid: int | None = None


def _yaml(value):
    # JSON scalars and flow collections are valid YAML.
    return json.dumps(value)


def render_inventory(hosts, host_vars, groups, groupvars, run_id):
    lines = [f"# Generated by tests/fleet/fleet.py for the test fleet {run_id}.",
             "all:", "  vars:", f"    fleet_run_id: {_yaml(run_id)}", "  hosts:"]
    for host in hosts:
        lines.append(f"    {host.name}:")
        lines.extend(f"      {key}: {_yaml(value)}" for key, value in host_vars[host.name].items())
    members = {}
    for host in hosts:
        for group in groups.get(host.name, ()):
            members.setdefault(group, []).append(host.name)
    for group in groupvars:
        members.setdefault(group, [])
    if members:
        lines.append("  children:")
    for group, names in members.items():
        lines.append(f"    {group}:")
        if names:
            lines.append("      hosts:")
            lines.extend(f"        {name}: {{}}" for name in names)
        if groupvars.get(group):
            lines.append("      vars:")
            lines.extend(f"        {key}: {_yaml(value)}" for key, value in groupvars[group].items())
    return "\n".join(lines) + "\n"


def _sshd_config(host, lab):
    hdir = os.path.join(lab, "hosts", host.name)
    return "\n".join([
        f"ListenAddress {host.address}",
        f"Port {SSH_PORT}",
        f"HostKey {hdir}/ssh_host_ed25519_key",
        f"PidFile {hdir}/sshd.pid",
        f"AuthorizedKeysFile {lab}/authorized_keys",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "Subsystem sftp internal-sftp",
        "LogLevel ERROR",
        "",
    ])


class Fleet:
    """N hosts, each a network namespace with its own sshd; see the module docstring."""

    def __init__(self, size=None, lab_dir=None, groups=None, hostvars=None, groupvars=None, names=None,
                 run_id=None, keep=False, owner_pid=os.getpid, clean_shell=True, pid_namespace=()):
        if size is None:
            size = len(names) if names is not None else 3
        if not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
            raise FleetError(f"fleet size must be an integer from 1 to {MAX_SIZE}, not {size!r}")
        self.names = list(names) if names is not None else [f"h{i}" for i in range(1, size + 1)]
        if len(self.names) != size or len(set(self.names)) != size:
            raise FleetError(f"names must be {size} distinct host names, got {self.names!r}")
        for name in self.names:
            if not NAME_RE.fullmatch(name) or name == "fleet-controller":
                raise FleetError(f"host name {name!r} is not a valid hostname (lower case, [a-z0-9-]; not"
                                 " 'fleet-controller', the bridge's name in the hosts' /etc/hosts)")
        if run_id is not None:
            plumbing.check_run_id(run_id)
        self.size = size
        self.groups = {host: [gs] if isinstance(gs, str) else list(gs) for host, gs in (groups or {}).items()}
        self.hostvars = {host: dict(vs) for host, vs in (hostvars or {}).items()}
        self.groupvars = {group: dict(vs) for group, vs in (groupvars or {}).items()}
        self._check_layout()
        self.run_id = run_id
        self.lab_dir = os.path.abspath(lab_dir) if lab_dir else None
        self.keep = keep
        self.clean_shell = clean_shell
        self.pid_namespace = set(pid_namespace)
        if self.pid_namespace - set(self.names):
            raise FleetError(f"pid_namespace names hosts that are not in the fleet: {sorted(self.pid_namespace - set(self.names))}")
        self.owner_pid = owner_pid() if callable(owner_pid) else owner_pid
        self.hosts = []
        self.subnet = None
        self.controller_address = None
        self.inventory = None
        self.env = {}
        self.timings = {}
        self._state = None
        self._procs = []

    def _check_layout(self):
        for label, mapping in (("groups", self.groups), ("hostvars", self.hostvars)):
            unknown = sorted(set(mapping) - set(self.names))
            if unknown:
                raise FleetError(f"{label} names hosts that are not in the fleet: {unknown} (hosts: {self.names})")
        for owner, variables in list(self.hostvars.items()) + list(self.groupvars.items()):
            bad = [key for key in variables if not isinstance(key, str) or not key.isidentifier()]
            if bad:
                raise FleetError(f"variables of {owner!r} have invalid names {bad}")
        for group in {g for gs in self.groups.values() for g in gs} | set(self.groupvars):
            if not GROUP_RE.fullmatch(group) or group in ("all", "ungrouped") or group in self.names:
                raise FleetError(f"invalid group name {group!r}: use [A-Za-z_][A-Za-z0-9_]*, not 'all',"
                                 " 'ungrouped' or a host name")

    # -- bring-up -------------------------------------------------------------------------------------------
    def up(self):
        missing = check_prerequisites()
        if missing:
            raise FleetError("cannot bring up a fleet: " + "; ".join(f"need {need}: {why}" for need, why in missing))
        if self._state is not None:
            raise FleetError(f"fleet {self.run_id} is already up")
        started = time.monotonic()
        self._reserve()  # raises before it has built anything
        try:
            for phase, step in (("lab", self._write_lab), ("network", self._build_network),
                                ("sshd", self._start_sshds_and_wait), ("ssh", self._verify_ssh)):
                phase_start = time.monotonic()
                step()
                self.timings[phase] = time.monotonic() - phase_start
            self._save_state()
            self.timings["up"] = time.monotonic() - started
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.down()
            if isinstance(exc, FleetError):
                raise
            if isinstance(exc, Exception):
                raise FleetError(f"fleet bring-up failed: {exc}") from exc
            raise
        return self

    def _reserve(self):
        """Pick the run id, subnet and lab folder and write the state file, before building anything."""
        with plumbing.state_lock():
            if self.run_id is None:
                taken = plumbing.orphan_run_ids()
                while self.run_id is None or self.run_id in taken or os.path.exists(plumbing.state_path(self.run_id)):
                    self.run_id = secrets.token_hex(3)
            elif os.path.exists(plumbing.state_path(self.run_id)) or self.run_id in plumbing.orphan_run_ids():
                raise FleetError(f"fleet run id {self.run_id!r} is in use; 'fleet.py down --run-id {self.run_id}'"
                                 " removes it")
            if self.lab_dir and os.path.exists(os.path.join(self.lab_dir, "fleet.json")):
                other = plumbing.read_json(os.path.join(self.lab_dir, "fleet.json")) or {}
                raise FleetError(f"lab folder {self.lab_dir} already holds fleet {other.get('run_id')!r}; tear it"
                                 f" down first (fleet.py down --lab {self.lab_dir})")
            self.subnet = allocate_subnet(self.size, *plumbing.taken_networks())
            addresses = list(self.subnet.hosts())
            self.controller_address = str(addresses[0])
            self.hosts = [Host(name, str(addresses[i]), netns_name(self.run_id, i), i, veth_name(self.run_id, i))
                          for i, name in enumerate(self.names, start=1)]
            lab_created = self.lab_dir is None or not os.path.exists(self.lab_dir)
            if self.lab_dir is None:
                self.lab_dir = tempfile.mkdtemp(prefix=f"netaudit-fleet-{self.run_id}-")
            os.makedirs(self.lab_dir, mode=0o700, exist_ok=True)
            control_dir = os.path.join(self.lab_dir, "cp")
            if len(control_dir) > MAX_CONTROL_DIR:
                control_dir = os.path.join(STATE_DIR, f"cp-{self.run_id}")
            os.makedirs(control_dir, mode=0o700, exist_ok=True)
            self.inventory = os.path.join(self.lab_dir, "inventory.yml")
            self.env = {"ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir, "ANSIBLE_HOST_KEY_CHECKING": "False",
                        "ANSIBLE_INVENTORY": self.inventory}
            # Until it is up, the fleet belongs to the process building it: gc removes a bring-up that crashed.
            self._state = {"run_id": self.run_id, "owner_pid": os.getpid(),
                           "owner_start": plumbing.start_time(os.getpid()), "lab_dir": self.lab_dir, "lab_created": lab_created, "keep": self.keep,
                           "control_path_dir": control_dir, "subnet": str(self.subnet),
                           "bridge": bridge_name(self.run_id), "controller_address": self.controller_address,
                           "inventory": self.inventory, "env": self.env, "created": time.time(),
                           "ready": False, "hosts": [asdict(host) for host in self.hosts]}
            plumbing.write_json(plumbing.state_path(self.run_id), self._state)
            plumbing.write_json(os.path.join(self.lab_dir, "fleet.json"), self._state)
        _live_fleets.append(self)

    def _write_lab(self):
        lab = self.lab_dir
        keygens = [(os.path.join(lab, "id_ed25519"), f"fleet-{self.run_id}")]
        for host in self.hosts:
            hdir = os.path.join(lab, "hosts", host.name)
            os.makedirs(hdir, mode=0o700, exist_ok=True)
            keygens.append((os.path.join(hdir, "ssh_host_ed25519_key"), host.name))
            with open(os.path.join(hdir, "sshd_config"), "w", encoding="utf-8") as handle:
                handle.write(_sshd_config(host, lab))
            with open(os.path.join(hdir, "hosts"), "w", encoding="utf-8") as handle:
                handle.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                             f"{self.controller_address}\tfleet-controller\n")
                handle.writelines(f"{other.address}\t{other.name}\n" for other in self.hosts)
        procs = []
        for path, comment in keygens:
            for stale in (path, path + ".pub"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
            procs.append(subprocess.Popen(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for proc in procs:
            err = proc.communicate()[1]
            if proc.returncode != 0:
                raise FleetError(f"ssh-keygen failed: {err.decode(errors='replace').strip()}")
        shutil.copyfile(os.path.join(lab, "id_ed25519.pub"), os.path.join(lab, "authorized_keys"))
        open(os.path.join(lab, "empty"), "w", encoding="ascii").close()
        with open(self.inventory, "w", encoding="utf-8") as handle:
            handle.write(render_inventory(self.hosts, self._host_vars(), self.groups, self.groupvars, self.run_id))

    def _host_vars(self):
        common = {"ansible_user": "root", "ansible_ssh_private_key_file": os.path.join(self.lab_dir, "id_ed25519"),
                  "ansible_ssh_common_args": " ".join(SSH_OPTIONS), "ansible_python_interpreter": "/usr/bin/python3",
                  "ansible_control_path_dir": self.env["ANSIBLE_SSH_CONTROL_PATH_DIR"]}
        return {host.name: {"ansible_host": host.address, **common, "fleet_netns": host.netns,
                            **self.hostvars.get(host.name, {})} for host in self.hosts}

    def _build_network(self):
        bridge = bridge_name(self.run_id)
        alias = f"{plumbing.LINK_ALIAS} {self.run_id}"
        prefix = self.subnet.prefixlen
        root = [f"link add {bridge} type bridge", f'link set {bridge} alias "{alias}"']
        for host in self.hosts:
            scratch_netns.make_namespace(host.netns)
            root += [f"link add {host.veth} type veth peer name eth0 netns {host.netns}",
                     f'link set {host.veth} alias "{alias}" master {bridge} up']
        root += [f"addr add {self.controller_address}/{prefix} dev {bridge}", f"link set {bridge} up"]
        plumbing.run(["ip", "-batch", "-"], stdin="\n".join(root) + "\n")
        procs = [(host, subprocess.Popen(["ip", "-n", host.netns, "-batch", "-"], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
                 for host in self.hosts]
        for host, proc in procs:
            err = proc.communicate(f"link set lo up\naddr add {host.address}/{prefix} dev eth0\nlink set eth0 up\n")
            if proc.returncode != 0:
                raise FleetError(f"configuring namespace {host.netns} failed: {err.strip()}")

    def _start_sshds_and_wait(self):
        self._start_sshds()
        self._wait_ready()

    def _start_sshds(self):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        lab = self.lab_dir
        dotfiles = []
        if self.clean_shell:
            home = pwd.getpwnam("root").pw_dir
            dotfiles = [path for path in (os.path.join(home, name) for name in DOTFILES) if os.path.isfile(path)]
        for host in self.hosts:
            hdir = os.path.join(lab, "hosts", host.name)
            with open(os.path.join(hdir, "sshd.log"), "wb") as log:
                # ip netns exec, unshare and sh all exec: the child's pid is the sshd's (with pid_namespace, the
                # unshare's, which stays the sshd's parent).
                own_pids = list(scratch_netns.PID_NAMESPACE) if host.name in self.pid_namespace else []
                proc = subprocess.Popen(
                    ["ip", "netns", "exec", host.netns, "unshare", "--uts", "--mount", *own_pids, "sh", "-c", _HOST_SCRIPT,
                     "fleet-host", host.name, os.path.join(hdir, "hosts"), os.path.join(lab, "empty"),
                     os.path.join(hdir, "sshd_config"), plumbing.SSHD, *dotfiles],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            host.pid = proc.pid
            self._procs.append(proc)

    def _sshd_failure(self, host, proc, what):
        log = ""
        with contextlib.suppress(OSError):
            with open(os.path.join(self.lab_dir, "hosts", host.name, "sshd.log"), encoding="utf-8",
                      errors="replace") as handle:
                log = handle.read().strip()
        status = f"exited with {proc.returncode}" if proc.poll() is not None else "is running"
        return FleetError(f"sshd of host {host.name} ({host.address} in {host.netns}) {what}; it {status};"
                          f" its log says: {log or '(nothing)'}")

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = list(zip(self.hosts, self._procs))
        while waiting:
            still = []
            for host, proc in waiting:
                if proc.poll() is not None:
                    raise self._sshd_failure(host, proc, "did not start")
                try:
                    socket.create_connection((host.address, SSH_PORT), timeout=0.2).close()
                except OSError:
                    still.append((host, proc))
            waiting = still
            if waiting and time.monotonic() > deadline:
                host, proc = waiting[0]
                raise self._sshd_failure(host, proc, f"did not accept connections within {READY_TIMEOUT:.0f} s")
            if waiting:
                time.sleep(0.02)

    def ssh_argv(self, host, *command):
        """An ssh command line into ``host`` that uses no ControlPersist master (nothing outlives it)."""
        host = self.host(host)
        return ["ssh", "-F", "/dev/null", "-i", os.path.join(self.lab_dir, "id_ed25519"), *SSH_OPTIONS,
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "ControlMaster=no",
                "-o", "ControlPath=none", f"root@{host.address}", *command]

    def _verify_ssh(self):
        procs = [(host, subprocess.Popen(self.ssh_argv(host, "hostname"), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
                 for host in self.hosts]
        for host, proc in procs:
            try:
                out, err = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            if proc.returncode != 0 or out.strip() != host.name:
                raise FleetError(f"'ssh root@{host.address} hostname' for host {host.name} failed (exit"
                                 f" {proc.returncode}): stdout {out.strip()!r}, stderr {err.strip()!r}")

    def _save_state(self):
        self._state.update(ready=True, hosts=[asdict(host) for host in self.hosts], owner_pid=self.owner_pid,
                           owner_start=plumbing.start_time(self.owner_pid) if self.owner_pid else None)
        plumbing.write_json(plumbing.state_path(self.run_id), self._state)
        plumbing.write_json(os.path.join(self.lab_dir, "fleet.json"), self._state)

    # -- use ------------------------------------------------------------------------------------------------
    @classmethod
    def attach(cls, lab_dir=None, run_id=None):
        """A handle on a fleet that is up (built by this or another process), from its lab folder or run id."""
        if lab_dir:
            state = plumbing.read_json(os.path.join(os.path.abspath(lab_dir), "fleet.json"))
        else:
            state = plumbing.read_json(plumbing.state_path(run_id or ""))
        if not state:
            raise FleetError(f"no fleet is up in {lab_dir}" if lab_dir else f"no fleet with run id {run_id!r}")
        hosts = [Host(**host) for host in state["hosts"]]
        fleet = cls(size=len(hosts), lab_dir=state["lab_dir"], names=[host.name for host in hosts],
                    run_id=state["run_id"], keep=state.get("keep", False), owner_pid=state.get("owner_pid"))
        fleet.hosts, fleet._state, fleet.env = hosts, state, dict(state["env"])
        fleet.subnet = ipaddress.ip_network(state["subnet"])
        fleet.controller_address, fleet.inventory = state["controller_address"], state["inventory"]
        return fleet

    def host(self, name):
        if isinstance(name, Host):
            return name
        for host in self.hosts:
            if host.name == name:
                return host
        raise FleetError(f"no host {name!r} in fleet {self.run_id} (hosts: {[h.name for h in self.hosts]})")

    def enter_argv(self, host, argv, cwd=None):
        """``argv`` prefixed so that it runs in the host's network, UTS and mount namespaces."""
        host = self.host(host)
        if host.pid and plumbing.in_netns(host.pid, host.netns):
            return ["nsenter", "-t", str(host.pid), "-n", "-u", "-m", f"--wd={cwd or os.getcwd()}", "--", *argv]
        # The sshd is gone (a test killed it): network namespace only.
        return ["ip", "netns", "exec", host.netns, *argv]

    def run_in(self, host, argv, **kwargs):
        """``subprocess.run`` inside ``host``; output captured as text unless stdout/stderr are given."""
        if not {"stdout", "stderr", "capture_output"} & set(kwargs):
            kwargs["capture_output"] = True
        kwargs.setdefault("text", True)
        check = kwargs.pop("check", False)
        return subprocess.run(self.enter_argv(host, argv, kwargs.get("cwd")), check=check, **kwargs)

    def spawn_in(self, host, argv, **kwargs):
        """``subprocess.Popen`` inside ``host``, in a new session; killed at ``down()``."""
        kwargs.setdefault("start_new_session", True)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.enter_argv(host, argv, kwargs.get("cwd")), **kwargs)
        self._procs.append(proc)
        return proc

    # -- teardown -------------------------------------------------------------------------------------------
    def down(self):
        """Remove the fleet and everything it started; idempotent."""
        started = time.monotonic()
        if self._state is not None:
            teardown(self.run_id, self._state, keep_lab=self.keep)
            self._state = None
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        self._procs = []
        if self in _live_fleets:
            _live_fleets.remove(self)
        self.timings["down"] = time.monotonic() - started

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc_info):
        self.down()

    def __repr__(self):
        return f"<Fleet {self.run_id} {self.subnet} {[h.name for h in self.hosts]} lab={self.lab_dir}>"


@atexit.register
def _down_at_exit():
    for fleet in list(_live_fleets):
        if fleet.owner_pid == os.getpid():  # not in a forked child
            with contextlib.suppress(Exception):
                fleet.down()


def _cli(argv=None):
    parser = argparse.ArgumentParser(prog="fleet.py", description="A test fleet of namespace hosts with sshd.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring a fleet up, leave it up, print the inventory path")
    up.add_argument("--size", type=int, default=3)
    up.add_argument("--lab", help="lab folder (default: a new temporary folder)")
    up.add_argument("--run-id")
    up.add_argument("--layout", help="JSON file with optional keys groups, hostvars, groupvars, names")
    up.add_argument("--owner-pid", type=int, help="gc tears the fleet down once this process is gone"
                    " (default: none, the fleet stays until 'down')")
    up.add_argument("--keep", action="store_true", help="keep the lab folder at 'down'")
    up.add_argument("--no-clean-shell", dest="clean_shell", action="store_false",
                    help="let the hosts' root read the controller's ~/.bashrc and ~/.profile")
    for name, text in (("down", "tear a fleet down (idempotent)"), ("env", "print export lines for ANSIBLE_*")):
        cmd = sub.add_parser(name, help=text)
        which = cmd.add_mutually_exclusive_group(required=True)
        which.add_argument("--lab")
        which.add_argument("--run-id")
    sub.choices["down"].add_argument("--keep", action="store_true", help="keep the lab folder")
    sub.add_parser("list", help="list recorded fleets")
    sub.add_parser("gc", help="tear down fleets whose owner process is gone, and stateless leftovers")
    sub.add_parser("check", help="say what is missing to build a fleet here")
    args = parser.parse_args(argv)

    if args.command == "up":
        layout = {}
        if args.layout:
            try:
                with open(args.layout, encoding="utf-8") as handle:
                    layout = json.load(handle)
            except (OSError, ValueError) as exc:
                raise FleetError(f"cannot read the layout {args.layout}: {exc}") from exc
            unknown = sorted(set(layout) - {"groups", "hostvars", "groupvars", "names"})
            if unknown:
                raise FleetError(f"layout {args.layout} has unknown keys {unknown}: use groups, hostvars,"
                                 " groupvars, names")
        fleet = Fleet(size=args.size, lab_dir=args.lab, run_id=args.run_id, keep=args.keep,
                      owner_pid=args.owner_pid, clean_shell=args.clean_shell, **layout)
        fleet.up()
        if fleet in _live_fleets:
            _live_fleets.remove(fleet)  # left up on purpose
        print(f"fleet {fleet.run_id} up in {fleet.timings['up']:.2f} s: {len(fleet.hosts)} hosts in {fleet.subnet}",
              file=sys.stderr)
        print(fleet.inventory)
    elif args.command == "down":
        state = plumbing.read_json(os.path.join(os.path.abspath(args.lab), "fleet.json")) if args.lab else None
        run_id = state["run_id"] if state else args.run_id
        if not run_id:
            print(f"fleet.py: no fleet state in {args.lab}: nothing to tear down", file=sys.stderr)
            return 0
        teardown(run_id, state or None, keep_lab=args.keep)
    elif args.command == "env":
        for key, value in Fleet.attach(lab_dir=args.lab, run_id=args.run_id).env.items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.command == "list":
        for state in list_fleets():
            owner = state["owner_pid"] if state["owner_pid"] else "detached"
            print(f"{state['run_id']}\t{state['subnet']}\t{len(state['hosts'])} hosts\towner {owner}"
                  f"{'' if state['owner_alive'] else ' (gone)'}\t{state['lab_dir']}")
    elif args.command == "gc":
        for run_id in gc():
            print(f"removed fleet {run_id}")
    elif args.command == "check":
        missing = check_prerequisites()
        for need, why in missing:
            print(f"need {need}: {why}")
        return 1 if missing else 0
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_cli())
    except FleetError as error:
        print(f"fleet.py: error: {error}", file=sys.stderr)
        sys.exit(1)
