"""How a worker's reports reach the zygote: one `test:finished` frame per
test, each captured section once, a body too large for a frame through a
file, and texts clipped for the run record. Registered in the worker by
worker.py's WorkerPlugins.
"""

import json
import marshal
import os
import time

import pytest

from .warnings_codec import serialize_warning

# A test:finished body larger than this goes through a file in the run's
# scratch directory instead of the socket: a test may print hundreds of MB,
# which pytest handles, and a frame size must never fail a test.
SPILL_BODY_AT = 16 * 1024 * 1024

# What the supervisor keeps of one captured section or failure text in the
# run record. The zygote still gets the whole text, so pytest's own output
# (FAILURES, -rP, junitxml) is complete; the record is for reports, and
# holding a 50 MB output several times over made Node's RSS balloon.
RECORD_TEXT_LIMIT = 1024 * 1024


def clip_for_record(text, limit=RECORD_TEXT_LIMIT):
    """Keep the head and the tail of a long text, saying what was left out."""
    if len(text) <= limit:
        return text
    half = limit // 2
    elided = len(text) - 2 * half
    note = (
        f"\n[... kiln: {elided} characters left out of the run record;"
        f" pytest's own output has them all ...]\n"
    )
    return text[:half] + note + text[-half:]


def sections_added(earlier, current):
    """How many of `earlier` start `current`, and the sections after them.

    pytest's report.sections grow over a test's phases: every report carries
    the item's `_report_sections` so far (TestReport.from_item_and_call), so
    teardown's holds setup's and call's output again. Sending only what a
    phase added keeps each section on the wire once; the zygote rebuilds the
    rest from the phases before it. A plugin that rewrote report.sections
    breaks the prefix, and then everything is sent.
    """
    n = len(earlier)
    if n <= len(current) and all(
        tuple(a) == tuple(b) for a, b in zip(earlier, current[:n])
    ):
        return n, list(current[n:])
    return 0, list(current)


