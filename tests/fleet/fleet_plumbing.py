# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The root-namespace side of the test fleet (``fleet.py``): names, addresses, state files, teardown, gc.

Everything here is keyed by a run id and touches only what carries that run's names: namespaces
``netaudit-R-h<i>``, links ``naRh<i>`` / ``naRbr`` (marked with the ifalias ``netaudit-fleet R``), the processes
that ``ip netns pids`` lists for those namespaces, and the ssh masters of the run's ControlPath folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import time

from support import scratch_netns  # tests/ is on the path (pytest.ini; fleet.py puts it there when run as a script)

SSHD = "/usr/sbin/sshd"
STATE_DIR = os.environ.get("NETAUDIT_FLEET_STATE_DIR", "/run/netaudit-fleet")
NETWORK = ipaddress.ip_network("198.51.100.0/24")
LINK_ALIAS = "netaudit-fleet"
RUN_ID_RE = re.compile(r"[a-z0-9]{1,8}")
# What a fleet creates in a lab folder; in a folder it did not create itself, teardown removes only these.
LAB_ENTRIES = ("fleet.json", "inventory.yml", "id_ed25519", "id_ed25519.pub", "authorized_keys", "empty", "cp",
               "hosts")

_lock_depth = 0


class FleetError(Exception):
    """A fleet could not be built or removed; the message says why and what to do."""


def netns_name(run_id, index):
    return f"netaudit-{run_id}-h{index}"


def veth_name(run_id, index):
    return f"na{run_id}h{index}"


def bridge_name(run_id):
    return f"na{run_id}br"


def check_run_id(run_id):
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise FleetError(f"invalid run id {run_id!r}: expected 1 to 8 characters of [a-z0-9]")
    return run_id


def check_prerequisites():
    """What is missing to build a fleet here, as ``(need, detail)`` pairs; empty when all is there."""
    problems = []
    if os.geteuid() != 0:
        problems.append(("root", f"running as uid {os.geteuid()}; namespaces, veth links and sshd need root"))
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"), ("nsenter", "util-linux"),
                          ("ssh", "openssh-client"), ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None:
            problems.append((tool, f"{tool} is not on PATH (apt-get install -y {package})"))
    if not os.access(SSHD, os.X_OK):
        problems.append(("sshd", f"{SSHD} is missing (apt-get install -y openssh-server)"))
    if not problems:
        probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            problems.append(("ip netns", f"'ip netns list' failed: {probe.stderr.strip()}"))
    return problems


