"""The zygote's run loop (part of pytest_bridge.KilnZygotePlugin).

Instead of running items, `pytest_runtestloop` waits on the supervisor's
channel and on SIGCHLD, forks workers when asked (forking.fork_worker) and
reaps them; what the supervisor forwards is replayed into pytest's hooks by
bridge_replay.ReportReplay.
"""

import os
import selectors
import signal
import sys
import time

import pytest

from .cache_order import ordering_hints, settle_stepwise, skipped_failure
from .coverage_fork import measure_worker
from .debugging import interrupt_location, raise_keyboard_interrupt_at
from .forking import drain_wakeup, fork_worker, reap_children
from .plugin_compat import timeout_owner


# How long an interrupted zygote waits for its workers' last reports (the
# supervisor kills a worker that takes longer than its INTERRUPT_GRACE_MS).
_INTERRUPT_DRAIN_SECONDS = 3.0


class ZygoteRunLoop:
    """Mixin of KilnZygotePlugin: the state it uses is set in its __init__."""

    def pytest_runtestloop(self, session):
        # Same preamble as _pytest/main.py:pytest_runtestloop.
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(
                "%d error%s during collection"
                % (session.testsfailed, "s" if session.testsfailed != 1 else "")
            )
        if session.config.option.collectonly:
            return True
        self.session = session
        order = ordering_hints(session.config, session.items)
        self.order_by = order["by"]
        self.stepwise_tracking = self.workers > 1 and order["by"] == "stepwise"
        ready = {
            "type": "run:ready",
            "items": [item.nodeid for item in session.items],
            "order": order,
            "timeoutOwner": timeout_owner(session.config),
        }
        if self.serial_reason is not None:
            ready["serial"] = self.serial_reason
        self.chan.send(ready)
        # While the supervisor plans the run and asks for workers: what every
        # fork would otherwise do for itself (worker.WorkerPlugins), done once
        # here so the forks share it. Imported here, not at start-up: a
        # --collect-only run never forks.
        from .worker import prepare_plugins

        self.worker_plugins = prepare_plugins(session.config, self.scratch_dir)
        try:
            self._serve()
        except KeyboardInterrupt:
            self._wind_down_interrupted()
            raise
        except BaseException:
            self._kill_children()
            raise
        if self.stepwise_tracking:
            failed = self.failed_reports
            settle_stepwise(
                self.config,
                session.items,
                self.reported,
                set(failed),
                skipped_failure(self.config, failed),
            )
        if self.exit_request is not None:
            # A worker's session ended with Exit (`q` in the debugger,
            # pytest.exit()); this session ends the same way, so wrap_session
            # prints "!!! Exit: ... !!!" and sets the exit status.
            reason, returncode, interrupt = self.exit_request
            if interrupt is not None:
                raise_keyboard_interrupt_at(*interrupt)
            raise pytest.exit.Exception(reason, returncode)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    def _wind_down_interrupted(self):
        """Ctrl-C reached the zygote while workers ran tests.

        The workers got SIGINT too (the terminal's process group, or the
        supervisor's interruptWorkers): each reports the tests it finished and
        the line its running test was stopped at. Wait for that, briefly, so
        pytest's summary counts what finished and its "!!! KeyboardInterrupt
        !!!" names the test's line (wrap_session prints the traceback's last
        entry) rather than this loop's select(). Raises the interrupt to end
        the session; the caller's `raise` is the fallback.
        """
        # The terminal's SIGINT and the supervisor's relay both arrive: the
        # second is the same Ctrl-C. A real second Ctrl-C makes the
        # supervisor kill the whole process group.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._serve(deadline=time.monotonic() + _INTERRUPT_DRAIN_SECONDS)
        finally:
            self._kill_children()
        interrupt = self.exit_request[2] if self.exit_request is not None else None
        if interrupt is None:
            # No worker was in a test: name the pytest line this loop was
            # called from, as pytest would between two tests, not Kiln's.
            interrupt = interrupt_location(sys.exc_info()[2])
        if interrupt is not None:
            raise_keyboard_interrupt_at(*interrupt)

    def _serve(self, deadline=None):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        old_handler = signal.signal(signal.SIGCHLD, lambda *_: None)
        sel = selectors.DefaultSelector()
        sel.register(self.chan.fd, selectors.EVENT_READ, "control")
        sel.register(wake_r, selectors.EVENT_READ, "signal")
        self._close_in_child = (wake_r, wake_w, self.chan.fd, sel.fileno())
        try:
            while not self.finished:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    return
                for key, _ in sel.select(timeout):
                    if key.data == "signal":
                        drain_wakeup(wake_r)
                        self._reap()
                    else:
                        if not self.chan.read_available():
                            # The supervisor is gone: nobody will read results.
                            self._kill_children()
                            raise self.session.Interrupted("kiln supervisor exited")
                        for header, body in self.chan.pop_frames():
                            self._handle(header, body)
                # Children are reaped when SIGCHLD wakes us (above), not on
                # every message: a wait4 per test adds up.
        finally:
            signal.signal(signal.SIGCHLD, old_handler)
            signal.set_wakeup_fd(old_wakeup)
            sel.close()
            os.close(wake_r)
            os.close(wake_w)

    def _reap(self):
        for pid, code, sig in reap_children():
            worker_id = self.children.pop(pid, None)
            if worker_id is None:
                continue  # a grandchild re-parented to us, or a test's own child
            self.chan.send(
                {
                    "type": "worker:exited",
                    "workerId": worker_id,
                    "pid": pid,
                    "exitCode": code,
                    "signal": sig,
                }
            )

    def _kill_children(self):
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _spawn(self, worker_id, first):
        from .worker import run_worker  # imported before the first fork (pytest_runtestloop)

        sandbox = self.sandbox

        def child():
            if sandbox is not None:
                sandbox.enter(worker_id)
            with measure_worker(self.config):  # pytest-cov: save this worker's data
                return run_worker(
                    self.session,
                    self.worker_plugins,
                    worker_id=worker_id,
                    socket_path=self.socket_path,
                    timeout=self.timeout,
                    scratch_dir=self.scratch_dir,
                    first=first,
                    sandbox=sandbox,
                )

        pid = fork_worker(child, self._close_in_child)
        self.children[pid] = worker_id
        self.chan.send({"type": "worker:spawned", "workerId": worker_id, "pid": pid})
