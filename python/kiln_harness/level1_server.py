"""Level 1's process and the daemon's handle on it (level1.py says what it
holds and why a run from it equals a cold run).

The daemon (level 0) forks level 1 and talks to it over a socketpair, one
JSON line each way: level 1 says when it is warm, then answers each fork
request with the run zygote's pid. Level 1 forks the run's zygote through a
short-lived intermediate process, so the zygote's parent becomes the daemon,
a child subreaper (prctl PR_SET_CHILD_SUBREAPER, Linux 3.4): the daemon reaps
every run zygote and sends its exit status to `kiln test`, whichever level it
came from, and `kill` of its process group works as before.
"""

import gc
import os
import signal
import socket
import sys
import time

from . import level1
from .forking import die_with_parent
from .json_lines import JsonLines
from .level0 import latest_record, record_stamp
from .run_fork import fork_run, take_stdio

PR_SET_CHILD_SUBREAPER = 36
# How long the daemon waits for level 1 to fork before it forks from level 0.
ANSWER_SECONDS = 5.0


def become_subreaper():
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Level1Handle:
    """The daemon's side: build, check, ask for a fork, stop."""

    def __init__(self, config, level, pytest):
        self.config = config
        self.level = level
        self.pytest = pytest
        self.pid = None
        self.lines = None
        self.state = "not built: no run record yet"
        self.info = None
        self.names = set()
        self.cwd = None
        self.stamp = None
        self.build_ms = None
        self.started = None
        # The record a level 1 failed to build from: not retried until a newer one.
        self.failed_stamp = None

    @property
    def sock(self):
        return self.lines.sock if self.lines else None

    def wanted(self):
        """Whether to (re)build now: level 1 is absent or stale, or the last
        run's record names a project module it does not hold."""
        record = latest_record(self.config["runsDir"])
        stamp = record_stamp(record)
        if self.pid is not None and stamp == self.stamp:
            return None
        if self.pid is None and stamp == self.failed_stamp:
            return None
        if record is None:
            return None
        names = level1.project_modules(record, self.config["rootdir"])
        if self.pid is not None and {n for n, _ in names} <= self.names:
            self.stamp = stamp
            return None
        if not names:
            self.stamp = stamp
            self.state = "not built: the last run imported no project module"
            return None
        return record, stamp, names

    def start(self, want, close_fds):
        record, stamp, names = want
        self.stop()
        parent, child = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                parent.close()
                for fd in close_fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                code = _child_main(child, self.level, self.pytest, names, self.config)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        child.close()
        self.pid = pid
        self.lines = JsonLines(parent)
        self.stamp = stamp
        self.names = {n for n, _ in names}
        self.state = "building"
        self.info = None
        self.started = started
        return parent

    def on_readable(self):
        """The ready line (or level 1 died). Returns False when it is gone."""
        try:
            alive = self.lines.fill()
        except OSError:
            alive = False
        message = self.lines.pop() if alive else None
        if message is not None:
            if message.get("ok"):
                self.info = message
                self.cwd = message["cwd"]
                # From the fork of level 0 to a warm level 1: the re-fork time.
                self.build_ms = round((time.monotonic() - self.started) * 1000, 1)
                self.state = "warm"
            else:
                self.state = f"not built: {message.get('error')}"
                self.failed_stamp = self.stamp
        if not alive:
            if self.state == "building":
                self.failed_stamp = self.stamp
            if self.state in ("warm", "building"):
                self.state = "not built: level 1 exited"
            self._forget()
            return False
        return True

    def refusal(self, request):
        """Why this run must fork from level 0, or None; `stale` when level 1
        must be rebuilt."""
        if self.pid is None or self.info is None:
            return self.state, False
        if os.path.realpath(request["cwd"]) != os.path.realpath(self.cwd):
            return "the run's directory is not level 1's", False
        changed = level1.files_match(self.info["hashes"])
        if changed is not None:
            return f"{changed} changed since level 1 imported it", True
        return None, False

    def fork(self, request):
        """The run zygote's pid, or None (then the run forks from level 0)."""
        self.lines.send(request)
        self.sock.settimeout(ANSWER_SECONDS)
        try:
            while True:
                message = self.lines.pop()
                if message is not None:
                    break
                if not self.lines.fill():
                    self._forget()
                    return None, "level 1 exited"
        except (OSError, ValueError) as exc:
            self.stop()
            return None, f"level 1 did not answer ({exc})"
        finally:
            if self.sock is not None:
                self.sock.settimeout(None)
        if "pid" not in message:
            return None, message.get("error", "level 1 refused")
        return message["pid"], None

    def stale(self, reason):
        self.stop()
        self.state = f"rebuilding: {reason}"
        self.stamp = None

    def stop(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            # Reaped here, not by the daemon's SIGCHLD loop: it never runs tests.
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        self._forget()

    def _forget(self):
        if self.lines is not None:
            self.lines.sock.close()
        self.lines = None
        self.pid = None
        self.info = None

    def status(self, rss_kb):
        if self.pid is None:
            return [], self.state
        entry = {"level": 1, "pid": self.pid, "rssKb": rss_kb(self.pid)}
        if self.info is not None:
            entry["modules"] = self.info["modules"]
            entry["buildMs"] = self.build_ms
            entry["importMs"] = self.info["importMs"]
        return [entry], self.state


def _child_main(sock, level, pytest, names, config):
    # Level 1 is the daemon's child: the daemon's handlers and wake-up fd are
    # not its own; it ends with the daemon (PR_SET_PDEATHSIG).
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    die_with_parent()
    lines = JsonLines(sock)
    started = time.monotonic()
    try:
        stash, info = level1.build(names, level.project_dirs)
    except RuntimeError as exc:
        lines.send({"ok": False, "error": str(exc)})
        return 0
    except Exception as exc:  # a bug of ours: level 0 serves instead, and the log says why
        import traceback

        traceback.print_exc()
        lines.send({"ok": False, "error": f"this is a bug in kiln: {type(exc).__name__}: {exc}"})
        return 0
    gc.collect()
    gc.freeze()
    lines.send(
        dict(info, ok=True, cwd=os.getcwd(), importMs=round((time.monotonic() - started) * 1000, 1))
    )
    while True:
        message = lines.pop()
        if message is None:
            if not lines.fill():
                return 0
            continue
        lines.send(_fork(message, level, pytest, stash, sock.fileno()))


def _fork(request, level, pytest, stash, own_fd):
    stdio, reason = take_stdio(request["pid"])
    if reason is not None:
        return {"error": reason}
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    mid = os.fork()
    if mid == 0:
        try:
            os.close(r)
            stash.hide()
            level1.STASH = stash
            pid = fork_run(level, request, stdio, [w, own_fd], pytest)
            os.write(w, str(pid).encode())
        finally:
            os._exit(0)
    for fd in stdio:
        os.close(fd)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(mid, 0)
    if not data:
        return {"error": "level 1 could not fork"}
    return {"pid": int(data)}
