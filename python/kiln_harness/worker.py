"""A worker: a fork of the zygote that runs groups of collected items.

Items go through pytest's own `pytest_runtest_protocol` with the correct
`nextitem`, so module- and class-scoped fixtures are torn down exactly when
pytest would. Like xdist's worker (xdist/remote.py) the worker holds one item
back until it knows the next one (or knows there is none), and asks for more
work before it runs dry so the round trip overlaps a running test.
"""

import collections
import faulthandler
import os
import select
import socket

import pytest

from . import affected
from .debugging import WorkerDebugging, interrupt_run, quit_run, replace_terminal_reporter
from .plugin_compat import watchdog_for
from .protocol import Channel, move_out_of_the_way
from .report_sender import ReportSender

# Ask for the next group while this many items are still queued, so the reply
# arrives while a test runs instead of after it.
_REFILL_AT = 2

def _isolate_capture(config, between=None):
    """Give this worker its own capture files.

    The zygote's global capture holds temporary files whose file descriptions
    (and offsets) every fork shares; two workers capturing into them at once
    would mix their output. Stop the inherited MultiCapture, then start a
    fresh one (pytest's CaptureManager API).

    Stopping it (`MultiCapture.stop_capturing`, not CaptureManager's
    `stop_global_capturing`, which would first read and truncate the shared
    files) restores fds 0-2 from its saved copies and closes this process's
    copies of its files. Merely dropping the reference would leave them to
    the garbage collector, which raises ResourceWarning for each one; under
    pytest >= 8 with `filterwarnings = error` that becomes an error at the
    first test's setup (unraisableexception plugin). The zygote's own copies
    of those fds are untouched: fds are per process after fork(2).
    """
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None or capman._global_capturing is None:
        if between is not None:
            between()
        return
    inherited = capman._global_capturing
    capman._global_capturing = None
    inherited.stop_capturing()
    if between is not None:
        # The sandbox's lock: after the inherited capture let go of its fds
        # (so they are not among those it keeps), before the fresh capture
        # opens its files (which it must not close).
        between()
    capman.start_global_capturing()
    capman.suspend_global_capture()


class _StopBeforeTeardown:
    """Turn the supervisor's `stop` into the worker session's shouldstop
    before the running test's teardown.

    pytest >= 8 tears everything down in the last item's teardown when the
    session is about to stop (runner.runtestprotocol, pytest#11706), so
    module- and session-fixture teardown errors are reported as "ERROR at
    teardown of <test>". A stop from the supervisor (-x in another worker,
    Ctrl-C) is a message on the socket; reading it here, once the call phase
    has reported, lets pytest's own check see it in time.
    """

    def __init__(self, inbox, session):
        self.inbox = inbox
        self.session = session

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report):
        if self.inbox is None:  # the zygote's dormant copy
            return
        if report.when == "teardown" or (report.when == "setup" and report.passed):
            return
        self.inbox.poll(block=False)
        session = self.session
        if self.inbox.stop and not (session.shouldstop or session.shouldfail):
            session.shouldstop = "kiln: the run was stopped"


def _teardown_rest(item):
    """Tear down what is still set up after a stop, reported as the last
    test's teardown, the way pytest >= 8 reports it (see _StopBeforeTeardown).

    Reached under pytest < 8, whose runtestprotocol has no such check, and
    when the stop arrived after the last test's teardown had begun. pytest 7
    itself runs this teardown at pytest_sessionfinish, where an error aborts
    the session with a bare traceback; errors are never swallowed here.
    """
    from _pytest.runner import CallInfo

    # Only the setup state's teardown, not the pytest_runtest_teardown hook:
    # the item's own teardown already ran its plugins' hook wrappers (the
    # logging plugin's deletes its stash keys), and running them twice fails.
    hook = item.ihook
    hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    call = CallInfo.from_call(
        lambda: item.session._setupstate.teardown_exact(None), when="teardown"
    )
    report = hook.pytest_runtest_makereport(item=item, call=call)
    hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


class _Inbox:
    def __init__(self, chan):
        self.chan = chan
        self.pending = collections.deque()
        self.no_more = False
        self.stop = False
        self.asked = False
        # work:later (kiln agent): finish what is held, then wait for work.
        self.later = False

    def _apply(self, header):
        kind = header["type"]
        if kind == "work":
            self.pending.extend(int(i) for i in header["indices"])
            self.asked = False
            self.later = False
        elif kind == "work:later":
            # Still "asked": the next `work` is the answer, no new request.
            self.later = True
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


