"""The daemon's answers to `kiln`'s requests (part of
daemon_server.DaemonServer): daemon:fork (by level 1 when the project modules
it holds still match, else by level 0), daemon:status, daemon:stop, and the
daemon:exited sent once a run zygote is reaped.
"""

import os
import sys
import time

from .forking import reap_children
from .run_fork import fork_run, take_stdio


class DaemonRequests:
    """Mixin of DaemonServer: the state it uses is set in its __init__."""

    def _handle(self, client, header):
        kind = header.get("type")
        self.last_used = time.monotonic()
        self.last_used_wall = time.time() * 1000
        if kind == "daemon:fork":
            self._fork(client, header)
        elif kind == "daemon:status":
            client.chan.send(self._status())
        elif kind == "daemon:stop":
            client.chan.send({"type": "daemon:stopping"})
            self.stop_reason = "kiln daemon stop"
        else:
            client.chan.send({"type": "daemon:refused", "reason": f"unknown request {kind!r}"})

    def _fork(self, client, request):
        if client.child is not None:
            client.chan.send({"type": "daemon:refused", "reason": "one run per connection"})
            return
        # A pending rebuild (relearning) leaves level 0 valid: refusal() checks
        # each request against the files on disk.
        reason, stale = self.level.refusal(request["python"], request["cwd"], request["env"])
        stdio = None
        if reason is None:
            stdio, reason = take_stdio(request["pid"])
        if reason is not None:
            if stale:
                log(f"rebuilding level 0: {reason}")
                self.rebuild = True
            client.chan.send({"type": "daemon:refused", "reason": reason})
            return
        pid, entry, key = self._fork_held(request, stdio)
        if pid is not None:
            for fd in stdio:
                os.close(fd)
            level, held = self.held.origins.get(key, (0, 0))
        else:
            pid, level = self._fork_level1(request), 1
            if pid is None:
                pid, level = self._fork_level0(request, stdio), 0
            elif stdio:
                for fd in stdio:
                    os.close(fd)
            held = self.level1.info["modules"] if level == 1 else 0
            if key is not None:
                # What a run from its held collection will say it came from.
                self.held.origins[key] = (level, held)
        client.child = pid
        self.children[pid] = client
        self.runs += 1
        forked = {
            "type": "daemon:forked",
            "pid": pid,
            "level0Pid": os.getpid(),
            "warmSince": self.warm_since,
            "preloaded": self.level.preloaded,
            "level": level,
            "held": held,
        }
        if entry is not None:
            forked["collected"] = entry.items
        client.chan.send(forked)

    def _fork_held(self, request, stdio):
        """(pid, entry, key) of a run forked from a held collection
        (held.py), or (None, None, key). Otherwise the request carries an
        invitation to hold this run's collection (`holdTo`, read by
        zygote.serve). A held collection also holds the project modules it
        was forked with: its files (theirs included) are hashed and checked
        as a whole before each fork."""
        request.pop("holdTo", None)
        if request.get("hold") is None or self.held is None:
            return None, None, None
        from .held_server import run_key

        key = run_key(request, stdio)
        pid, entry = self.held.fork(key, request)
        if pid is not None:
            return pid, entry, key
        if key in self.held.origins:
            log(f"collection not reused: {entry}")
        request["holdTo"] = self.held.invitation(key)
        return None, None, key

    def _fork_level1(self, request):
        """The run zygote forked by level 1, or None (level 0 forks it)."""
        reason, stale = self.level1.refusal(request)
        if reason is None:
            pid, reason = self.level1.fork(request)
            if pid is not None:
                return pid
            if self.level1.pid is None:
                self._level1_unregister()
        elif stale:
            # Rebuilt from level 0 once no run uses it (_maintain_level1).
            self._level1_unregister()
            self.level1.stale(reason)
            self.held.drop_all()
            log(f"level 1 is stale: {reason}")
        return None

    def _fork_level0(self, request, stdio):
        close = list(self._own_fds) + [c.sock.fileno() for c in self.clients.values()]
        close += [s.fileno() for s in self.held.sockets()]
        if self._level1_fd is not None:
            close.append(self._level1_fd)
        try:
            return fork_run(self.level, request, stdio, close, self.pytest)
        finally:
            for fd in stdio:
                os.close(fd)

    def _reap(self):
        for pid, code, sig in reap_children():
            client = self.children.pop(pid, None)
            if client is None:
                continue
            client.child = None
            self.last_used = time.monotonic()
            try:
                client.chan.send(
                    {"type": "daemon:exited", "pid": pid, "exitCode": code, "signal": sig}
                )
            except OSError:
                pass  # the client left; _drop already ended the run

    def _status(self):
        levels1, level1_state = self.level1.status(_rss_kb)
        return {
            "type": "daemon:status",
            "pid": os.getpid(),
            "socket": self.config["socket"],
            "rootdir": self.config["rootdir"],
            "python": self.config["python"],
            "pythonVersion": ".".join(map(str, sys.version_info[:3])),
            "pytest": self.pytest.__version__,
            "fingerprint": self.level.fingerprint,
            "startedAt": self.started_at,
            "warmSince": self.warm_since,
            "idleSeconds": self.config["idleSeconds"],
            "lastUsedAt": self.last_used_wall,
            "runsServed": self.runs,
            "running": sorted(self.children),
            "preloaded": self.level.preloaded,
            "excluded": [[k, v] for k, v in sorted(self.excluded.items())],
            "levels": [{"level": 0, "pid": os.getpid(), "rssKb": _rss_kb(os.getpid())}] + levels1,
            "level1": level1_state,
            "held": [
                {"pid": e.pid, "rssKb": _rss_kb(e.pid), "items": e.items}
                for e in (self.held.entries.values() if self.held is not None else ())
            ],
        }


def _rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def log(line):
    sys.stderr.write(f"kiln daemon [{time.strftime('%Y-%m-%d %H:%M:%S')}]: {line}\n")
    sys.stderr.flush()
