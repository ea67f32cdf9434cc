"""Kiln's pytest plugin inside the zygote.

pytest does configuration, collection, fixtures and reporting; Kiln replaces
only the execution loop, the way pytest-xdist's DSession does: the zygote's
`pytest_runtestloop` forks workers instead of running items, and feeds the
reports they send back into the zygote's own hooks
(`pytest_runtest_logstart/logreport/logfinish`). So the terminal output, the
FAILURES text, `-r`, `--durations`, the cache plugin and the exit code are all
pytest's own.
"""

import os
import selectors
import signal
import sys
import time

import pytest

from .cache_order import ordering_hints, settle_stepwise, skipped_failure
from .coverage_fork import measure_worker, measuring
from .debugging import interactive_reason, interrupt_location, raise_keyboard_interrupt_at
from .forking import fork_worker, reap_children
from .plugin_compat import timeout_owner
from .replay import (
    UnreadableReport,
    WorkerNode,
    crash_report,
    serialized_reports,
    unreadable_message,
)
from .warnings_codec import unserialize_warning


# How long an interrupted zygote waits for its workers' last reports (the
# supervisor kills a worker that takes longer than its INTERRUPT_GRACE_MS).
_INTERRUPT_DRAIN_SECONDS = 3.0


class KilnZygotePlugin:
    def __init__(
        self, chan, hello, finder=None, registry_note="", registry_rootdir=None, sandbox=None
    ):
        self.chan = chan
        self.sandbox = sandbox  # sandbox.WorkerSandbox, or None (--isolate none)
        self.finder = finder
        self.registry_note = registry_note
        self.registry_rootdir = registry_rootdir
        self.socket_path = hello["socketPath"]
        self.workers = int(hello.get("workers", 1))
        # -n auto: `workers` is the ceiling until run:planned says the count.
        self.workers_auto = bool(hello.get("workersAuto"))
        self.order_by = None
        self.dist = hello.get("dist", "module")
        self.timeout = hello.get("timeout")
        self.scratch_dir = hello.get("scratchDir")
        self.interpreter_note = hello.get("interpreterNote", "")
        # Set when this zygote was forked from the daemon's level 0.
        self.zygote_note = hello.get("zygoteNote", "")
        self.config = None
        self.session = None
        self.children = {}  # pid -> worker id
        self.nodes = {}
        self.items_by_id = None
        self.stop_sent = False
        self.collect_errors = []
        self.collect_skips = []
        self.deselected = 0
        self.finished = False
        self.serial_reason = None
        self.exit_request = None
        # --sw with several workers: what the run reported, for settle_stepwise.
        self.stepwise_tracking = False
        self.reported = set()
        self.failed_reports = []
        self.worker_plugins = None

    def collected_rootdir(self):
        """pytest's rootdir, once pytest configured the session; else None."""
        return str(self.config.rootpath) if self.config is not None else None

    # -- configuration -----------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(self, early_config):
        # pytest has just put its AssertionRewritingHook at sys.meta_path[0]
        # (Config._consider_importhook); conftests are imported next. Serve
        # the hook from the pack and keep our finder in front of it.
        if self.finder is None:
            return
        rootdir = str(early_config.rootpath)
        if self.registry_rootdir is not None and rootdir != self.registry_rootdir:
            self._drop_registry(rootdir)
            return
        from .loader import find_rewrite_hook

        hook = find_rewrite_hook()
        if hook is not None:
            self.finder.attach_rewrite_hook(
                hook, bool(early_config.getini("enable_assertion_pass_hook"))
            )
        if sys.meta_path[0] is not self.finder:
            sys.meta_path.remove(self.finder)
            sys.meta_path.insert(0, self.finder)

    def _drop_registry(self, rootdir):
        """The supervisor prepared the pack for another directory than pytest's
        rootdir (Config._preparse has just determined it; no conftest is
        imported yet). What the pack served so far is right, since entries are
        keyed by path and content, but its scope is not this project's: import
        normally from here on, and say so."""
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        prepared, self.registry_rootdir = self.registry_rootdir, None
        self.finder = None
        self.registry_note = "registry: off for this run (prepared for another rootdir)"
        self.chan.send(
            {"type": "registry:rootdir-mismatch", "prepared": prepared, "rootdir": rootdir}
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        # From here on pytest's wrap_session handles KeyboardInterrupt; one
        # that arrived earlier is raised now (zygote.main explains why), after
        # the terminal reporter's own sessionstart, so its summary is printed.
        from .zygote import INTERRUPT

        signal.signal(signal.SIGINT, signal.default_int_handler)
        if INTERRUPT["pending"]:
            raise KeyboardInterrupt

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        self.config = config
        if self.sandbox is not None and self.sandbox.profile == "strict" and measuring(config):
            # A strict worker cannot write its coverage data file (into the
            # project, read-only there) and coverage would drop what it
            # measured without a word: refuse instead.
            raise pytest.UsageError(
                "pytest-cov under --isolate strict: workers may not write coverage data "
                "into the project; measure coverage with --isolate hermetic or none"
            )
        self.serial_reason = interactive_reason(config)
        if self.serial_reason is not None:
            # One worker, which runs everything in pytest's order and owns the
            # terminal (debugging.py); the header then says "1 worker".
            self.workers = 1
            self.workers_auto = False
        if not self.workers_auto:
            self._fit_output_to_workers()

    def _fit_output_to_workers(self):
        if self.workers > 1:
            # As pytest-xdist does (xdist/plugin.py): items from several files
            # interleave, so per-file progress prefixes would be noise.
            tr = self.config.pluginmanager.getplugin("terminalreporter")
            if tr is not None:
                tr.showfspath = False
        self.stepwise_tracking = self.workers > 1 and self.order_by == "stepwise"

    def pytest_report_header(self, config):
        plural = "s" if self.workers != 1 else ""
        count = f"up to {self.workers}" if self.workers_auto else str(self.workers)
        line = f"kiln: {count} worker{plural} forked from a zygote (--dist {self.dist})"
        if self.workers_auto:
            line += ", -n auto: the count is chosen after collection"
        if self.timeout:
            line += f", --timeout {self.timeout:g}s"
        lines = [line]
        if self.interpreter_note:
            lines.append(f"kiln: {self.interpreter_note}")
        if self.zygote_note:
            lines.append(f"kiln: {self.zygote_note}")
        if self.registry_note:
            lines.append(f"kiln: {self.registry_note}")
        return lines

    # -- collection -------------------------------------------------------

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(
                {"nodeid": report.nodeid, "longreprtext": report.longreprtext}
            )
        elif report.skipped:
            # A module-level skip counts as "skipped" in pytest's summary.
            self.collect_skips.append({"nodeid": report.nodeid, "longrepr": str(report.longrepr)})

    def pytest_deselected(self, items):
        self.deselected += len(items)

    def pytest_collection_finish(self, session):
        # Sent even when collection errors will interrupt the run (exit 2),
        # so the run's record has the items and the errors either way.
        self.chan.send(
            {
                "type": "collection:finished",
                "rootdir": str(session.config.rootpath),
                "items": [
                    {"nodeid": item.nodeid, "location": list(item.location)}
                    for item in session.items
                ],
                "errors": self.collect_errors,
                "skipped": self.collect_skips,
                "deselected": self.deselected,
            }
        )

    # -- the run loop ------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
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
                        try:
                            while os.read(wake_r, 512):
                                pass
                        except BlockingIOError:
                            pass
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

    # -- messages from the supervisor ---------------------------------------

    def _handle(self, header, body):
        kind = header["type"]
        if kind == "worker:spawn":
            self._spawn(int(header["workerId"]), header.get("indices") or ())
        elif kind == "test:finished":
            self._replay_test(header, body)
        elif kind == "test:crashed":
            self._report_crash(header)
        elif kind == "warning:recorded":
            self.config.hook.pytest_warning_recorded.call_historic(
                kwargs=dict(
                    warning_message=unserialize_warning(header["warning"]),
                    when=header["when"],
                    nodeid=header["nodeid"],
                    location=tuple(header["location"]) if header.get("location") else None,
                )
            )
        elif kind == "run:exit":
            if self.exit_request is None:
                self.exit_request = (
                    header["reason"],
                    header.get("returncode"),
                    header.get("interrupt"),
                )
        elif kind == "run:finish":
            self.finished = True
        elif kind == "run:planned":
            self.workers = int(header["workers"])
            self._fit_output_to_workers()
            tr = self.config.pluginmanager.getplugin("terminalreporter")
            # Where xdist says "2 workers [186 items]": after collection, not
            # under -q (the header isn't shown then either).
            if tr is not None and self.config.option.verbose >= 0:
                tr.write_line(f"kiln: {header['note']}")
        else:
            raise RuntimeError(f"this is a bug in kiln: unknown message {kind!r} for the zygote")

    def _replay_test(self, header, body):
        """Feed one finished test's reports to the zygote's hooks, in the
        order serial pytest calls them (runner.pytest_runtest_protocol)."""
        hook = self.config.hook
        nodeid = header["nodeid"]
        location = tuple(header["location"])
        spill_dir = self.scratch_dir if self.sandbox is None else self.sandbox.spill_dirs()[1]
        try:
            datas = serialized_reports(header, body, spill_dir)
            reports = [
                hook.pytest_report_from_serializable(config=self.config, data=data)
                for data in datas
            ]
            if any(report is None for report in reports):
                raise UnreadableReport("not a pytest report")
        except Exception as exc:  # untrusted bytes from a worker (replay.UnreadableReport)
            self._refuse_worker(header, exc)
            return
        hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
        for report in reports:
            self._log_report(report, header.get("workerId"))
        if not header.get("unfinished"):
            hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)

    def _log_report(self, report, worker_id):
        if self.workers > 1 and worker_id is not None:
            report.node = self.nodes.setdefault(worker_id, WorkerNode(worker_id))
        self.config.hook.pytest_runtest_logreport(report=report)
        if self.stepwise_tracking:
            self.reported.add(report.nodeid)
            if report.failed:
                self.failed_reports.append(report.nodeid)
        session = self.session
        if (session.shouldfail or session.shouldstop) and not self.stop_sent:
            self.stop_sent = True
            self.chan.send(
                {"type": "run:stop-requested", "reason": str(session.shouldfail or session.shouldstop)}
            )

    def _refuse_worker(self, header, exc):
        """A worker sent a report that cannot be read: the test fails with
        the reason, and the worker is killed (it is this process's child), as
        the supervisor kills one that writes garbage into its channel."""
        worker_id = header.get("workerId")
        for pid, wid in self.children.items():
            if wid == worker_id:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        message = unreadable_message(header, exc)
        self._report_crash({**header, "when": "call", "message": message, "duration": 0.0})

    def _report_crash(self, header):
        """A worker died (signal, os._exit, timeout) while running an item:
        it fails with a report built here (replay.crash_report)."""
        if self.items_by_id is None:
            self.items_by_id = {item.nodeid: item for item in self.session.items}
        report = crash_report(self.items_by_id.get(header["nodeid"]), header)
        self.config.hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
        self._log_report(report, header.get("workerId"))
        self.config.hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)

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
