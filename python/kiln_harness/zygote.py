"""The zygote: pays Python's import tax once, then forks workers on demand.

Started by the supervisor through boot.py (program "zygote") with the
protocol on file descriptor 3. The first frame each way is the "hello" handshake. The zygote
then runs `pytest.main()` in-process with the user's arguments, so pytest
resolves its own configuration (rootdir, ini, addopts, plugins) and collects
once; Kiln's plugin replaces only `pytest_runtestloop` (see pytest_bridge.py).
Its exit code is pytest's exit code.
"""

import gc
import importlib
import os
import platform
import signal
import sys

from .exit_codes import INTERNAL_ERROR, USAGE_ERROR
from .protocol import PROTOCOL_VERSION, Channel, ProtocolError, move_out_of_the_way
from .session_duration import SessionDuration

CONTROL_FD = 3


def _python_info():
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def _import_pytest():
    """(pytest, None), or (None, the ImportError) when it is not installed.

    With pytest, the harness modules that import it too, so all of the
    zygote's own imports are done before it waits for the supervisor.
    """
    try:
        import pytest
    except ImportError as exc:
        return None, exc
    for name in (".plugin_compat", ".pytest_bridge", ".affected"):
        importlib.import_module(name, __package__)

    return pytest, None


def _note_interrupt(signum, frame):
    INTERRUPT["pending"] = True


# Whether SIGINT arrived before pytest's session started (see main).
INTERRUPT = {"pending": False}


def main():
    # The supervisor's SIGINT (Ctrl-C, SIGTERM) may arrive at any moment. Until
    # pytest's session has begun, a KeyboardInterrupt raised at a random point
    # escapes pytest.main as a bare traceback, or is swallowed by a finalizer
    # ("Exception ignored in ...") and the whole suite runs anyway. So it is
    # only noted here, and raised at pytest_sessionstart (pytest_bridge), where
    # pytest's wrap_session turns it into "!!! KeyboardInterrupt !!!", status 2.
    signal.signal(signal.SIGINT, _note_interrupt)
    chan = Channel(
        move_out_of_the_way(CONTROL_FD), sends="zygoteToSupervisor", receives="supervisorToZygote"
    )
    # pytest is imported before the hello is read: the supervisor may start
    # this process before it has loaded its own modules (src/cli/main.ts), so
    # the ~60 ms import overlaps Node's start-up instead of following it.
    # Importing pytest and this harness imports no project module (the
    # registry's finder, installed below, serves those), so the order is free;
    # a missing pytest is still refused only after the hello, as before.
    pytest, missing = _import_pytest()
    serve(chan, pytest, missing, set(sys.modules))


