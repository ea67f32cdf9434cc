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
import json
import os
import signal
import socket
import stat
import sys
import tempfile
import threading

import pytest

from .level1 import sha256_file

# Files pytest looks for with stat alone (locate_config, _getconftestmodules):
# an added one would not show in the audit hook's opens.
STAT_ONLY_NAMES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "conftest.py")
# What changes by itself and is never an input of collection.
_VOLATILE_PREFIXES = ("/proc/", "/dev/", "/sys/")
# Whether this process is C (a run forked from a held collection).
FORKED_FROM_HELD = {"items": None}


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
        return hashlib.sha256("\0".join(sorted(os.listdir(path))).encode("utf-8", "surrogateescape")).hexdigest()
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
        if os.environ.get("KILN_DEBUG"):
            said = "held" if reason is None else f"not held: {reason}"
            sys.stderr.write(f"kiln debug: zygote {os.getpid()}: collection {said}\n")
            sys.stderr.flush()
        if reason is None:
            # Hashed here, before R goes on: R's own run writes files a later
            # collection reads (.pytest_cache's lastfailed at its end).
            inputs = self._inputs(session)
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
        if "".join(self.tee.text).count(self._header_lines(config)) != 1:
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
            d: listing(d) for d in sorted(self.recorder.listed) if not d.startswith(_VOLATILE_PREFIXES)
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
                run = Held(self, session, inputs).serve()
                if run is not None:
                    run.become()
                    return  # C: back into pytest, which runs the tests
        except BaseException:
            import traceback

            traceback.print_exc()
        os._exit(0)


def _same_file(a, b):
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class Held:
    """H: the held collection's process, from the fork to a run's fork."""

    def __init__(self, hold_plugin, session, inputs):
        self.p = hold_plugin
        self.inputs = inputs
        self.session = session
        self.config = session.config
        self.aliases = []  # (fd, n): a descriptor that named R's stdio n
        self.tmp_fds = []  # capture temp files R writes to: C gets its own
        self.conn = None

    def _let_go_of_stdio(self):
        """Every descriptor naming R's stdin/stdout/stderr now names
        /dev/null (R's pipe must see EOF when R ends); what it was is kept."""
        capman = self.config.pluginmanager.getplugin("capturemanager")
        cap = capman._global_capturing
        for part in (cap.in_, cap.out, cap.err):
            tmp = getattr(part, "tmpfile", None)
            if part is not None and hasattr(part, "targetfd_save") and tmp is not None:
                if part.targetfd in (1, 2):
                    self.tmp_fds.append(tmp.fileno())
        stdio = [os.fstat(n) for n in (0, 1, 2)]
        null = os.open(os.devnull, os.O_RDWR)
        known = {null, self.p.chan.fd, *self.tmp_fds, *self.p.inherited}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd in known:
                continue
            try:
                st = os.fstat(fd)
            except OSError:
                continue  # the listing's own descriptor, closed since
            for n, seen in enumerate(stdio):
                if _same_file(st, seen):
                    self.aliases.append((fd, n))
                    break
            else:
                if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                    flags = int(_fdinfo(fd).get("flags", "0"), 8)
                    if flags & (os.O_WRONLY | os.O_RDWR):
                        return f"fd {fd} is open for writing"
                elif not stat.S_ISCHR(st.st_mode):
                    return f"fd {fd} is a {stat.filemode(st.st_mode)[0]} file"
        for fd, _ in self.aliases:
            os.dup2(null, fd, inheritable=fd <= 2)
        os.close(null)
        os.close(self.p.chan.fd)
        return None

    def serve(self):
        """Register and wait; returns a RunFork in C, None when H ends."""
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        reason = self._let_go_of_stdio()
        hashes, dirs = self.inputs
        hold = self.p.hold
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(hold["address"])
        lines = _Lines(self.conn)
        lines.send(
            {
                "token": hold["token"],
                "key": hold["key"],
                "pid": os.getpid(),
                "hashes": hashes,
                "dirs": dirs,
                "items": len(self.session.items),
                # Said in the daemon's log: why this one is not held after all.
                "refused": reason,
            }
        )
        if reason is not None:
            return None
        from .level0 import take_stdio

        while True:
            message = lines.recv()
            if message is None:
                return None  # the daemon is gone or dropped it
            request = message["request"]
            stdio, why = take_stdio(request["pid"])
            if why is not None:
                lines.send({"error": why})
                continue
            r, w = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            mid = os.fork()
            if mid == 0:
                os.close(r)
                pid = os.fork()
                if pid == 0:
                    os.close(w)
                    self.conn.close()
                    return RunFork(self, request, stdio)
                os.write(w, str(pid).encode())
                os._exit(0)
            os.close(w)
            for fd in stdio:
                os.close(fd)
            with os.fdopen(r, "rb") as f:
                data = f.read()
            os.waitpid(mid, 0)
            lines.send({"pid": int(data)} if data else {"error": "the held collection could not fork"})