class WorkerPlugins:
    """The plugins every worker registers, registered once in the zygote.

    Registering a plugin walks pluggy's hook callers and pytest's
    pytest_plugin_registered hooks (FixtureManager.parsefactories among
    them); done in each fork, that work dirtied copy-on-write pages (refcounts
    on every hook implementation it visits) and delayed the first test.
    Done once in the zygote before the first fork, each worker inherits the
    registered plugins and only hands them its channel (activate). Until
    then every hook they implement returns at once, so the zygote's own run
    is unchanged. The order of registration is the one a worker used.
    """

    def __init__(self, config, scratch_dir):
        self.sender = ReportSender(None, config, scratch_dir)
        self.debugging = WorkerDebugging(None, self.sender)
        self.stop_watch = _StopBeforeTeardown(None, None)

    def register(self, pluginmanager):
        pluginmanager.register(self.sender, "kiln-report-sender")
        pluginmanager.register(self.debugging, "kiln-debugging")
        pluginmanager.register(self.stop_watch, "kiln-stop-watch")

    def activate(self, chan, inbox, session):
        self.sender.chan = chan
        self.debugging.chan = chan
        self.stop_watch.inbox = inbox
        self.stop_watch.session = session


def prepare_plugins(config, scratch_dir):
    """In the zygote, before the first fork: see WorkerPlugins."""
    plugins = WorkerPlugins(config, scratch_dir)
    plugins.register(config.pluginmanager)
    return plugins


def run_worker(
    session, plugins, worker_id, socket_path, timeout, scratch_dir, first=(), sandbox=None
):
    """Run the items the supervisor hands out; `first` came with the fork."""
    config = session.config
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    # Before this worker's own capture dups fds 0-2 onto the low numbers, as
    # pytest's capture does in a plain run (protocol.move_out_of_the_way).
    sock = socket.socket(fileno=move_out_of_the_way(sock.detach()))
    chan = Channel(sock.fileno(), sends="workerToSupervisor", receives="supervisorToWorker")

    stack_file = None
    if timeout:
        # Opened before the sandbox's lock, which keeps it: a strict worker
        # may not write the scratch dir.
        stack_file = open(os.path.join(scratch_dir, f"worker-{worker_id}.stack"), "w")
    lock = None
    if sandbox is not None:
        keep = {sock.fileno()} if stack_file is None else {sock.fileno(), stack_file.fileno()}
        plugins.sender.spill_dir, plugins.sender.spill_reported = sandbox.spill_dirs()

        def lock():
            sandbox.lock(keep)

    _isolate_capture(config, lock)
    # The zygote prints everything; the worker's copy must stay silent, but
    # stay reachable for the debugger (debugging.py).
    replace_terminal_reporter(config)
    inbox = _Inbox(chan)
    plugins.activate(chan, inbox, session)
    sender = plugins.sender


    watchdog = watchdog_for(config, timeout)
    items = session.items
    # Hello once set up: the supervisor counts a worker that dies before it
    # as one that ran no test (its first group goes back to the queue), and
    # one that dies after it as a crash of the test it was running.
    # In a PID namespace (hermetic, strict) getpid() is not the pid the
    # supervisor can signal: it keeps the one the zygote's fork returned.
    pid = os.getpid() if sandbox is None else None
    chan.send({"type": "worker:hello", "workerId": worker_id, "pid": pid})
    inbox.pending.extend(first)
    last_item = None
    tracker = affected.TRACKER
    if tracker is not None:
        tracker.begin_worker()
    while True:
        inbox.poll(block=False)
        if inbox.stop:
            break
        if len(inbox.pending) <= _REFILL_AT and not inbox.no_more and not inbox.asked:
            chan.send({"type": "work:wanted"})
            inbox.asked = True
        if not inbox.pending and inbox.no_more:
            break
        if not inbox.pending and inbox.later:
            inbox.poll(block=True)
            continue
        if len(inbox.pending) < 2 and not inbox.no_more and not inbox.later:
            inbox.poll(block=True)
            continue
        item = items[inbox.pending.popleft()]
        nextitem = items[inbox.pending[0]] if inbox.pending else None
        last_item = item
        if stack_file is not None:
            # faulthandler's watchdog is a C thread: it fires even while the
            # test holds the GIL in a loop, dumps every thread's stack, then
            # _exit(1). The supervisor reads the file and fails the test.
            seconds = watchdog(item)  # plugin_compat: pytest-timeout may own --timeout
            if seconds:
                faulthandler.dump_traceback_later(seconds, exit=True, file=stack_file)
        try:
            config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        except pytest.exit.Exception as exc:
            quit_run(chan, sender, item, exc)
            inbox.stop = True
            break
        except KeyboardInterrupt as exc:
            interrupt_run(chan, sender, item, exc)
            inbox.stop = True
            break
        finally:
            if stack_file is not None:
                faulthandler.cancel_dump_traceback_later()
            if tracker is not None:
                tracker.after_item(item)
        if session.shouldfail or session.shouldstop:
            # The worker's own Session counted a failure past --maxfail/-x
            # (Session.pytest_runtest_logreport): stop before the next item,
            # exactly where serial pytest stops, without waiting for the
            # supervisor's stop to arrive.
            inbox.stop = True
            break

    if inbox.stop and last_item is not None and session._setupstate.stack:
        _teardown_rest(last_item)
    if tracker is not None:
        chan.send(tracker.worker_message())
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
