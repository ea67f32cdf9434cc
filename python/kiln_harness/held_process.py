"""The held collection's process (H) and a run forked from it (C); held.py
says what they are and why a run from one equals a cold run."""

import gc
import json
import os
import signal
import socket
import stat
import sys
import tempfile

from .held import _lastfailed_path
from .json_lines import JsonLines


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
        # pytest's FDCapture keeps a dup of the fd it captures
        # (targetfd_save) and dup2s it back when suspending: exactly that one.
        saved = {}
        for part in (cap.in_, cap.out, cap.err):
            tmp = getattr(part, "tmpfile", None)
            if part is not None and hasattr(part, "targetfd_save") and tmp is not None:
                saved[part.targetfd_save] = part.targetfd
                if part.targetfd in (1, 2):
                    self.tmp_fds.append(tmp.fileno())
        stdio = [os.fstat(n) for n in (0, 1, 2)]
        null = os.open(os.devnull, os.O_RDWR)
        own = {null, self.p.chan.fd, *self.tmp_fds}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd in own:
                continue
            try:
                st = os.fstat(fd)
            except OSError:
                continue  # the listing's own descriptor, closed since
            # Checked first: a descriptor the zygote opened on its terminal
            # before pytest started (faulthandler's) is the run's too.
            same = [n for n, seen in enumerate(stdio) if _same_file(st, seen)]
            if same:
                self.aliases.append((fd, _which_stdio(fd, same, saved)))
            elif fd in self.p.inherited:
                continue
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
        lines = JsonLines(self.conn)
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
        from .run_fork import take_stdio

        # As the zygote does before its first fork (forking.py): the runs
        # forked from here never walk (and so never copy) the held heap.
        gc.collect()
        gc.freeze()

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
            if data:
                lines.send({"pid": int(data)})
            else:
                lines.send({"error": "the held collection could not fork"})


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
        same = _hello_key(hello) == _hello_key(p.hello)
        if hello.get("type") != "hello" or hello.get("v") != PROTOCOL_VERSION or not same:
            # The daemon forked it for a request with this run's key.
            sys.stderr.write(
                "kiln zygote: this is a bug in kiln: the held collection got another run's hello\n"
            )
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


# The hello's fields that belong to one run, not to its inputs.
_PER_RUN = ("socketPath", "scratchDir", "zygoteNote")


def _which_stdio(fd, same, saved):
    """Which of stdin/stdout/stderr `fd` stands for, of those naming the same
    file (`same`: one terminal or /dev/null may be all three): itself, the
    one pytest's capture saved it from, else by its access mode (a dup of
    stderr, as faulthandler makes, is writable)."""
    if fd <= 2:
        return fd
    if fd in saved:
        return saved[fd]
    writable = int(_fdinfo(fd).get("flags", "0"), 8) & (os.O_WRONLY | os.O_RDWR)
    for n in (2, 1) if writable else (0,):
        if n in same:
            return n
    return same[0]


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


