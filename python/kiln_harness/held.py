"""The held collection: a run's zygote state after pytest's configuration
and collection, kept by the daemon so that a later run with the same inputs
forks from it instead of configuring and collecting again (DESIGN.md section
7, issue 11: level 1 "holds ... pytest's collection").

Three processes take part:

* R, a run's zygote forked by the daemon with `holdTo` in its request. While
  pytest configures and collects, an audit hook (PEP 578) records every file
  opened and every directory listed (`Recorder`), the terminal reporter's
  output is teed (`_Tee`) and the channel's messages are kept. Once every
  `pytest_collection_finish` has run (`HoldPlugin`), R forks H through an
  intermediate and goes on with its own run, unchanged.
* H, the held collection. It lets go of R's stdio (every descriptor that
  names R's stdin/stdout/stderr now names /dev/null), hashes what R read
  (sha256 of each file, the sorted listing of each directory, each project
  module's source, the ini and conftest names pytest only stats), registers
  with the daemon (held_server.py) and waits. The daemon forks from it only
  when the run's key (argv, options, cwd, environment, interpreter, stdio
  kinds) is the one it was held for and every hash still matches; else it is
  killed and the run collects again.
* C, a run forked from H (through an intermediate, so the daemon reaps it).
  It re-points what pytest bound at configure time to the new run: fds 0-2 and
  every saved copy of them (pytest's FDCapture `targetfd_save`, faulthandler's
  dup of stderr), fresh capture temp files, the channel (a new connection
  dup2'd onto the old channel's fd), the hello and registry handshake, the
  registry's pack, the session start time. It writes what R's terminal
  printed during configuration and collection, with Kiln's own header lines
  for this run, re-sends the messages R sent during collection, and returns
  into pytest, which runs the tests as in R.

Not held (R simply runs on): -s / --capture=no or tee-sys (output printed
outside the terminal reporter could not be replayed), collection errors,
--isolate, --shard, --changed/--affected-by, --queue, a debugger or
interactive run, coverage, a write to a file during collection (pytest's own
__pycache__ aside), a thread, or a file descriptor it cannot account for.
"""

import hashlib
import os
import sys
import tempfile
import threading
import time

import pytest

from .level1 import sha256_file

# Files pytest looks for with stat alone (locate_config, _getconftestmodules):
# an added one would not show in the audit hook's opens.
STAT_ONLY_NAMES = (
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
    "conftest.py",
)
# What changes by itself and is never an input of collection.
_VOLATILE_PREFIXES = ("/proc/", "/dev/", "/sys/")


class Recorder:
    """Files opened and directories listed while pytest configures and
    collects (audit events "open", "os.listdir", "os.scandir")."""

    def __init__(self):
        self.active = False
        self.opened = set()
        self.listed = set()
        self.refusal = None
        # Not asked in the hook: gettempdir's first call opens files itself
        # under a lock (tempfile._once_lock), and the hook would ask again.
        self.tmp = os.path.join(tempfile.gettempdir(), "")

    def hook(self, event, args):
        if not self.active:
            return
        if event == "open":
            path, mode = args[0], args[1]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if not isinstance(path, str):
                return  # an fd being wrapped: what it names was opened before
            path = os.path.abspath(path)
            writing = isinstance(mode, str) and any(c in mode for c in "wax+")
            if isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR):
                writing = True
            if writing:
                # A cold run would write it again; a held one would not. A
                # temporary file (pytest's capture opens its own) and
                # bytecode caches are no such side effect.
                harmless = (
                    "__pycache__" + os.sep in path
                    or (path + os.sep).startswith(self.tmp)
                    or path.startswith(_VOLATILE_PREFIXES)
                )
                if not harmless:
                    if self.refusal is None:
                        self.refusal = f"{path} was written during collection"
                return
            if not path.endswith(".pyc"):
                self.opened.add(path)
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
            if path is None:
                path = "."
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if not isinstance(path, str):
                if self.refusal is None:
                    self.refusal = "a directory was listed by descriptor"
                return
            self.listed.add(os.path.abspath(path))


RECORDER = None


def start_recording():
    global RECORDER
    if RECORDER is None:
        RECORDER = Recorder()
        sys.addaudithook(RECORDER.hook)
    RECORDER.active = True
    return RECORDER


def listing(path):
    try:
        names = "\0".join(sorted(os.listdir(path)))
        return hashlib.sha256(names.encode("utf-8", "surrogateescape")).hexdigest()
    except OSError:
        return None


def mismatch(hashes, dirs):
    """The first input that differs from what was held, or None."""
    for path, digest in hashes.items():
        if sha256_file(path) != digest:
            return path
    for path, digest in dirs.items():
        if listing(path) != digest:
            return f"{path} (its entries)"
    return None


def _ancestors(path):
    path = os.path.abspath(path)
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


class _Tee:
    """The terminal writer's file while R configures and collects: what is
    written goes through and is kept."""

    def __init__(self, file):
        self._file = file
        self.text = []

    def write(self, s):
        self.text.append(s)
        return self._file.write(s)

    def __getattr__(self, name):
        return getattr(self._file, name)


