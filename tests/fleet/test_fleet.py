# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the namespace test fleet: real ansible over ssh against it, and nothing left after teardown."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.natest import VENV_BIN, ansible_env, run_adhoc

try:
    from fleet import fleet as fleetlib, pytest_fleet  # pytest.ini puts tests/ on the path: package "fleet"
except ImportError:
    import fleet as fleetlib  # tests/fleet itself on the path
    import pytest_fleet

FLEET_PY = Path(fleetlib.__file__).resolve()
root = pytest.mark.root


def adhoc(fleet, pattern, module, args=None, extra=()):
    """``ansible PATTERN -m MODULE`` against the fleet; every host's result must be there."""
    results, proc = run_adhoc(pattern, module, args, inventory=fleet.inventory, extra=extra,
                              env=ansible_env(**fleet.env))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return results


def inventory_list(path):
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", path, "--list"],
                          env=ansible_env(), capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def live_pids(pids):
    """The pids of ``pids`` that are processes, not zombies waiting for PID 1 to reap them."""
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().rpartition(")")[2].split()[0] != "Z":
                    alive.append(pid)
        except OSError:
            pass
    return alive


def traces(run_id, control_dir=None, lab=None):
    """What the system still holds of run ``run_id``: namespaces, links, processes, control sockets."""
    marks = [mark for mark in (f"netaudit-fleet-{run_id}-", control_dir, lab) if mark]
    namespaces = [line.split()[0] for line in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                             text=True, check=True).stdout.splitlines()]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    ps_out = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    procs = [line for line in ps_out.splitlines()
             if any(mark in line for mark in marks) and line.split()[1][0] != "Z"]
    sockets = os.listdir(control_dir) if control_dir and os.path.isdir(control_dir) else []
    return {
        "netns": [ns for ns in namespaces if ns.startswith(f"netaudit-{run_id}-")],
        "links": re.findall(rf"\d+: (na{run_id}(?:h\d+|br))[@:]", links),
        "processes": procs,
        "control_sockets": sockets,
        "state": os.path.exists(os.path.join(fleetlib.STATE_DIR, f"{run_id}.json")),
    }


def processes_in(netns_inodes):
    """Processes (not zombies) whose network namespace is one of ``netns_inodes``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino in netns_inodes:
                    found.append(int(entry))
            except OSError:
                pass
    return live_pids(found)


NOTHING = {"netns": [], "links": [], "processes": [], "control_sockets": [], "state": False}


# -- without root: names, addresses, inventory ---------------------------------------------------------------

def test_link_names_fit_the_kernel_limit():
    assert len(fleetlib.veth_name("abcdefgh", fleetlib.MAX_SIZE)) <= 15
    assert len(fleetlib.bridge_name("abcdefgh")) <= 15
    assert fleetlib.netns_name("ab12", 3) == "netaudit-ab12-h3"


def networks(*texts):
    return [ipaddress.ip_network(text) for text in texts]


@pytest.mark.parametrize(("size", "hard", "soft", "expected"), [
    (3, [], [], "198.51.100.0/29"),
    (5, [], [], "198.51.100.0/29"),
    (6, [], [], "198.51.100.0/28"),
    (10, [], [], "198.51.100.0/28"),
    (100, [], [], "198.51.100.0/25"),
    (3, ["198.51.100.0/29"], [], "198.51.100.8/29"),
    (10, ["198.51.100.0/29"], [], "198.51.100.16/28"),
    (3, ["198.51.100.1/32", "198.51.100.9/32"], [], "198.51.100.16/29"),
    # Another tool's bridge has 198.51.100.1/24: take the top end, clear of its broadcast address.
    (3, ["198.51.100.1/32", "198.51.100.255/32"], ["198.51.100.0/24"], "198.51.100.240/29"),
    (10, ["198.51.100.1/32"], ["198.51.100.0/26"], "198.51.100.64/28"),
])
def test_subnet_slices(size, hard, soft, expected):
    subnet = fleetlib.allocate_subnet(size, networks(*hard), networks(*soft))
    assert str(subnet) == expected
    assert len(list(subnet.hosts())) >= size + 1  # the bridge, then the hosts


def test_subnet_exhausted_says_what_is_taken():
    with pytest.raises(fleetlib.FleetError, match=r"no free /29 left .*198\.51\.100\.0/24.*fleet\.py gc"):
        fleetlib.allocate_subnet(3, networks("198.51.100.0/24"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"size": 0}, "size must be an integer from 1"),
    ({"size": 2, "groups": {"h3": ["web"]}}, r"groups names hosts that are not in the fleet: \['h3'\]"),
    ({"groups": {"h1": ["all"]}}, "invalid group name 'all'"),
    ({"groups": {"h1": ["h2"]}}, "invalid group name 'h2'"),
    ({"hostvars": {"h1": {"bad-name": 1}}}, "invalid names"),
    ({"names": ["a", "a", "b"]}, "distinct host names"),
    ({"names": ["Web_1"]}, "not a valid hostname"),
    ({"names": ["fleet-controller"]}, "not a valid hostname"),
    ({"run_id": "Bad-Id"}, "invalid run id"),
])
def test_bad_layouts_are_refused(kwargs, message):
    with pytest.raises(fleetlib.FleetError, match=message):
        fleetlib.Fleet(**kwargs)


def test_inventory_renders_groups_and_vars_for_ansible(tmp_path):
    hosts = [fleetlib.Host(f"h{i}", f"198.51.100.{i + 1}", f"netaudit-x-h{i}", i, f"naxh{i}") for i in (1, 2, 3)]
    host_vars = {host.name: {"ansible_host": host.address, "fleet_netns": host.netns} for host in hosts}
    host_vars["h3"]["extra"] = {"nested": [1, "two", None], "quote": 'say "hi"\n'}
    text = fleetlib.render_inventory(hosts, host_vars, {"h1": ["web"], "h2": ["web", "db"]},
                                     {"db": {"db_port": 5432}, "empty": {}}, "x")
    (tmp_path / "inventory.yml").write_text(text, encoding="utf-8")
    inventory = inventory_list(str(tmp_path / "inventory.yml"))
    assert sorted(inventory["web"]["hosts"]) == ["h1", "h2"]
    assert inventory["db"]["hosts"] == ["h2"]
    hostvars = inventory["_meta"]["hostvars"]
    assert hostvars["h2"]["db_port"] == 5432
    assert hostvars["h3"]["extra"] == {"nested": [1, "two", None], "quote": 'say "hi"\n'}
    assert hostvars["h1"]["fleet_run_id"] == "x"
    assert hostvars["h1"]["fleet_netns"] == "netaudit-x-h1"


def test_missing_sshd_is_named_with_the_fix(monkeypatch):
    monkeypatch.setattr(fleetlib.plumbing, "SSHD", "/nonexistent/sbin/sshd")
    assert ("sshd", "/nonexistent/sbin/sshd is missing (apt-get install -y openssh-server)") in \
        fleetlib.check_prerequisites()
    with pytest.raises(fleetlib.FleetError, match=r"need sshd: .*apt-get install -y openssh-server"):
        fleetlib.Fleet(size=1).up()


def test_skip_reason_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(fleetlib.plumbing, "SSHD", "/nonexistent/sbin/sshd")
    assert pytest_fleet.skip_reason() == (
        "fleet tests need root: running as uid 1000; namespaces, veth links and sshd need root;"
        " need sshd: /nonexistent/sbin/sshd is missing (apt-get install -y openssh-server)")


# -- with root: the session fleet --------------------------------------------------------------------------

@root
def test_ping_reaches_every_host(fleet):
    results = adhoc(fleet, "all", "ansible.builtin.ping")
    pongs = {host: result.get("ping") for host, result in results.items()}
    assert pongs == {"h1": "pong", "h2": "pong", "h3": "pong"}


@root
def test_setup_reports_each_hosts_own_name_without_dns_wait(fleet):
    results = adhoc(fleet, "all", "ansible.builtin.setup", "gather_subset=min")
    names = {host: (res["ansible_facts"]["ansible_hostname"], res["ansible_facts"]["ansible_fqdn"])
             for host, res in results.items()}
    # The FQDN equals the short name only when it came from the private /etc/hosts, not from a resolver.
    assert names == {host.name: (host.name, host.name) for host in fleet.hosts}


@root
def test_each_host_sees_only_its_own_sshd(fleet):
    results = adhoc(fleet, "all", "ansible.builtin.command", "ss -Htln")
    for host in fleet.hosts:
        listeners = [line.split()[3] for line in results[host.name]["stdout_lines"]]
        assert listeners == [f"{host.address}:22"], (host.name, results[host.name]["stdout"])


@root
def test_hosts_have_private_name_files(fleet):
    h2 = fleet.host("h2")
    assert fleet.run_in(h2, ["hostname"]).stdout.strip() == "h2"
    assert fleet.run_in(h2, ["cat", "/etc/resolv.conf"]).stdout == ""
    for other in fleet.hosts:
        resolved = fleet.run_in(h2, ["getent", "hosts", other.name]).stdout.split()
        assert resolved[:2] == [other.address, other.name]
    assert fleet.run_in(h2, ["getent", "hosts", "fleet-controller"]).stdout.split()[0] == fleet.controller_address
    # The root namespace keeps its own name.
    assert subprocess.run(["hostname"], capture_output=True, text=True, check=True).stdout.strip() != "h2"


@root
def test_inventory_always_pins_the_interpreter(fleet):
    hostvars = inventory_list(fleet.inventory)["_meta"]["hostvars"]
    for host in fleet.hosts:
        assert hostvars[host.name]["ansible_python_interpreter"] == "/usr/bin/python3"
        assert hostvars[host.name]["fleet_netns"] == host.netns
        assert hostvars[host.name]["ansible_host"] == host.address


@root
def test_attach_finds_a_running_fleet(fleet):
    attached = fleetlib.Fleet.attach(lab_dir=fleet.lab_dir)
    assert [(h.name, h.address, h.netns) for h in attached.hosts] == [(h.name, h.address, h.netns) for h in fleet.hosts]
    assert attached.run_in("h3", ["hostname"]).stdout.strip() == "h3"
    assert attached.env == fleet.env


# -- with root: fleets of their own ------------------------------------------------------------------------

@root
def test_groups_and_vars_reach_ansible(fleet_factory):
    fl = fleet_factory(3, groups={"h1": ["web"], "h2": ["web", "db"]}, hostvars={"h3": {"fleet_role": "spare"}},
                       groupvars={"db": {"db_port": 5432}})
    assert sorted(adhoc(fl, "web", "ansible.builtin.ping")) == ["h1", "h2"]
    message = "{{ fleet_role | default('-') }} {{ db_port | default('-') }}"
    results = adhoc(fl, "all", "ansible.builtin.debug", json.dumps({"msg": message}))
    assert {host: res["msg"] for host, res in results.items()} == {"h1": "- -", "h2": "- 5432", "h3": "spare -"}


@root
def test_spawned_listener_is_reachable_and_killed_at_down(fleet_factory):
    fl = fleet_factory(2)
    h1, h2 = fl.hosts
    listener = fl.spawn_in(h1, [sys.executable, "-c", (
        "import socket\n"
        f"s = socket.create_server(('{h1.address}', 8080))\n"
        "while True:\n    c, _ = s.accept(); c.sendall(b'hello'); c.close()\n")])
    deadline = time.monotonic() + 10
    while ":8080" not in fl.run_in(h1, ["ss", "-Htln"]).stdout:
        assert listener.poll() is None and time.monotonic() < deadline, "listener did not come up"
        time.sleep(0.05)
    probe = fl.run_in(h2, [sys.executable, "-c", (
        "import socket\n"
        f"print(socket.create_connection(('{h1.address}', 8080), timeout=5).recv(5).decode())\n")])
    assert probe.stdout.strip() == "hello", probe.stderr
    # The controller has no listener on 8080: it lives in h1's namespace.
    controller = subprocess.run(["ss", "-Htln"], capture_output=True, text=True, check=True).stdout
    assert f"{h1.address}:8080" not in controller
    fl.down()
    assert listener.poll() is not None
    assert live_pids([listener.pid]) == []


@root
def test_teardown_leaves_nothing_behind(fleet_factory):
    fl = fleet_factory(3)
    run_id, lab, control_dir = fl.run_id, fl.lab_dir, fl.env["ANSIBLE_SSH_CONTROL_PATH_DIR"]
    sshd_pids = [host.pid for host in fl.hosts]
    inodes = {os.stat(f"/run/netns/{host.netns}").st_ino for host in fl.hosts}
    sleeper = fl.spawn_in("h2", ["sleep", "600"])
    adhoc(fl, "all", "ansible.builtin.ping")
    assert sleeper.pid in processes_in(inodes)
    during = traces(run_id, control_dir, lab)
    assert (len(during["netns"]), len(during["links"]), len(during["control_sockets"])) == (3, 4, 3), during
    assert len(during["processes"]) >= 3 + 3, during  # the sshds and the ControlPersist masters
    fl.down()
    assert traces(run_id, control_dir, lab) == NOTHING
    assert live_pids(sshd_pids) == [] and processes_in(inodes) == []
    assert not os.path.exists(lab)
    fl.down()  # idempotent
    fleetlib.teardown(run_id)


@root
def test_keep_leaves_the_lab_but_closes_the_masters(fleet_factory):
    fl = fleet_factory(1, keep=True)
    lab, control_dir = fl.lab_dir, fl.env["ANSIBLE_SSH_CONTROL_PATH_DIR"]
    try:
        adhoc(fl, "all", "ansible.builtin.ping")
        assert os.listdir(control_dir)
        fl.down()
        assert traces(fl.run_id, control_dir, lab) == NOTHING
        assert os.path.exists(os.path.join(lab, "inventory.yml"))
        assert os.path.exists(os.path.join(lab, "hosts", "h1", "sshd.log"))
    finally:
        shutil.rmtree(lab, ignore_errors=True)


@root
def test_two_fleets_coexist(fleet, fleet_factory):
    other = fleet_factory(2)
    assert other.run_id != fleet.run_id
    assert not other.subnet.overlaps(fleet.subnet)
    for fl in (fleet, other):
        for host in fl.hosts:
            out = subprocess.run(fl.ssh_argv(host, "hostname"), capture_output=True, text=True, timeout=30,
                                 check=False).stdout
            assert out.strip() == host.name


@root
def test_a_given_lab_folder_keeps_foreign_files(fleet_factory, tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "mine.txt").write_text("not the fleet's", encoding="utf-8")
    fl = fleet_factory(1, lab_dir=str(lab))
    control_dir = fl.env["ANSIBLE_SSH_CONTROL_PATH_DIR"]
    if len(os.path.join(str(lab), "cp")) > fleetlib.MAX_CONTROL_DIR:  # too long for a socket path
        assert control_dir.startswith(fleetlib.STATE_DIR + os.sep)
    adhoc(fl, "all", "ansible.builtin.ping")
    fl.down()
    assert sorted(os.listdir(lab)) == ["mine.txt"]
    assert not os.path.exists(control_dir)


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, str(FLEET_PY), *args], capture_output=True, text=True, timeout=60,
                          check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@root
def test_cli_up_env_down(_fleet_host_ready):
    lab = f"/tmp/netaudit-cli-{os.getpid()}"
    try:
        layout = Path(f"{lab}.json")
        layout.write_text(json.dumps({"groups": {"h2": ["db"]}, "hostvars": {"h1": {"fleet_role": "web"}}}),
                          encoding="utf-8")
        proc = cli("up", "--size", "2", "--lab", lab, "--layout", str(layout))
        assert proc.stdout.strip() == os.path.join(lab, "inventory.yml")
        inventory = inventory_list(proc.stdout.strip())
        assert inventory["db"]["hosts"] == ["h2"]
        assert inventory["_meta"]["hostvars"]["h1"]["fleet_role"] == "web"
        state = json.loads(Path(lab, "fleet.json").read_text(encoding="utf-8"))
        assert state["owner_pid"] is None  # detached: gc leaves it alone
        assert state["run_id"] not in fleetlib.gc()
        exports = {key: shlex.split(value)[0] for key, value in
                   re.findall(r"^export (\w+)=(.*)$", cli("env", "--lab", lab).stdout, re.M)}
        assert exports["ANSIBLE_SSH_CONTROL_PATH_DIR"] == os.path.join(lab, "cp")
        assert state["run_id"] in cli("list").stdout
        assert "already holds fleet" in cli("up", "--lab", lab, check=False).stderr
        cli("down", "--lab", lab)
        assert traces(state["run_id"], lab=lab) == NOTHING
        assert not os.path.exists(lab)
        assert "nothing to tear down" in cli("down", "--lab", lab).stderr
    finally:
        cli("down", "--lab", lab, check=False)
        shutil.rmtree(lab, ignore_errors=True)
        Path(f"{lab}.json").unlink(missing_ok=True)


def killed_builder(code):
    """Run CODE in a child that imports fleet.py as the top-level module ``fleet`` (tests/fleet on its path); once
    the child has printed a fleet's run id and lab folder, SIGKILL it (no teardown runs): (run id, lab folder)."""
    child = subprocess.Popen([sys.executable, "-c", (
        f"import sys, time; sys.path.insert(0, {str(FLEET_PY.parent)!r}); import fleet\n{code}")],
        stdout=subprocess.PIPE, text=True)
    try:
        run_id, lab = child.stdout.readline().split()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    return run_id, lab


