"""Kiln's pytest plugin inside the zygote.

pytest does configuration, collection, fixtures and reporting; Kiln replaces
only the execution loop, the way pytest-xdist's DSession does: the zygote's
`pytest_runtestloop` forks workers instead of running items, and feeds the
reports they send back into the zygote's own hooks
(`pytest_runtest_logstart/logreport/logfinish`). So the terminal output, the
FAILURES text, `-r`, `--durations`, the cache plugin and the exit code are all
pytest's own.
"""

import signal
import sys

import pytest

from .bridge_replay import ReportReplay
from .bridge_runloop import ZygoteRunLoop
from .coverage_fork import measuring
from .debugging import interactive_reason


class KilnZygotePlugin(ZygoteRunLoop, ReportReplay):
    """Configuration and collection here; the run loop is ZygoteRunLoop
    (bridge_runloop.py), the supervisor's messages ReportReplay
    (bridge_replay.py). pluggy registers the hooks of all three: it looks
    at every attribute of the plugin object, inherited ones included."""

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
        self.workers_note = hello.get("workersNote", "")
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
        if self.workers_note:
            line = f"kiln: {self.workers_note} (--dist {self.dist})"
        elif self.workers_auto:
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