def serve(chan, pytest, missing, already_imported, hold=None):
    """The run, from the hello on: a cold zygote (main) and one forked from
    the daemon's level 0 (daemon.py) take the same path from here.
    `already_imported`: the modules a cold zygote holds before the hello
    (Python's own, pytest, this harness), left out of modules:imported.
    `hold`: the daemon's invitation to hold this run's collection (held.py).
    Ends with sys.exit(pytest's exit code)."""
    try:
        frame = chan.recv()
    except ProtocolError as exc:
        sys.stderr.write(f"kiln zygote: bad first frame from the supervisor: {exc}\n")
        sys.exit(INTERNAL_ERROR)
    if frame is None:
        sys.exit(INTERNAL_ERROR)
    hello, _ = frame
    if hello.get("type") != "hello" or hello.get("v") != PROTOCOL_VERSION:
        chan.send(
            {
                "type": "hello:refused",
                "message": f"protocol mismatch: supervisor speaks v{hello.get('v')}, "
                f"harness speaks v{PROTOCOL_VERSION}",
            }
        )
        sys.exit(INTERNAL_ERROR)

    if missing is not None:
        chan.send(
            {
                "type": "hello:refused",
                "reason": "pytest-missing",
                "message": str(missing),
                "python": _python_info(),
            }
        )
        sys.exit(USAGE_ERROR)

    sandbox = None
    isolation = hello.get("isolation")
    if isolation and isolation.get("profile", "none") != "none":
        # Before any fork, while single-threaded (sandbox.py); a profile this
        # machine cannot apply is refused, never quietly weakened.
        from .sandbox import SandboxError, prepare

        try:
            sandbox = prepare(
                isolation,
                hello.get("scratchDir"),
                hello.get("args", []),
                workers=hello.get("workers", 1),
            )
        except SandboxError as exc:
            chan.send(
                {
                    "type": "hello:refused",
                    "reason": "isolation-unavailable",
                    "message": f"--isolate {isolation.get('profile')} cannot be applied here: {exc}",
                    "python": _python_info(),
                }
            )
            sys.exit(USAGE_ERROR)

    from .plugin_compat import KilnPluginCompat
    from .pytest_bridge import KilnZygotePlugin

    import importlib.util

    chan.send(
        {
            "type": "hello",
            "python": _python_info(),
            "pytest": pytest.__version__,
            "pid": os.getpid(),
            "magic": importlib.util.MAGIC_NUMBER.hex(),
            "cacheTag": sys.implementation.cache_tag,
            "optimize": sys.flags.optimize,
        }
    )
    # The supervisor prepares the registry's pack while this process was
    # importing pytest; it answers with the pack (or null: --no-registry).
    frame = chan.recv()
    if frame is None or frame[0].get("type") != "registry:ready":
        sys.stderr.write("kiln zygote: expected registry:ready from the supervisor\n")
        sys.exit(INTERNAL_ERROR)
    finder = None
    pack_path = frame[0].get("packPath")
    if pack_path:
        from .loader import install

        try:
            finder = install(pack_path)
        except Exception as exc:  # a pack we can't read: plain imports, say so
            sys.stderr.write(f"kiln: warning: registry pack unusable ({exc}); importing normally\n")
    # `python -m pytest` leaves sys.argv[0] as pytest's __main__ path; tests
    # that look at argv see the same thing under Kiln.
    args = [str(a) for a in hello.get("args", [])]
    sys.argv = [os.path.join(os.path.dirname(pytest.__file__), "__main__.py"), *args]
    plugin = KilnZygotePlugin(
        chan,
        hello,
        finder,
        frame[0].get("note") or "",
        registry_rootdir=frame[0].get("rootdir"),
        sandbox=sandbox,
    )
    compat = KilnPluginCompat(hello.get("timeout"))  # pytest-xdist's -n, pytest-timeout
    duration = SessionDuration()
    duration.install()
    from . import affected

    affected.TRACKER = affected.ImportTracker(chan)
    plugins = [plugin, compat, affected.TRACKER]
    if hello.get("select"):  # --changed / --affected-by
        plugins.append(affected.SelectionFilter(hello["select"]))
    if hello.get("shard"):  # --shard I/N
        from .shard import ShardFilter

        plugins.append(ShardFilter(chan, hello["shard"]))
    if hold is not None:
        from .held import HoldPlugin

        plugins.append(HoldPlugin(hold, chan, plugin, hello))
    code = pytest.main(args, plugins=plugins)
    code = int(code)
    if finder is not None:
        try:
            chan.send(
                {
                    "type": "registry:stats",
                    "served": finder.served,
                    "fallbacks": finder.fallbacks,
                    "errors": finder.errors[:20],
                    "loads": finder.loads,
                }
            )
        except OSError:
            pass
    try:
        # What the daemon's level 0 imports next time (daemon.py): the
        # modules pytest.main imported from outside the project.
        chan.send(
            {
                "type": "modules:imported",
                "modules": installed_modules(already_imported, plugin.collected_rootdir()),
            }
        )
    except OSError:
        pass
    try:
        chan.send({"type": "session:finished", "exitCode": code, "seconds": duration.seconds})
    except OSError:
        pass  # the supervisor is gone; the exit status still says it all
    sys.stdout.flush()
    sys.stderr.flush()
    # The interpreter's teardown collects every object not frozen: in a
    # local run the zygote froze its heap at its first fork (forking.py), a
    # zygote that never forked (`kiln test --queue`: the agents run the
    # tests) spent ~70 ms more between session:finished and its exit,
    # collecting its imports and collection for nothing (measured with
    # KILN_DEBUG=1, BENCHMARKS.md issue 15). atexit handlers still run.
    gc.freeze()
    sys.exit(code)


def installed_modules(before, rootdir):
    """[[name, file]] of the modules imported since `before` whose file is
    outside the project: the interpreter's, pytest's plugins' and the
    installed packages' (site-packages, or an editable install elsewhere), in
    import order. Project files (under pytest's rootdir or the working
    directory) and the harness are left out: level 0 must never hold a module
    an edit to the project could change (DESIGN.md section 7)."""
    inside = [os.path.join(os.path.realpath(d), "") for d in (rootdir, os.getcwd()) if d]
    harness = os.path.join(os.path.dirname(os.path.realpath(__file__)), "")
    # pytest rewrites the asserts of plugin modules and of those named by
    # register_assert_rewrite when they are imported after its hook; one
    # imported before (by level 0) would only get "Module already imported
    # so cannot be rewritten" (_pytest/assertion/rewrite.py). So a module
    # pytest's hook loaded, or any module below one, is never learned.
    rewritten = {
        name
        for name, module in list(sys.modules.items())
        if type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook"
    }
    found = []
    for name, module in list(sys.modules.items()):
        if name in before or name == "__main__" or module is None:
            continue
        parts = name.split(".")
        if any(".".join(parts[:i]) in rewritten for i in range(1, len(parts) + 1)):
            continue
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue  # built-in, frozen or a namespace package: nothing to warm
        real = os.path.realpath(file)
        if real.startswith(harness) or any(real.startswith(d) for d in inside):
            continue
        found.append([name, file])
    return found