class HoldPlugin:
    """In R: records configuration and collection, and forks H once
    collection finished. `hold` is the daemon's invitation: {"address",
    "token", "key"}."""

    def __init__(self, hold, chan, zygote_plugin, hello):
        self.hold = hold
        self.chan = chan
        self.plugin = zygote_plugin
        self.hello = hello
        # Modules level 0 holds, checked by it before each fork (level0.py):
        # not inputs of this collection.
        self.preloaded_files = {
            getattr(m, "__file__", None) for m in list(sys.modules.values())
        }
        self.recorder = start_recording()
        self.sent = []
        self._queue = chan.queue
        chan.queue = self._recording_queue
        self.tee = None
        self.tr = None
        # Descriptors this zygote had before pytest started, other than its
        # stdio and channel: inherited from the daemon, which keeps them open
        # itself, so H keeping them too changes nothing.
        self.inherited = {int(n) for n in os.listdir("/proc/self/fd")} - {0, 1, 2, chan.fd}

    def _recording_queue(self, header, body=b""):
        self.sent.append((header, body))
        return self._queue(header, body)

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        self.tr = config.pluginmanager.getplugin("terminalreporter")
        tw = getattr(self.tr, "_tw", None)
        if tw is not None and hasattr(tw, "_file"):
            self.tee = _Tee(tw._file)
            tw._file = self.tee

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_collection_finish(self, session):
        yield
        self._stop()
        reason = self._refusal(session)
        inputs = None
        if reason is None:
            # Hashed here, before R goes on: R's own run writes files a later
            # collection reads (.pytest_cache's lastfailed at its end).
            started = time.monotonic()
            inputs = self._inputs(session)
            ms = (time.monotonic() - started) * 1000
        if os.environ.get("KILN_DEBUG"):
            said = (
                f"held ({len(inputs[0])} files and {len(inputs[1])} directories hashed in {ms:.1f} ms)"
                if reason is None
                else f"not held: {reason}"
            )
            sys.stderr.write(f"kiln debug: zygote {os.getpid()}: collection {said}\n")
            sys.stderr.flush()
        if reason is None:
            self._fork_held(session, inputs)

    def pytest_unconfigure(self, config):
        self._stop()

    def _stop(self):
        self.recorder.active = False
        if self.chan.queue == self._recording_queue:
            del self.chan.queue  # back to the class's method
        if self.tee is not None and self.tr._tw._file is self.tee:
            self.tr._tw._file = self.tee._file

    def _header_lines(self, config):
        return "\n".join(self.plugin.pytest_report_header(config))

    def _refusal(self, session):
        config = session.config
        from .coverage_fork import measuring

        if self.recorder.refusal is not None:
            return self.recorder.refusal
        if config.getoption("capture", None) not in ("fd", "sys"):
            return "output is not captured"
        capman = config.pluginmanager.getplugin("capturemanager")
        cap = getattr(capman, "_global_capturing", None)
        if cap is None or getattr(cap, "_state", None) != "suspended":
            return "pytest's capture is not suspended"
        if self.tee is None:
            return "no terminal reporter"
        if session.testsfailed or self.plugin.collect_errors:
            return "collection errors"
        if self.plugin.serial_reason is not None or measuring(config):
            return "an interactive or measured run"
        for field in ("isolation", "shard", "select", "workersNote"):
            if self.hello.get(field):
                return f"hello has {field}"
        if threading.active_count() > 1:
            return "a thread is running"
        # C replaces them with its own run's (its pid, its registry note).
        # With -q pytest prints no header at all: nothing to replace then.
        text = "".join(self.tee.text)
        shown = text.count(self._header_lines(config))
        if shown > 1 or (shown == 0 and "kiln: " in text):
            return "kiln's header lines are not in the output once"
        return None

    def _inputs(self, session):
        files = set(self.recorder.opened)
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path.endswith(".py") and path not in self.preloaded_files:
                files.add(os.path.abspath(path))
        bases = {os.getcwd(), str(session.config.rootpath)}
        for arg in session.config.args:
            path = os.path.abspath(str(arg).split("::")[0])
            bases.add(path if os.path.isdir(path) else os.path.dirname(path))
        for base in bases:
            for d in _ancestors(base):
                files.update(os.path.join(d, n) for n in STAT_ONLY_NAMES)
        lastfailed = _lastfailed_path(session.config)
        if lastfailed is not None:
            # Read at configure by the cache plugin's LFPlugin, which uses it
            # only at its session's end when --lf/--ff are not given: C reads
            # it again (RunFork._reload_cache) rather than keying on it, as
            # every run that changes an outcome rewrites it.
            files.discard(lastfailed)
        hashes = {
            f: sha256_file(f) for f in sorted(files) if not f.startswith(_VOLATILE_PREFIXES)
        }
        dirs = {
            d: listing(d)
            for d in sorted(self.recorder.listed)
            if not d.startswith(_VOLATILE_PREFIXES)
        }
        return hashes, dirs

    def _fork_held(self, session, inputs):
        sys.stdout.flush()
        sys.stderr.flush()
        mid = os.fork()
        if mid:
            os.waitpid(mid, 0)
            return
        try:
            if os.fork() == 0:
                from .held_process import Held

                run = Held(self, session, inputs).serve()
                if run is not None:
                    run.become()
                    return  # C: back into pytest, which runs the tests
        except BaseException:
            import traceback

            traceback.print_exc()
        os._exit(0)


def _lastfailed_path(config):
    """.pytest_cache's lastfailed file when the cache plugin holds it only for
    its session's end (--lf/--ff not given), else None (then it is an input
    of collection, keyed like any other file)."""
    lf = config.pluginmanager.getplugin("lfplugin")
    cache = getattr(config, "cache", None)
    if lf is None or cache is None or lf.active:
        return None
    return os.path.abspath(str(cache._getvaluepath("cache/lastfailed")))
