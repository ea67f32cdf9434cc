"""The daemon's side of held collections (held.py says what one is).

Held collections register on their own listening socket, in the abstract
namespace (Linux: no file to clean up; the name is unique per daemon), with a
per-daemon token the daemon gave the run that forked it, from a process of
the daemon's own user (SO_PEERCRED). Each stays connected: its end of file is
its death, the daemon's end of file (even SIGKILL) is its signal to exit.

A run's key is everything its configuration and collection depend on that is
not a file: the interpreter, the working directory, the environment (minus
what a shell changes between two commands), pytest's argv and Kiln's options
(`hold`, sent by `kiln`), and what kind of stdio it has (a terminal, and its
size, or a pipe: pytest's terminal writer decides markup and width at
configure time). Files are checked by content before each fork (held.py
`mismatch`).
"""

import hashlib
import json
import os
import secrets
import signal
import socket
import stat
import struct
import time

from .held import mismatch
from .json_lines import JsonLines


def log(line):
    from .daemon_requests import log as daemon_log

    daemon_log(line)

# At most this many held collections (one per distinct key); the oldest goes.
MAX_HELD = 3
# How long the daemon waits for a held collection to fork.
ANSWER_SECONDS = 5.0
# A shell changes these between two commands; pytest never reads them.
_SHELL_ENV = frozenset(("PWD", "OLDPWD", "SHLVL", "_"))


def run_key(request, stdio):
    facts = []
    stats = [os.fstat(fd) for fd in stdio]
    for i, (fd, st) in enumerate(zip(stdio, stats)):
        tty = os.isatty(fd)
        size = list(os.get_terminal_size(fd)) if tty else None
        same = [j for j in range(i) if (stats[j].st_dev, stats[j].st_ino) == (st.st_dev, st.st_ino)]
        facts.append([stat.S_IFMT(st.st_mode), tty, size, same])
    material = {
        "python": request["python"],
        "cwd": os.path.realpath(request["cwd"]),
        "env": {k: v for k, v in request["env"].items() if k not in _SHELL_ENV},
        "hold": request["hold"],
        "stdio": facts,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class _Entry:
    def __init__(self, sock, info):
        self.sock = sock
        self.lines = JsonLines(sock)
        self.pid = info["pid"]
        self.key = info["key"]
        self.hashes = info["hashes"]
        self.dirs = info["dirs"]
        self.items = info["items"]
        self.added = time.monotonic()


class HeldCollections:
    def __init__(self):
        self.token = secrets.token_hex(16)
        self.address = f"\0kiln-held-{os.getpid()}-{secrets.token_hex(8)}"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.address)
        self.listener.listen(8)
        os.set_inheritable(self.listener.fileno(), False)
        self.entries = {}  # key -> _Entry
        self.origins = {}  # key -> (level, project modules held) of the run that held it
        self.by_fd = {}
        # Called with a dropped entry's socket before it is closed (the
        # daemon's selector watches it).
        self.on_drop = None

    def invitation(self, key):
        """What a run's request carries so that it holds its collection."""
        return {"address": self.address, "token": self.token, "key": key}

    def accept(self):
        """A held collection registering; returns its socket to watch, or None."""
        sock, _ = self.listener.accept()
        sock.settimeout(2.0)
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        try:
            info = JsonLines(sock).recv() if uid == os.getuid() else None
        except (OSError, ValueError):
            info = None
        if not info or info.get("token") != self.token:
            sock.close()
            return None
        if info.get("refused"):
            log(f"collection not held (pid {info.get('pid')}): {info['refused']}")
            sock.close()
            return None
        sock.settimeout(None)
        old = self.entries.get(info["key"])
        if old is not None:
            self.drop(old)
        entry = _Entry(sock, info)
        self.entries[entry.key] = entry
        self.by_fd[sock.fileno()] = entry
        while len(self.entries) > MAX_HELD:
            self.drop(min(self.entries.values(), key=lambda e: e.added))
        return sock

    def on_readable(self, fd):
        """A held collection's socket: it only ever closes (it died)."""
        entry = self.by_fd.get(fd)
        if entry is None:
            return
        try:
            data = entry.sock.recv(1, socket.MSG_PEEK)
        except OSError:
            data = b""
        if not data:
            self.drop(entry)

    def fork(self, key, request):
        """(pid, entry) of a run forked from the held collection for `key`,
        or (None, why not); a stale or unanswering one is dropped."""
        entry = self.entries.get(key)
        if entry is None:
            return None, "no held collection for these inputs"
        changed = mismatch(entry.hashes, entry.dirs)
        if changed is not None:
            self.drop(entry)
            return None, f"{changed} changed since the collection was held"
        entry.sock.settimeout(ANSWER_SECONDS)
        try:
            entry.lines.send({"request": request})
            answer = entry.lines.recv()
        except (OSError, ValueError) as exc:
            answer = {"error": str(exc)}
        finally:
            if entry.key in self.entries:
                entry.sock.settimeout(None)
        if answer is None or "pid" not in answer:
            self.drop(entry)
            return None, (answer or {}).get("error", "the held collection exited")
        return answer["pid"], entry

    def drop(self, entry):
        self.entries.pop(entry.key, None)
        self.by_fd.pop(entry.sock.fileno(), None)
        if self.on_drop is not None:
            self.on_drop(entry.sock)
        try:
            os.kill(entry.pid, signal.SIGKILL)
        except OSError:
            pass
        entry.sock.close()

    def drop_all(self):
        for entry in list(self.entries.values()):
            self.drop(entry)
        self.origins.clear()

    def sockets(self):
        return [e.sock for e in self.entries.values()]

    def close(self):
        self.drop_all()
        self.listener.close()