@root
def test_gc_removes_the_fleet_of_a_killed_owner(_fleet_host_ready):
    run_id, lab = killed_builder(
        "fl = fleet.Fleet(size=2).up(); print(fl.run_id, fl.lab_dir, flush=True); time.sleep(120)\n")
    assert len(traces(run_id)["netns"]) == 2  # SIGKILL: no teardown ran
    listed = [line for line in cli("list").stdout.splitlines() if line.startswith(f"{run_id}\t")]
    assert len(listed) == 1 and "(gone)" in listed[0]
    assert f"removed fleet {run_id}" in cli("gc").stdout
    assert traces(run_id, lab=lab) == NOTHING
    assert not os.path.exists(lab)


@root
def test_gc_removes_a_bring_up_that_crashed(_fleet_host_ready):
    run_id, lab = killed_builder(
        "def hang(self):\n    print(self.run_id, self.lab_dir, flush=True); time.sleep(120)\n"
        "fleet.Fleet._verify_ssh = hang\n"
        "fleet.Fleet(size=1, owner_pid=None).up()\n")
    assert len(traces(run_id)["netns"]) == 1
    assert run_id in fleetlib.gc()  # detached once up, but it never got there
    assert traces(run_id, lab=lab) == NOTHING


@root
def test_down_by_run_id_without_any_state(_fleet_host_ready):
    fl = fleetlib.Fleet(size=2, owner_pid=None).up()
    try:
        # As after a crash before the state was written: only the names are left to go by.
        os.unlink(os.path.join(fleetlib.STATE_DIR, f"{fl.run_id}.json"))
        os.unlink(os.path.join(fl.lab_dir, "fleet.json"))
        assert fl.run_id in fleetlib.plumbing.orphan_run_ids()
        cli("down", "--run-id", fl.run_id)
        assert traces(fl.run_id, lab=fl.lab_dir) == NOTHING
        cli("down", "--run-id", fl.run_id)  # idempotent
    finally:
        fleetlib.teardown(fl.run_id)
        shutil.rmtree(fl.lab_dir, ignore_errors=True)


@root
def test_ten_hosts(fleet_factory, record_property):
    started = time.monotonic()
    fl = fleet_factory(10)
    up = time.monotonic() - started
    assert fl.subnet.prefixlen == 28
    started = time.monotonic()
    results = adhoc(fl, "all", "ansible.builtin.ping", extra=["--forks", "10"])
    ping = time.monotonic() - started
    assert sorted(results) == sorted(host.name for host in fl.hosts)
    fl.down()
    for key, value in (("up_s", up), ("ping_s", ping), ("down_s", fl.timings["down"])):
        record_property(key, round(value, 3))
    assert traces(fl.run_id) == NOTHING