def run(argv, stdin=None, check=True):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise FleetError(f"{' '.join(argv)} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc


def ip_json(*args):
    return json.loads(run(["ip", "-j", *args]).stdout or "[]")


# -- state ---------------------------------------------------------------------------------------------------

def start_time(pid):
    """Start time of a process (clock ticks since boot): tells a live owner from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def owner_alive(state):
    """True for a detached fleet (no owner) and for one whose owner process still runs."""
    pid = state.get("owner_pid")
    return pid is None or start_time(pid) == state.get("owner_start")


@contextlib.contextmanager
def state_lock():
    """Serialise reservation, teardown and gc between processes (re-entrant within one process)."""
    global _lock_depth  # pylint: disable=global-statement
    if _lock_depth:  # flock on a second descriptor of this process would wait for itself
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1
        return
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    with open(os.path.join(STATE_DIR, ".lock"), "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _lock_depth = 1
        try:
            yield
        finally:
            _lock_depth = 0


def state_path(run_id):
    return os.path.join(STATE_DIR, f"{run_id}.json")


def read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise FleetError(f"cannot read fleet state {path}: {exc}") from exc


def write_json(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def list_fleets():
    """States of the fleets recorded under STATE_DIR, each with an added ``owner_alive`` key."""
    fleets = []
    if os.path.isdir(STATE_DIR):
        for entry in sorted(os.listdir(STATE_DIR)):
            if entry.endswith(".json") and RUN_ID_RE.fullmatch(entry[:-5]):
                state = read_json(os.path.join(STATE_DIR, entry))
                if state:
                    fleets.append(dict(state, owner_alive=owner_alive(state)))
    return fleets


# -- addresses -----------------------------------------------------------------------------------------------

def taken_networks():
    """``(hard, soft)``: what a new fleet must not overlap, and what it should rather not overlap.

    Hard: the slices of recorded fleets, every address and neighbour the root namespace has in NETWORK, and
    host routes. Soft: wider networks of others there (another tool's bridge with 198.51.100.1/24, say): a
    fleet may still take a slice of those, preferring the top end, as they are numbered from .1 upward.
    """
    ours = [ipaddress.ip_network(fleet["subnet"]) for fleet in list_fleets() if fleet.get("subnet")]
    hard, soft = list(ours), []
    for link in ip_json("-4", "addr", "show"):
        for addr in link.get("addr_info", []):
            iface = ipaddress.ip_interface(f"{addr['local']}/{addr['prefixlen']}")
            hard.append(ipaddress.ip_network(iface.ip))
            soft.append(iface.network)
    for route in ip_json("-4", "route", "show", "table", "all"):
        with contextlib.suppress(ValueError):
            net = ipaddress.ip_network(route.get("dst", ""), strict=False)
            (hard if net.prefixlen == 32 else soft).append(net)
    for neigh in ip_json("-4", "neigh", "show"):
        with contextlib.suppress(ValueError):
            hard.append(ipaddress.ip_network(neigh.get("dst", "")))

    def relevant(net):
        return net.version == 4 and net.overlaps(NETWORK)

    soft = [net for net in soft if relevant(net) and not any(net.subnet_of(own) for own in ours)]
    return [net for net in hard if relevant(net)], soft


def allocate_subnet(size, hard, soft=()):
    """An aligned block of NETWORK, at least a /29, for ``size`` hosts; see :func:`taken_networks`."""
    prefix = 29
    while 2 ** (32 - prefix) < size + 3:  # network, bridge and broadcast addresses
        prefix -= 1
    candidates = list(NETWORK.subnets(new_prefix=prefix))
    for candidate in candidates:
        if not any(candidate.overlaps(net) for net in (*hard, *soft)):
            return candidate
    for candidate in reversed(candidates):
        if not any(candidate.overlaps(net) for net in hard):
            return candidate
    raise FleetError(f"no free /{prefix} left in {NETWORK} for {size} hosts: taken by"
                     f" {sorted(map(str, set(hard)))}; 'fleet.py list' and 'fleet.py gc' find stale fleets")


# -- processes -----------------------------------------------------------------------------------------------

def in_netns(pid, netns):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return False


def netns_pids(netns):
    proc = run(["ip", "netns", "pids", netns], check=False)
    return [int(pid) for pid in proc.stdout.split()] if proc.returncode == 0 else []


def _signal(pids, signum):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def kill_netns_processes(namespaces, grace=1.0, limit=3.0):
    """SIGTERM, then SIGKILL after ``grace`` s, exactly the processes ``ip netns pids`` lists for ``namespaces``.

    Returns the pids still there after ``limit`` s (none, unless a process hangs in the kernel).
    """
    started = time.monotonic()
    terminated = set()
    while True:
        pids = [pid for netns in namespaces for pid in netns_pids(netns)]
        elapsed = time.monotonic() - started
        if not pids or elapsed > limit:
            return pids
        _signal([pid for pid in pids if pid not in terminated], signal.SIGTERM)
        terminated.update(pids)
        if elapsed > grace:
            _signal(pids, signal.SIGKILL)
        time.sleep(0.02)


def ssh_pids_mentioning(text):
    """ssh processes whose command line contains ``text`` (a master retitles itself "ssh: PATH [mux]")."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/comm", "rb") as handle:
                    if handle.read().strip() != b"ssh":
                        continue
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if text.encode() in handle.read():
                        found.append(int(entry))
    return found


def close_control_masters(control_dir):
    """``ssh -O exit`` every ControlPersist master with a socket in ``control_dir``, then remove the sockets."""
    if not control_dir or not os.path.isdir(control_dir):
        return
    sockets = [os.path.join(control_dir, name) for name in os.listdir(control_dir)]
    procs = [subprocess.Popen(["ssh", "-O", "exit", "-o", f"ControlPath={path}", "x"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for path in sockets]
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for path in sockets:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    # A master that did not answer "-O exit" still names the folder on its command line.
    _signal(ssh_pids_mentioning(os.path.join(control_dir, "")), signal.SIGTERM)


# -- teardown ------------------------------------------------------------------------------------------------

def _remove_lab(state):
    lab = state.get("lab_dir")
    if not lab or not os.path.isdir(lab):
        return
    if state.get("lab_created"):
        shutil.rmtree(lab, ignore_errors=True)
        return
    for entry in LAB_ENTRIES:
        path = os.path.join(lab, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _run_links(run_id):
    """Links named like run ``run_id``'s that carry its mark (or none: a crash between creating and marking)."""
    name_re = re.compile(rf"na{re.escape(run_id)}(h\d+|br)")
    return [link["ifname"] for link in ip_json("link", "show")
            if name_re.fullmatch(link["ifname"]) and link.get("ifalias", f"{LINK_ALIAS} {run_id}")
            == f"{LINK_ALIAS} {run_id}"]


def _run_namespaces(run_id):
    name_re = re.compile(rf"netaudit-{re.escape(run_id)}-h\d+")
    return [name for name in os.listdir("/run/netns") if name_re.fullmatch(name)] if os.path.isdir(
        "/run/netns") else []


def teardown(run_id, state=None, keep_lab=False):
    """Remove every trace of run ``run_id``: ssh masters, processes, links, namespaces, state, lab folder.

    Idempotent. Works from the state (given, or read from STATE_DIR) and, for what the state does not name
    (a run that crashed before writing it), from the run's names.
    """
    check_run_id(run_id)
    with state_lock():
        state = state or read_json(state_path(run_id)) or {}
        keep_lab = keep_lab or state.get("keep", False)
        close_control_masters(state.get("control_path_dir"))
        namespaces = _run_namespaces(run_id)
        survivors = kill_netns_processes(namespaces)
        commands = [f"link del dev {name}" for name in _run_links(run_id)]
        if commands:
            # -force: a veth that went away with its peer in between is not an error.
            run(["ip", "-force", "-batch", "-"], stdin="\n".join(commands) + "\n", check=False)
        for name in namespaces:
            scratch_netns.delete_namespace(name)
        left = _run_namespaces(run_id) + _run_links(run_id) + [f"pid {pid}" for pid in survivors]
        if left:
            raise FleetError(f"teardown of fleet {run_id} left {left} behind; 'fleet.py down --run-id {run_id}'"
                             " tries again")
        if not keep_lab:
            _remove_lab(state)
        elif state.get("lab_dir"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(state["lab_dir"], "fleet.json"))
        control_dir = state.get("control_path_dir")
        if control_dir and control_dir.startswith(os.path.join(STATE_DIR, "")):
            shutil.rmtree(control_dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(state_path(run_id))


def orphan_run_ids():
    """Run ids that have namespaces or marked links but no state file."""
    found = set()
    if os.path.isdir("/run/netns"):
        for name in os.listdir("/run/netns"):
            match = re.fullmatch(r"netaudit-([a-z0-9]{1,8})-h\d+", name)
            if match:
                found.add(match.group(1))
    for link in ip_json("link", "show"):
        alias = link.get("ifalias", "").split()
        if len(alias) == 2 and alias[0] == LINK_ALIAS and RUN_ID_RE.fullmatch(alias[1]):
            found.add(alias[1])
    return {run_id for run_id in found if not os.path.exists(state_path(run_id))}


def gc():
    """Tear down fleets whose owner process is gone, and leftovers without a state file; return their run ids."""
    removed = []
    with state_lock():
        for state in list_fleets():
            if not state["owner_alive"]:
                teardown(state["run_id"], state)
                removed.append(state["run_id"])
        for run_id in sorted(orphan_run_ids()):
            teardown(run_id)
            removed.append(run_id)
    return removed
