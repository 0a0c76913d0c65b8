# -*- coding: utf-8 -*-
# Copyright (c) netaudit.sockets contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test support: a hostile host in the namespace fleet, built from real processes, users, interfaces and sockets.

Run as a program inside a fleet host (standard library only, Python 3.8+), it is one of the hostile programs:

``python3 hostile.py listen SPEC``
    SPEC is JSON: ``name`` (hex bytes, the process name set with ``prctl(PR_SET_NAME)``), ``tcp`` / ``udp`` (ports to
    listen or bind on, 0.0.0.0), ``uid`` (switch to this uid before making the sockets, so that they are its),
    ``device`` (hex bytes: ``SO_BINDTODEVICE`` on that interface), ``unix`` (hex bytes: a listening unix stream
    socket at that path). Prints ``ready`` once every socket is there, then waits to be killed.
``python3 hostile.py hopper PORT``
    Run as PID 1 of a PID namespace of its own (``unshare --pid --fork --kill-child``): forks the hopper, which
    listens on PORT, prints ``ready``, and then forks every few milliseconds, the parent exiting each time, so the
    listener never keeps a pid; PID 1 reaps the exited ones. Killing the ``unshare`` kills PID 1, and with it
    every process of the namespace, whatever pid the hopper has by then.

Imported by the tests, it builds the hostile host (:class:`HostileHost`) and tears it down.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

PR_SET_NAME = 15
HOP_INTERVAL = 0.003
HERE = os.path.abspath(__file__)
# The managed hosts' interpreter (the fleet's inventory pins it too).
HOST_PYTHON = '/usr/bin/python3'

# A user whose passwd name is not UTF-8, in a private copy of /etc/passwd that only the hostile host's mount
# namespace sees.
HOSTILE_UID = 4242
HOSTILE_USER = b'\xffbad\xfeuser'
# An interface name that is not UTF-8 (this kernel has no dummy links: ifb serves).
HOSTILE_DEVICE = b'\xff\xfe'

# Ports of the hostile host. Every listener below 2100 carries a hostile string.
PORT_HOPPER = 2323
PORT_UNSEEN = 2424
HOSTILE_RANGE = (2001, 2099)
# The name of a process that holds a TCP listener, with its port: every one is at most 15 bytes (the kernel's
# limit for comm).
NAMED = [
    (b'\x1b[2J\x1b[8m', 2001),          # clear the screen, then conceal what follows
    (b'\x1b]0;pwn\x07', 2002),          # set the terminal title (OSC ... BEL)
    (b'a\rb|c', 2003),                  # carriage return and a Markdown table pipe
    (b'<script>x', 2004),               # HTML markup
    (b'![](//x/a)', 2005),              # a Markdown image from a remote host
    (b'\xff\xfebad', 2006),             # not UTF-8
    (b'\xc2\x9b31m\x7f', 2007),         # C1 CSI (as UTF-8) and DEL
]
NAME_OF_USER_LISTENER = b'q\'"><b>q'    # quotes that would leave an attribute, with its port below
PORT_USER = 2010
NAME_OF_DEVICE_SOCKET = b'dev\x08\x08\x08'
PORT_DEVICE = 2050                      # UDP, bound to HOSTILE_DEVICE
NAME_OF_UNIX_HOLDER = b'<svg onload=1>'
FORGED_INODE = 31337
FORGED_PATH = b'/forged'


def forged_unix_path(tag):
    """A unix socket path whose second line reads like a /proc/net/unix record of a listening socket.

    Its folder is everything before the last ``/``: ``/tmp/nah-TAG\\n0000...31337 ``, made by ``HostileHost``."""
    return (b'/tmp/nah-%s\n0000000000000000: 00000002 00000000 00010000 0001 01 %d %s'
            % (tag.encode('ascii'), FORGED_INODE, FORGED_PATH))


def set_name(raw):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_NAME)')


def _quiet_stdout():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _wait_forever():
    while True:
        signal.pause()


def listen(spec):
    sockets = []
    if spec.get('uid') is not None:
        os.setgroups([])
        os.setgid(spec['uid'])
        os.setuid(spec['uid'])
    device = bytes.fromhex(spec['device']) if spec.get('device') else None
    for proto, kind in (('tcp', socket.SOCK_STREAM), ('udp', socket.SOCK_DGRAM)):
        for port in spec.get(proto, ()):
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if device:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device)
            sock.bind(('0.0.0.0', port))
            if kind == socket.SOCK_STREAM:
                sock.listen(8)
            sockets.append(sock)
    if spec.get('unix'):
        path = bytes.fromhex(spec['unix'])
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(8)
        sockets.append(sock)
    set_name(bytes.fromhex(spec['name']))
    print('ready', flush=True)
    _quiet_stdout()
    _wait_forever()


def hopper(port):
    if os.getpid() != 1:
        raise SystemExit('hostile.py hopper must run as PID 1 of its own PID namespace (unshare --pid --fork)')
    if os.fork() == 0:
        set_name(b'hopper')
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('0.0.0.0', port))
        sock.listen(8)
        print('ready', flush=True)
        _quiet_stdout()
        while True:
            time.sleep(HOP_INTERVAL)
            if os.fork():
                os._exit(0)
    _quiet_stdout()
    set_name(b'hop-reaper')
    while True:  # PID 1: reap every hopper that exited
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(0.05)