class ReportSender:
    """Plugin registered in the worker: a test's reports go out as one frame.

    Everything about one item (its setup/call/teardown reports) travels in a
    single `test:finished` frame written at logfinish: one write(2) and one
    header to parse per test on every hop instead of five. The supervisor
    does not need to hear of a test's start: a worker runs its items in order,
    so when it dies the first unfinished one is the one it was running.

    The body is pytest's own report serialization (pytest_report_to_serializable,
    as xdist uses) packed with marshal: the zygote that reads it is the same
    interpreter, and marshal is several times faster than JSON here. A report
    whose data marshal can't take (user_properties holding arbitrary objects)
    falls back to JSON with str() for the odd values.

    Registered in the zygote before the first fork (prepare_plugins) with no
    channel: dormant there, it sends nothing until a worker gives it one.
    """

    def __init__(self, chan, config, spill_dir):
        self.chan = chan
        self.config = config
        self.spill_dir = spill_dir
        self.spill_reported = None
        self.spilled = 0
        self.reports = []
        self.meta = []
        self.sections = []  # the item's sections as its last report had them
        self.finished_nodeid = None  # the last test sent whole
        self.logged_finish = None  # (nodeid, location) of a logfinish not sent yet
        self.in_protocol = False  # inside pytest_runtest_protocol (see there)

    def pytest_runtest_logreport(self, report):
        if self.chan is None:  # the zygote's dormant copy
            return
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        current = list(report.sections)
        kept, added = sections_added(self.sections, current)
        self.sections = current
        if "sections" in data:
            # The zygote puts the first `kept` sections back before it
            # rebuilds the report (replay.rebuild_sections).
            data["sections"] = added
            data["kiln_sections_kept"] = kept
        self.reports.append(data)
        meta = {
            "when": report.when,
            "outcome": report.outcome,
            "duration": report.duration,
            "wasxfail": hasattr(report, "wasxfail"),
        }
        if report.failed:
            # Readable by the supervisor without unpacking the body (run events).
            meta["longreprtext"] = clip_for_record(report.longreprtext)
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None:
                meta["message"] = crash.message  # JUnit's failure message
        if report.skipped and isinstance(report.longrepr, tuple):
            path, lineno, reason = report.longrepr
            meta["skip"] = [str(path), lineno, str(reason)]
        wasxfail = getattr(report, "wasxfail", None)
        if wasxfail is not None:
            meta["xfailReason"] = str(wasxfail)
        if report.user_properties:
            meta["userProperties"] = [[str(k), str(v)] for k, v in report.user_properties]
        if added:
            # Only what this phase added: the record keeps each section once.
            meta["sections"] = [[title, clip_for_record(text)] for title, text in added]
        start = getattr(report, "start", None)  # pytest >= 7.4
        if start is not None:
            meta["start"] = start
            meta["stop"] = report.stop
        else:
            # Older pytest stamps no times; this hook runs as the phase ends.
            stop = time.time()
            meta["start"] = stop - report.duration
            meta["stop"] = stop
        self.meta.append(meta)

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.chan is None:
            return
        if self.in_protocol:
            self.logged_finish = (nodeid, location)
        else:
            # A report logged outside any protocol (worker._teardown_rest:
            # the teardown after a stop under pytest < 8) has no wrapper exit
            # to wait for, and no warnings recorded after it: send it now.
            self._send(nodeid, location, finished=True)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        # pytest's warnings plugin records a test's warnings when its own
        # pytest_runtest_protocol wrapper exits (warnings.py
        # catch_warnings_for_item), after logfinish. Registered after it and
        # tryfirst, this wrapper is the outer one (pluggy calls the last
        # registered first), so the test goes out after its warnings: its
        # receiver (the zygote, or a kiln agent sending it on to the
        # coordinator) has them when the test arrives. An Exit or
        # KeyboardInterrupt out of the protocol still passes here first.
        self.in_protocol = True
        yield
        self.in_protocol = False
        if self.logged_finish is not None:
            nodeid, location = self.logged_finish
            self.logged_finish = None
            self._send(nodeid, location, finished=True)

    def send_unfinished(self, nodeid, location):
        """The test's protocol was cut short (Exit from the debugger): send what
        it logged, and no logfinish, as in plain pytest."""
        self._send(nodeid, location, finished=False)

    def already_finished(self, nodeid):
        """Whether this test went out whole: a Ctrl-C that lands just after
        (in its logfinish) must not send it again as unfinished."""
        return self.finished_nodeid == nodeid and not self.reports

    def mark_last(self, report, key, value):
        """Set an attribute on the last serialized report, if it is `report`'s."""
        if self.reports and self.reports[-1].get("when") == report.when:
            self.reports[-1][key] = value

    def _send(self, nodeid, location, finished):
        reports, self.reports = self.reports, []
        meta, self.meta = self.meta, []
        self.sections = []
        try:
            body, fmt = marshal.dumps(reports), "marshal"
        except ValueError:
            body, fmt = json.dumps(reports, default=str).encode("utf-8"), "json"
        header = {
            "type": "test:finished",
            "nodeid": nodeid,
            "location": list(location),
            "reports": meta,
            "format": fmt,
        }
        if finished:
            self.finished_nodeid = nodeid
        else:
            header["unfinished"] = True
        if len(body) > SPILL_BODY_AT:
            header["bodyFile"] = self._spill(body)
            body = b""
        self.chan.send(header, body)

    def _spill(self, body):
        self.spilled += 1
        name = f"body-{os.getpid()}-{self.spilled}.bin"
        with open(os.path.join(self.spill_dir, name), "wb") as f:
            f.write(body)
        # Where the zygote finds it: the same dir, or, for a sandboxed worker
        # (sandbox.WorkerSandbox.spill_dirs), the private /tmp as mounted in
        # the zygote.
        return os.path.join(self.spill_reported or self.spill_dir, name)

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        # pytest calls this hook historically: registering this plugin in the
        # worker replays every warning the zygote recorded before the fork
        # (configuration, and collection, where import-time warnings come
        # from). The zygote has reported those already; sending them back
        # would count them again once per worker. A worker only runs tests;
        # the zygote's dormant copy sends nothing.
        if when != "runtest" or self.chan is None:
            return
        self.chan.queue(
            {
                "type": "warning:recorded",
                "warning": serialize_warning(warning_message),
                "when": when,
                "nodeid": nodeid,
                "location": list(location) if location else None,
            }
        )