class RunFork:
    """C: what pytest bound to R's run, re-pointed to this one."""

    def __init__(self, held, request, stdio):
        self.held = held
        self.request = request
        self.stdio = stdio

    def become(self):
        held, p = self.held, self.held.p
        from . import zygote
        from .level0 import VOLATILE_ENV

        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        zygote.INTERRUPT["pending"] = False
        for n, fd in enumerate(self.stdio):
            os.dup2(fd, n)
        for fd, n in held.aliases:
            os.dup2(self.stdio[n], fd, inheritable=fd <= 2)
        for fd in self.stdio:
            if fd > 2 and fd not in {a for a, _ in held.aliases}:
                os.close(fd)
        for fd in held.tmp_fds:
            with tempfile.TemporaryFile() as fresh:
                os.dup2(fresh.fileno(), fd, inheritable=False)
        sys.stdout.reconfigure(line_buffering=os.isatty(1))
        os.chdir(self.request["cwd"])
        for name in VOLATILE_ENV:
            if name in self.request["env"]:
                os.environ[name] = self.request["env"][name]
            else:
                os.environ.pop(name, None)
        self._channel()
        self._restart_clocks()
        self._reload_cache()
        tw = p.tr._tw
        text = "".join(p.tee.text)
        old = p._header_lines(held.config)
        self._take_run_fields()
        tw._file.write(text.replace(old, p._header_lines(held.config), 1))
        tw._file.flush()
        for header, body in p.sent:
            p.chan.queue(header, body)
        p.chan.flush()
        FORKED_FROM_HELD["items"] = len(held.session.items)

    def _channel(self):
        """The run's channel on the old channel's fd (zygote.serve's `chan`
        is the same object), then the hello and registry handshake."""
        from .protocol import PROTOCOL_VERSION

        p = self.held.p
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.request["channelPath"])
        os.dup2(sock.fileno(), p.chan.fd, inheritable=False)
        sock.close()
        p.chan._decoder = type(p.chan._decoder)()
        p.chan._frames = []
        hello, _ = p.chan.recv()
        if hello.get("type") != "hello" or hello.get("v") != PROTOCOL_VERSION or _hello_key(hello) != _hello_key(p.hello):
            sys.stderr.write("kiln zygote: this is a bug in kiln: the held collection got another run's hello\n")
            os._exit(3)
        self.hello = hello
        import importlib.util
        import platform

        import pytest as pt

        p.chan.send(
            {
                "type": "hello",
                "python": {
                    "executable": sys.executable,
                    "version": platform.python_version(),
                    "implementation": platform.python_implementation(),
                },
                "pytest": pt.__version__,
                "pid": os.getpid(),
                "magic": importlib.util.MAGIC_NUMBER.hex(),
                "cacheTag": sys.implementation.cache_tag,
                "optimize": sys.flags.optimize,
            }
        )
        frame = p.chan.recv()
        if frame is None or frame[0].get("type") != "registry:ready":
            sys.stderr.write("kiln zygote: expected registry:ready from the supervisor\n")
            os._exit(3)
        self.ready = frame[0]

    def _take_run_fields(self):
        plugin = self.held.p.plugin
        plugin.socket_path = self.hello["socketPath"]
        plugin.scratch_dir = self.hello.get("scratchDir")
        plugin.zygote_note = self.hello.get("zygoteNote", "")
        finder = plugin.finder
        pack_path = self.ready.get("packPath")
        if finder is not None:
            if pack_path:
                # Imports from here on (the tests' own) read this run's pack.
                from .loader import Pack

                finder.pack = Pack(pack_path)
                plugin.registry_note = self.ready.get("note") or ""
            else:
                if finder in sys.meta_path:
                    sys.meta_path.remove(finder)
                plugin.finder = None
                plugin.registry_note = self.ready.get("note") or ""

    def _reload_cache(self):
        config = self.held.config
        if _lastfailed_path(config) is not None:
            lf = config.pluginmanager.getplugin("lfplugin")
            lf.lastfailed = config.cache.get("cache/lastfailed", {})

    def _restart_clocks(self):
        """The session began now, for this run (pytest's "in 0.12s")."""
        from _pytest import timing

        config = self.held.config
        tr = config.pluginmanager.getplugin("terminalreporter")
        if tr is not None:
            if hasattr(tr, "_session_start"):
                tr._session_start = timing.Instant()
            if hasattr(tr, "_sessionstarttime"):
                tr._sessionstarttime = timing.time()
        for plugin in config.pluginmanager.get_plugins():
            if type(plugin).__name__ == "LogXML":
                if hasattr(plugin, "suite_start"):
                    plugin.suite_start = timing.Instant()
                if hasattr(plugin, "suite_start_time"):
                    plugin.suite_start_time = timing.time()


def _lastfailed_path(config):
    """.pytest_cache's lastfailed file when the cache plugin holds it only for
    its session's end (--lf/--ff not given), else None (then it is an input
    of collection, keyed like any other file)."""
    lf = config.pluginmanager.getplugin("lfplugin")
    cache = getattr(config, "cache", None)
    if lf is None or cache is None or lf.active:
        return None
    return os.path.abspath(str(cache._getvaluepath("cache/lastfailed")))


# The hello's fields that belong to one run, not to its inputs.
_PER_RUN = ("socketPath", "scratchDir", "zygoteNote")


def _hello_key(hello):
    return json.dumps({k: v for k, v in hello.items() if k not in _PER_RUN}, sort_keys=True)


def _fdinfo(fd):
    info = {}
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as f:
            for line in f:
                k, _, v = line.partition(":")
                info[k.strip()] = v.strip()
    except OSError:
        pass
    return info


class _Lines:
    """One JSON object per line over a socket (H and the daemon)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, message):
        self.sock.sendall((json.dumps(message) + "\n").encode())

    def recv(self):
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)
