"""The daemon's socket and lifecycle (daemon.py starts it): requests from
`kiln` (the clientToDaemon messages of src/protocol/schema.ts), reaping the
run zygotes it forked, and stopping when idle, when the project directory
disappears or when another daemon's info file replaced its own.

Single-threaded (level 0 forks, forking.py says why): one select() loop.
"""

import json
import os
import selectors
import signal
import socket
import time

from .daemon_requests import DaemonRequests, log
from .held_server import HeldCollections
from .forking import drain_wakeup
from .level1_server import Level1Handle, become_subreaper
from .protocol import Channel, ProtocolError

# How often the project directory and the info file are checked.
POLL_SECONDS = 1.0


class _Client:
    def __init__(self, sock):
        self.sock = sock
        self.chan = Channel(sock.fileno(), sends="daemonToClient", receives="clientToDaemon")
        self.child = None  # the run zygote forked for it, until reaped


class DaemonServer(DaemonRequests):
    """The listener, the select() loop, connections and the daemon's
    lifetime; what each request does is DaemonRequests (daemon_requests.py)."""

    def __init__(self, config, level, pytest, excluded, learned_from):
        self.config = config
        self.level = level
        self.pytest = pytest
        self.excluded = excluded
        self.started_at = config.get("startedAt") or time.time() * 1000
        self.warm_since = time.time() * 1000
        self.last_used = time.monotonic()
        self.last_used_wall = time.time() * 1000
        self.runs = config.get("runsServed", 0)
        self.clients = {}
        self.children = {}  # run zygote pid -> _Client
        self.stop_reason = None
        self.rebuild = False
        self.root_id = _identity(config["rootdir"])
        # The run record level 0 learned from (path, mtime): a newer one may
        # name modules it does not hold yet.
        self.learned_from = learned_from
        self.relearned = []
        self.level1 = Level1Handle(config, level, pytest)
        self._level1_fd = None
        # Held collections (held_server.py), made in serve().
        self.held = None
        self._sel = None

    def listen(self):
        inherited = self.config.pop("listenFd", None)
        if inherited is not None:
            # A rebuild (daemon.py): the socket kept listening across the exec.
            self.listener = socket.socket(fileno=inherited)
            os.set_inheritable(inherited, False)
            self._write_info()
            return
        path = self.config["socket"]
        try:
            os.unlink(path)  # the starter checked that no daemon answers on it
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o077)  # only this user may ask for a fork
        try:
            self.listener.bind(path)
        finally:
            os.umask(old)
        self.listener.listen(16)
        self._write_info()

    def _write_info(self):
        info = {
            "pid": os.getpid(),
            "socket": self.config["socket"],
            "rootdir": self.config["rootdir"],
            "python": self.config["python"],
            "startedAt": self.started_at,
        }
        path = self.config["info"]
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.replace(tmp, path)

    def serve(self):
        """Runs until a stop; returns True when level 0 must be rebuilt."""
        sel = selectors.DefaultSelector()
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.level.handlers[signum] = signal.getsignal(signum)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        sel.register(self.listener, selectors.EVENT_READ, "listen")
        sel.register(wake_r, selectors.EVENT_READ, "wake")
        self.held = HeldCollections()
        self.held.on_drop = sel.unregister
        sel.register(self.held.listener, selectors.EVENT_READ, "held-listen")
        self._own_fds = (
            wake_r,
            wake_w,
            sel.fileno(),
            self.listener.fileno(),
            self.held.listener.fileno(),
        )
        self._sel = sel
        # Run zygotes forked by level 1 (through an intermediate) become the
        # daemon's children: it reaps them all (level1_server.py).
        become_subreaper()
        next_poll = time.monotonic() + POLL_SECONDS
        try:
            while self.stop_reason is None:
                for key, _ in sel.select(POLL_SECONDS):
                    if key.data == "listen":
                        sock, _ = self.listener.accept()
                        sock.setblocking(True)
                        client = _Client(sock)
                        self.clients[sock.fileno()] = client
                        sel.register(sock, selectors.EVENT_READ, client)
                    elif key.data == "held-listen":
                        sock = self.held.accept()
                        if sock is not None:
                            sel.register(sock, selectors.EVENT_READ, "held")
                    elif key.data == "held":
                        self.held.on_readable(key.fd)
                    elif key.data == "level1":
                        if not self.level1.on_readable():
                            self._level1_unregister()
                    elif key.data == "wake":
                        drain_wakeup(wake_r)
                        self._reap()
                    else:
                        self._read(sel, key.data)
                now = time.monotonic()
                if now >= next_poll:
                    next_poll = now + POLL_SECONDS
                    self._check_lifetime(now)
                # Not while a connection is open: its request would be lost in
                # the exec (a new one waits in the listener's backlog).
                if self.rebuild and not self.children and not self.clients:
                    self.stop_reason = "rebuild"
                elif not self.children and not self.rebuild and self.stop_reason is None:
                    self._maintain_level1()
        finally:
            self._shutdown(sel)
        if self.stop_reason not in ("rebuild", None):
            log(f"stopped: {self.stop_reason}")
        return self.stop_reason == "rebuild"

    def _maintain_level1(self):
        want = self.level1.wanted()
        if want is None:
            return
        self._level1_unregister()
        # Held collections go with the level 1 they were forked from.
        self.held.drop_all()
        close = list(self._own_fds) + [s.fileno() for s in self.held.sockets()] + [c.sock.fileno() for c in self.clients.values()]
        sock = self.level1.start(want, close)
        self._level1_fd = sock.fileno()
        self._sel.register(self._level1_fd, selectors.EVENT_READ, "level1")
        log(f"building level 1 (pid {self.level1.pid}): {len(self.level1.names)} project modules")

    def _level1_unregister(self):
        if self._level1_fd is not None:
            try:
                self._sel.unregister(self._level1_fd)
            except (KeyError, ValueError):
                pass
            self._level1_fd = None

    def _on_term(self, *_):
        self.stop_reason = "SIGTERM"

    def _check_lifetime(self, now):
        if _identity(self.config["rootdir"]) != self.root_id:
            self.stop_reason = f"the project directory {self.config['rootdir']} is gone"
            return
        try:
            with open(self.config["info"], encoding="utf-8") as f:
                owner = json.load(f).get("pid")
        except (OSError, ValueError):
            owner = None
        if owner != os.getpid():
            self.stop_reason = "its info file was removed or another daemon took its place"
            return
        if not self.children and not self.rebuild:
            self._check_learning()
        idle = self.config["idleSeconds"]
        if not self.children and idle > 0 and now - self.last_used >= idle:
            self.stop_reason = f"idle for {idle:g} s"

    def _check_learning(self):
        """Rebuild level 0 when the last run's record names modules it would
        import now (the project imports more than when it started)."""
        from .level0 import candidates, latest_record, learned_modules, record_stamp

        record = latest_record(self.config["runsDir"])
        stamp = record_stamp(record)
        if stamp is None or stamp == self.learned_from:
            return
        self.learned_from = stamp
        names = learned_modules(record)
        new = list(candidates(names, self.excluded, self.level.project_dirs))
        if new:
            more = " and more" if len(new) > 3 else ""
            log(f"rebuilding level 0: the last run imported {', '.join(new[:3])}{more}")
            self.relearned = new
            self.rebuild = True

    def _read(self, sel, client):
        try:
            alive = client.chan.read_available()
            frames = client.chan.pop_frames()
        except (OSError, ProtocolError):
            alive, frames = False, []
        for header, _ in frames:
            self._handle(client, header)
        if not alive:
            self._drop(sel, client)

    def _drop(self, sel, client):
        sel.unregister(client.sock)
        self.clients.pop(client.sock.fileno(), None)
        client.sock.close()
        if client.child is not None:
            # Its `kiln` is gone (killed with SIGKILL): nobody will read the
            # run's results, so its zygote and workers end now.
            _kill_group(client.child)

    def _shutdown(self, sel):
        self._level1_unregister()
        if self.held is not None:
            self.held.close()
        self.level1.stop()
        for pid in list(self.children):
            _kill_group(pid)
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for client in list(self.clients.values()):
            client.sock.close()
        sel.close()
        if self.stop_reason == "rebuild":
            return  # the listener, socket file and info file serve on (daemon.py)
        self.listener.close()
        try:
            if _owner(self.config["info"]) == os.getpid():
                os.unlink(self.config["info"])
                os.unlink(self.config["socket"])
        except OSError:
            pass


def _owner(info_path):
    try:
        with open(info_path, encoding="utf-8") as f:
            return json.load(f).get("pid")
    except (OSError, ValueError):
        return None


def _identity(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass

