"""What a worker needs so `--pdb`, `--trace` and `breakpoint()` work in it.

A worker is a fork of the zygote, so its fds 0-2 are the zygote's, which the
supervisor passes through from the user's terminal (`stdio: "inherit"` in
src/zygote/zygote-process.ts). pytest's debugging plugin does the rest as in
plain pytest: it suspends capture, stdin included (`capman.suspend(in_=True)`
in `pytestPDB._init_pdb`), and pdb reads and writes the real fds. The worker
closes the zygote's capture before starting its own (`_isolate_capture`), so
"the real fds" are the terminal and not the zygote's capture files.

What is left is here: the terminal reporter that the debugging plugin prints
the traceback with, and the serial run `--pdb`/`--trace` need.
"""

import faulthandler
import os
import signal

import pytest


class HooklessTerminalReporter:
    """The zygote's TerminalReporter, reachable under its plugin name but
    implementing no hook.

    The zygote prints every report, so the worker's copy of the reporter must
    receive no hook calls. But plugins look it up by name to write to the
    terminal themselves: pytest's `_enter_pdb` (debugging.py) prints the
    failure and "entering PDB" through `getplugin("terminalreporter")._tw`,
    and `Config.get_terminal_writer()` (pytest-timeout's stack dump) does the
    same. With the plugin simply unregistered, both raise AttributeError on
    None and the worker dies. pluggy registers a plugin's hooks from the names
    `dir()` lists; this class defines none, and forwards every attribute read
    to the real reporter, whose writer is the worker's inherited stdout.
    """

    def __init__(self, reporter):
        self._kiln_reporter = reporter

    def __getattr__(self, name):
        return getattr(self._kiln_reporter, name)


def replace_terminal_reporter(config):
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is None:
        return
    config.pluginmanager.unregister(reporter)
    config.pluginmanager.register(HooklessTerminalReporter(reporter), "terminalreporter")


def interactive_reason(config):
    """Why this run must be serial with the terminal in one worker, or None.

    `--pdb` and `--trace` stop in the debugger on the terminal, possibly at
    every test; several workers would prompt on one terminal at once and read
    each other's keystrokes (pytest-xdist refuses `--pdb` for this reason).
    """
    if config.getvalue("usepdb"):
        return "--pdb"
    if config.getvalue("trace"):
        return "--trace"
    return None


class WorkerDebugging:
    """Plugin registered in a worker: the debugger's effects on what the
    worker reports.

    - `_enter_pdb` marks the report it showed (`rep._pdbshown`), and pytest's
      terminal reporter then leaves it out of FAILURES (TerminalReporter.
      getreports). The worker serialized that report when it was logged, just
      before pytest_exception_interact; the mark is copied onto it here.
    - While the debugger holds a test, no timeout may kill it: the faulthandler
      deadline is cancelled (pytest's faulthandler plugin does this too, but
      not under `-p no:faulthandler`) and the supervisor told to stop its
      watchdog, as pytest-timeout does when it sees a debugger
      (`is_debugging()`).
    """

    def __init__(self, chan, sender):
        self.chan = chan
        self.sender = sender

    @pytest.hookimpl(hookwrapper=True)
    def pytest_exception_interact(self, node, call, report):
        # A wrapper, so the mark is copied even when the user quits the
        # debugger (pytest raises Exit out of the post-mortem).
        yield
        if self.chan is None:  # the zygote's dormant copy (worker.WorkerPlugins)
            return
        if getattr(report, "_pdbshown", False):
            self.sender.mark_last(report, "_pdbshown", True)

    def pytest_enter_pdb(self, config, pdb):
        if self.chan is None:
            return
        faulthandler.cancel_dump_traceback_later()
        self.chan.send({"type": "debugger:entered"})


def quit_run(chan, sender, item, exc):
    """`q` in the debugger: pytest raises Exit("Quitting debugger") out of the
    test protocol, and the whole session ends (main.wrap_session). The reports
    the test logged so far go to the zygote as an unfinished test, then the
    zygote is asked to end its session with the same Exit.

    What is still set up is torn down without reports, as pytest's
    runner.pytest_sessionfinish does after an Exit; an error there escapes,
    as it does from pytest's sessionfinish.
    """
    sender.send_unfinished(item.nodeid, item.location)
    try:
        item.session._setupstate.teardown_exact(None)
    finally:
        chan.send({"type": "run:exit", "reason": str(exc.msg), "returncode": exc.returncode})


_HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))


def interrupt_location(tb):
    """[file, line] that pytest's "!!! KeyboardInterrupt !!!" would name.

    wrap_session prints the innermost traceback entry that is not hidden
    (ExceptionInfo._getreprcrash skips frames with __tracebackhide__).
    Kiln's own frames do not exist under plain pytest, so they are hidden
    too: a Ctrl-C that lands while a worker reports a test names the pytest
    or pluggy line that called it, as pytest would.
    """
    where = None
    while tb is not None:
        frame = tb.tb_frame
        hidden = frame.f_locals.get("__tracebackhide__", frame.f_globals.get("__tracebackhide__"))
        ours = os.path.abspath(frame.f_code.co_filename).startswith(_HARNESS_DIR + os.sep)
        if not hidden and not ours:
            where = [frame.f_code.co_filename, tb.tb_lineno]
        tb = tb.tb_next
    return where


def raise_keyboard_interrupt_at(filename, lineno):
    """Raise KeyboardInterrupt whose innermost frame is filename:lineno.

    A test raised it in a worker; pytest's wrap_session prints where it came
    from (the traceback's last entry, "test_x.py:5: KeyboardInterrupt").
    Compiling the raise at that file and line makes the zygote's traceback
    end where the worker's did.
    """
    code = compile("\n" * (int(lineno) - 1) + "raise KeyboardInterrupt", str(filename), "exec")
    exec(code, {})


def interrupt_run(chan, sender, item, exc):
    """A test raised KeyboardInterrupt: pytest ends the whole session there
    ("!!! KeyboardInterrupt !!!" naming the line that raised it, status 2;
    runner.CallInfo re-raises it unless --pdb). Like quit_run, the test's
    reports so far go to the zygote, what is set up is torn down, and the
    zygote is asked to end its session the same way, at the same line.
    """
    # A Ctrl-C in a terminal reaches this worker twice: from the terminal
    # and relayed by the supervisor. Finishing the report matters more; the
    # supervisor kills a worker that hangs here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    where = interrupt_location(exc.__traceback__)
    if not sender.already_finished(item.nodeid):
        sender.send_unfinished(item.nodeid, item.location)
    try:
        item.session._setupstate.teardown_exact(None)
    except Exception:
        pass  # pytest's own sessionfinish teardown after an interrupt is not reported either
    message = {"type": "run:exit", "reason": "KeyboardInterrupt", "returncode": None}
    if where is not None:
        message["interrupt"] = where
    chan.send(message)
