"""The exec zygote: one per pool profile (issue 13, DESIGN.md sections 7-8).

Started by src/pool/exec-zygote.ts through boot.py (program "exec-zygote")
with the kiln protocol on fd 3. Its first frame, exec:hello, names the
profile, the modules to preload and where workers connect. It imports the
preload modules and prepares the sandbox once (exec_sandbox.prepare: the
namespaces, the seccomp program), answers exec:zygote-ready (or
exec:zygote-refused, saying why: a profile is never downgraded), then forks
a worker per exec:fork, kills a worker's process group per exec:kill, and
reports every exit (exec:exited). Single-threaded: SIGCHLD wakes the loop
through signal.set_wakeup_fd.
"""

import glob
import importlib
import os
import platform
import selectors
import shutil
import signal
import sys
import time

from . import exec_sandbox, exec_worker
from .forking import drain_wakeup, fork_worker, reap_children
from .protocol import Channel, move_out_of_the_way


def _python_info():
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
    }


class ExecZygote:
    def __init__(self, chan, wake_r):
        self.chan = chan
        self.wake_r = wake_r
        self.workers = {}  # pid -> workerId
        self.pids = {}  # workerId -> pid
        self.box = None
        self.socket_path = None

    def start(self, hello):
        began = time.perf_counter()
        try:
            for name in hello.get("preload") or []:
                importlib.import_module(name)
            self.box = exec_sandbox.prepare(hello["profile"], hello["scratchDir"], hello.get("limits") or {})
        except exec_sandbox.SandboxUnavailable as exc:
            self.chan.send({"type": "exec:zygote-refused", "message": str(exc)})
            return False
        except Exception as exc:  # a preload module that fails to import
            self.chan.send({"type": "exec:zygote-refused", "message": "%s: %s" % (type(exc).__name__, exc)})
            return False
        self.socket_path = hello["socketPath"]
        self.chan.send({
            "type": "exec:zygote-ready", "python": _python_info(), "pid": os.getpid(),
            "profile": hello["profile"], "warmSeconds": time.perf_counter() - began,
        })  # fmt: skip
        return True

    def fork(self, worker_id, nonce):
        box, path = self.box, self.socket_path
        pid = fork_worker(
            lambda: exec_worker.run(worker_id, nonce, path, box),
            close_fds=[self.chan.fd, self.wake_r],
        )
        self.workers[pid] = worker_id
        self.pids[worker_id] = pid
        self.chan.send({"type": "exec:forked", "workerId": worker_id, "pid": pid})

    def kill(self, worker_id):
        pid = self.pids.get(worker_id)
        if pid is None:
            return  # already reaped: its exec:exited is on its way
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def reap(self):
        for pid, code, sig in reap_children():
            worker_id = self.workers.pop(pid, None)
            if worker_id is None:
                continue  # the sandbox's own helper processes
            self.pids.pop(worker_id, None)
            try:
                os.killpg(pid, signal.SIGKILL)  # what its code left running in its group
            except OSError:
                pass
            self.remove_temp(worker_id)
            self.chan.queue({"type": "exec:exited", "workerId": worker_id, "pid": pid, "exitCode": code, "signal": sig})
        self.chan.flush()

    def remove_temp(self, worker_id):
        """strict: the worker's own temp dir in the private /tmp (a tmpfs, so
        in memory) goes with the worker, so nothing its code wrote there
        stays for a later request or piles up. The zygote sees that /tmp at
        the sandbox's staging dir (sandbox_ns.private_tmp). The shared spill
        dir, which exec workers never use (it is for kiln test's report
        bodies), is emptied too: it must not carry anything between requests."""
        staging = getattr(self.box, "staging", None)
        if staging is None:
            return
        for path in glob.glob(os.path.join(staging, "kiln-worker-%d-*" % worker_id)):
            shutil.rmtree(path, ignore_errors=True)
        _, spill = self.box.spill_dirs()
        for name in os.listdir(spill) if os.path.isdir(spill) else ():
            path = os.path.join(spill, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def stop(self):
        for worker_id in list(self.pids):
            self.kill(worker_id)
        deadline = time.monotonic() + 2
        while self.workers and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.01)


def main():
    os.dup2(2, 1)  # a stray print must never corrupt anything: stdout is the supervisor's stderr
    sys.stdout = sys.stderr
    fd = move_out_of_the_way(3)
    chan = Channel(fd, sends="execZygoteToSupervisor", receives="supervisorToExecZygote")
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    zygote = ExecZygote(chan, wake_r)
    first = chan.recv()
    if first is None or first[0].get("type") != "exec:hello":
        sys.exit(3)
    if not zygote.start(first[0]):
        sys.exit(4)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, "chan")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    while True:
        for key, _ in sel.select():
            if key.data == "wake":
                drain_wakeup(wake_r)
                zygote.reap()
                continue
            if not chan.read_available():
                zygote.stop()
                return
            for header, _body in chan.pop_frames():
                kind = header.get("type")
                if kind == "exec:fork":
                    zygote.fork(header["workerId"], header["nonce"])
                elif kind == "exec:kill":
                    zygote.kill(header["workerId"])
                elif kind == "shutdown":
                    zygote.stop()
                    return
