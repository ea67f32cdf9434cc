"""A worker: a fork of the zygote that runs groups of collected items.

Items go through pytest's own `pytest_runtest_protocol` with the correct
`nextitem`, so module- and class-scoped fixtures are torn down exactly when
pytest would. Like xdist's worker (xdist/remote.py) the worker holds one item
back until it knows the next one (or knows there is none), and asks for more
work before it runs dry so the round trip overlaps a running test.
"""

import collections
import faulthandler
import json
import marshal
import os
import select
import socket
import time

from .protocol import Channel
from .warnings_codec import serialize_warning

# Ask for the next group while this many items are still queued, so the reply
# arrives while a test runs instead of after it.
_REFILL_AT = 2


class _ReportSender:
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
    """

    def __init__(self, chan, config):
        self.chan = chan
        self.config = config
        self.reports = []
        self.meta = []

    def pytest_runtest_logreport(self, report):
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.reports.append(data)
        meta = {
            "when": report.when,
            "outcome": report.outcome,
            "duration": report.duration,
            "wasxfail": hasattr(report, "wasxfail"),
        }
        if report.failed:
            # Readable by the supervisor without unpacking the body (run events).
            meta["longreprtext"] = report.longreprtext
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
        if report.sections:
            meta["sections"] = [list(section) for section in report.sections]
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
        reports, self.reports = self.reports, []
        meta, self.meta = self.meta, []
        try:
            body, fmt = marshal.dumps(reports), "marshal"
        except ValueError:
            body, fmt = json.dumps(reports, default=str).encode("utf-8"), "json"
        self.chan.send(
            {
                "type": "test:finished",
                "nodeid": nodeid,
                "location": list(location),
                "reports": meta,
                "format": fmt,
            },
            body,
        )

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        self.chan.queue(
            {
                "type": "warning:recorded",
                "warning": serialize_warning(warning_message),
                "when": when,
                "nodeid": nodeid,
                "location": list(location) if location else None,
            }
        )


def _isolate_capture(config):
    """Give this worker its own capture files.

    The zygote's global capture holds temporary files whose file descriptions
    (and offsets) every fork shares; two workers capturing into them at once
    would mix their output. Drop the inherited MultiCapture without touching
    its files and start a fresh one (pytest's CaptureManager API).
    """
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None or capman._global_capturing is None:
        return
    capman._global_capturing = None
    capman.start_global_capturing()
    capman.suspend_global_capture()


def _silence_terminal(config):
    """The zygote prints everything: the worker's TerminalReporter writes to
    /dev/null from here on.

    It stays registered, as in an xdist worker: Config.get_terminal_writer()
    asserts that it is, and pytest 8.x's assertrepr_compare calls that for
    every assertion diff (so without it every introspected assert fails with
    an AssertionError inside pytest). The new writer keeps the old one's
    markup, highlighting and width, so the diffs render as pytest renders them.
    """
    terminal = config.pluginmanager.getplugin("terminalreporter")
    if terminal is None:
        return
    from _pytest._io import TerminalWriter

    old = terminal._tw
    tw = TerminalWriter(file=open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    tw.hasmarkup = old.hasmarkup
    tw.code_highlight = old.code_highlight
    tw.fullwidth = old.fullwidth
    terminal._tw = tw


class _Inbox:
    def __init__(self, chan):
        self.chan = chan
        self.pending = collections.deque()
        self.no_more = False
        self.stop = False
        self.asked = False

    def _apply(self, header):
        kind = header["type"]
        if kind == "work":
            self.pending.extend(int(i) for i in header["indices"])
            self.asked = False
        elif kind == "work:none":
            self.no_more = True
            self.asked = False
        elif kind == "stop":
            self.stop = True
        else:
            raise RuntimeError(f"this is a bug in kiln: unknown message {kind!r} for a worker")

    def poll(self, block):
        fd = self.chan.fd
        if block or select.select([fd], [], [], 0)[0]:
            if not self.chan.read_available():
                # The supervisor went away: nothing to report to, stop now.
                self.stop = True
                return
        for header, _ in self.chan.pop_frames():
            self._apply(header)


def run_worker(session, worker_id, socket_path, timeout, stack_dir):
    config = session.config
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    chan = Channel(sock.fileno())
    chan.send({"type": "worker:hello", "workerId": worker_id, "pid": os.getpid()})

    _isolate_capture(config)
    _silence_terminal(config)
    config.pluginmanager.register(_ReportSender(chan, config), "kiln-report-sender")

    stack_file = None
    if timeout:
        stack_file = open(os.path.join(stack_dir, f"worker-{worker_id}.stack"), "w")

    items = session.items
    inbox = _Inbox(chan)
    ran_any = False
    while True:
        inbox.poll(block=False)
        if inbox.stop:
            break
        if len(inbox.pending) <= _REFILL_AT and not inbox.no_more and not inbox.asked:
            chan.send({"type": "work:wanted"})
            inbox.asked = True
        if not inbox.pending and inbox.no_more:
            break
        if len(inbox.pending) < 2 and not inbox.no_more:
            inbox.poll(block=True)
            continue
        item = items[inbox.pending.popleft()]
        nextitem = items[inbox.pending[0]] if inbox.pending else None
        ran_any = True
        if stack_file is not None:
            # faulthandler's watchdog is a C thread: it fires even while the
            # test holds the GIL in a loop, dumps every thread's stack, then
            # _exit(1). The supervisor reads the file and fails the test.
            faulthandler.dump_traceback_later(timeout, exit=True, file=stack_file)
        try:
            config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        finally:
            if stack_file is not None:
                faulthandler.cancel_dump_traceback_later()
        if session.shouldfail or session.shouldstop:
            # The worker's own Session counted a failure past --maxfail/-x
            # (Session.pytest_runtest_logreport): stop before the next item,
            # exactly where serial pytest stops, without waiting for the
            # supervisor's stop to arrive.
            inbox.stop = True
            break

    if inbox.stop and ran_any:
        # Stopped early (-x, --maxfail, Ctrl-C): tear down what is still set up,
        # as pytest's Session does at pytest_sessionfinish.
        try:
            session._setupstate.teardown_exact(None)
        except Exception:
            pass
    chan.send({"type": "worker:done"})
    _close_gracefully(sock)
    return 0


def _close_gracefully(sock):
    """Half-close, then wait for the supervisor to close its end.

    Closing outright could leave a message the supervisor sent meanwhile (a
    `stop`) unread; the supervisor's next write would then fail with EPIPE and
    Node destroys a socket on a write error, dropping the frames this worker
    sent last. After SHUT_WR the supervisor reads everything, sees EOF, and
    closes its side (net.Server's allowHalfOpen=false), which ends our read.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5.0)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()