# -- the controller's side ------------------------------------------------------------------------------------------

class HostileHost:
    """The hostile programs in one fleet host whose sshd runs in a PID namespace of its own (``pid_namespace``).

    ``start()`` brings everything up and waits until each listener is there; ``stop()`` kills every process it
    started (their sessions, and the hopper's whole PID namespace) and is idempotent. The private ``/etc/passwd`` and
    the interface live in the host's mount and network namespaces, which go with the fleet.
    """

    def __init__(self, fleet, host, workdir):
        self.fleet = fleet
        self.host = fleet.host(host)
        self.workdir = str(workdir)
        self.tag = '%s-%d' % (fleet.run_id, os.getpid())
        self.unix_path = forged_unix_path(self.tag)
        self.procs = []

    # The sshd is the only child of the unshare that the fleet started: PID 1 of the host's PID namespace.
    def sshd_pid(self):
        with open('/proc/%d/task/%d/children' % (self.host.pid, self.host.pid)) as handle:
            children = handle.read().split()
        if len(children) != 1:
            raise RuntimeError('host %s: expected one child (the sshd) of pid %d, found %r; was the fleet built with '
                               'pid_namespace=[%r]?' % (self.host.name, self.host.pid, children, self.host.name))
        return int(children[0])

    def inside(self, argv):
        """``argv`` in the host's network, UTS, mount and PID namespaces: where the module runs, seen by it."""
        return ['nsenter', '-t', str(self.sshd_pid()), '-p', '-n', '-u', '-m', '--wd=/', '--'] + list(argv)

    def outside(self, argv):
        """``argv`` in the host's network, UTS and mount namespaces but the machine's PID namespace: unseen by it."""
        return self.fleet.enter_argv(self.host, argv, cwd='/')

    def _spawn(self, argv, what):
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        self.procs.append(proc)
        line = proc.stdout.readline()
        if line.strip() != b'ready':
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
            raise RuntimeError('hostile %s did not start: stdout %r, stderr %r' % (what, line, proc.stderr.read(2000)))
        return proc

    def _listener(self, where, what, **spec):
        spec['name'] = spec['name'].hex()
        return self._spawn(where([HOST_PYTHON, HERE, 'listen', json.dumps(spec)]), what)

    def _run(self, argv):
        proc = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        if proc.returncode != 0:
            raise RuntimeError('%r failed: %r' % (argv, proc.stderr))
        return proc

    def start(self):
        # A user whose name is not UTF-8: a private copy of /etc/passwd, bind-mounted in the host's mount namespace.
        passwd = os.path.join(self.workdir, 'passwd')
        shutil.copyfile('/etc/passwd', passwd)
        with open(passwd, 'ab') as handle:
            handle.write(b'%s:x:%d:%d:hostile:/nonexistent:/usr/sbin/nologin\n' % (HOSTILE_USER, HOSTILE_UID, HOSTILE_UID))
        os.chmod(passwd, 0o644)
        os.chmod(self.workdir, 0o755)
        self._run(self.inside(['mount', '--bind', passwd, '/etc/passwd']))
        # An interface whose name is not UTF-8.
        self._run(self.inside([b'ip', b'link', b'add', b'name', HOSTILE_DEVICE, b'type', b'ifb']))

        for name, port in NAMED:
            self._listener(self.inside, 'listener %r' % name, name=name, tcp=[port])
        self._listener(self.inside, 'listener of uid %d' % HOSTILE_UID, name=NAME_OF_USER_LISTENER, tcp=[PORT_USER],
                       uid=HOSTILE_UID)
        self._listener(self.inside, 'socket on the device', name=NAME_OF_DEVICE_SOCKET, udp=[PORT_DEVICE],
                       device=HOSTILE_DEVICE.hex())
        os.mkdir(os.path.dirname(self.unix_path))
        self._listener(self.inside, 'unix socket holder', name=NAME_OF_UNIX_HOLDER, unix=self.unix_path.hex())
        # The pid hopper, in a PID namespace of its own inside the host's (so the module can see it).
        self._spawn(self.inside(['unshare', '--pid', '--fork', '--kill-child', HOST_PYTHON, HERE, 'hopper',
                                 str(PORT_HOPPER)]), 'pid hopper')
        # A listener whose process lives outside the host's PID namespace: no owner the module can see.
        self._listener(self.outside, 'unseen listener', name=b'unseen', tcp=[PORT_UNSEEN])
        return self

    def stop(self):
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        self.procs = []
        with contextlib.suppress(OSError):
            os.unlink(self.unix_path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.unix_path))


def main(argv):
    if len(argv) == 3 and argv[1] == 'listen':
        listen(json.loads(argv[2]))
    elif len(argv) == 3 and argv[1] == 'hopper':
        hopper(int(argv[2]))
    else:
        raise SystemExit('usage: hostile.py listen SPEC | hostile.py hopper PORT')


if __name__ == '__main__':
    main(sys.argv)
