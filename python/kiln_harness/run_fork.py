"""Forking a run's zygote from a warm level of the daemon's zygote tree
(level 0, level 1, a held collection) onto the client's stdio: the client's
stdin, stdout and stderr taken from its process (take_stdio), the fork made
a run's zygote (its own session, the client's directory and volatile
environment, the channel to the client) that then serves the run as a cold
zygote would from its hello on (zygote.serve). Split from level0.py, whose
concern is what level 0 holds and when it may be forked from.
"""

import os
import signal
import sys
import threading

from .level0 import VOLATILE_ENV


def take_stdio(pid):
    """The client's stdin, stdout and stderr, as its own open file
    descriptions (pidfd_getfd(2), Linux 5.6: shared offsets and flags, as a
    spawned child's inherited descriptors), or the reason they can't be.

    pidfd_getfd needs ptrace access to the client (same user, and Yama's
    ptrace_scope allowing it); without it, /proc/<pid>/fd/N is reopened for a
    terminal or a FIFO, where a new open file description behaves the same.
    A socket (Node's pipes) or a regular file (its offset) can't be shared
    that way, so the run starts cold."""
    import ctypes

    fds = []
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError) as exc:
        return None, f"cannot reach the client's stdio (pidfd_open: {exc})"
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
        for n in (0, 1, 2):
            fd = syscall(438, pidfd, n, 0)  # SYS_pidfd_getfd, the same on x86-64 and arm64
            if fd < 0:
                err = ctypes.get_errno()
                reopened = _reopen(pid, n)
                if reopened is None:
                    for f in fds:
                        os.close(f)
                    return None, (
                        f"cannot share the client's fd {n} (pidfd_getfd: {os.strerror(err)}; "
                        "not a terminal or FIFO either)"
                    )
                fd = reopened
            fds.append(fd)
    finally:
        os.close(pidfd)
    return fds, None


def _reopen(pid, n):
    import stat

    path = f"/proc/{pid}/fd/{n}"
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            return None
        return os.open(path, (os.O_RDONLY if n == 0 else os.O_WRONLY) | os.O_CLOEXEC)
    except OSError:
        return None


def fork_run(level, request, stdio, close_fds, pytest):
    """Fork a run's zygote: returns its pid in the parent; the child never
    returns. It gets its own session (a cold zygote is spawned detached, so
    `kiln` signals its process group), the client's stdio, directory and
    environment, and connects to the client's channel socket."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 3
    try:
        _become_run_zygote(level, request, stdio, close_fds)
        code = _serve_run(request, pytest, level.base_modules)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _become_run_zygote(level, request, stdio, close_fds):
    from . import zygote

    os.setsid()
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    # The handlers level 0 had before the daemon installed its own (a
    # preloaded module may have set one at import, as it would in a cold run).
    signal.set_wakeup_fd(-1)
    for signum, handler in level.handlers.items():
        signal.signal(signum, handler)
    zygote.INTERRUPT["pending"] = False
    signal.signal(signal.SIGINT, zygote._note_interrupt)
    for target, fd in zip((0, 1, 2), stdio):
        os.dup2(fd, target)
        os.close(fd)
    # A fresh interpreter line-buffers stdout only on a terminal (stderr
    # always, 3.9+); level 0's stdout was the daemon's log file.
    sys.stdout.reconfigure(line_buffering=os.isatty(1))
    os.chdir(request["cwd"])
    # The rest of the environment is level 0's (refusal() checked it).
    for name in VOLATILE_ENV:
        if name in request["env"]:
            os.environ[name] = request["env"][name]
        else:
            os.environ.pop(name, None)
    # boot.py put the working directory first on sys.path: this run's instead.
    if request["cwd"] != level.cwd and level.cwd in sys.path:
        sys.path[sys.path.index(level.cwd)] = request["cwd"]


def _serve_run(request, pytest, base_modules):
    import socket

    from . import zygote
    from .protocol import Channel, move_out_of_the_way

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(request["channelPath"])
    chan = Channel(
        move_out_of_the_way(sock.detach()),
        sends="zygoteToSupervisor",
        receives="supervisorToZygote",
    )
    try:
        zygote.serve(chan, pytest, None, base_modules, hold=request.get("holdTo"))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # The rest of a cold interpreter's exit (Py_FinalizeEx): wait for
    # non-daemon threads, run atexit handlers, flush the standard streams.
    try:
        threading._shutdown()
    except Exception:
        pass
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code
