"""Forking workers from the zygote and reaping them.

The zygote must be single-threaded when it forks (a fork copies only the
calling thread; a lock held by another thread stays locked forever in the
child). gc.freeze() moves every object the zygote holds into the permanent
generation so the child's collector never touches, and so never copies, those
pages (CPython docs for gc.freeze, "copy-on-write friendly" fork).
"""

import ctypes
import gc
import os
import signal
import sys
import threading
import traceback

from .exit_codes import KEYBOARD_INTERRUPT, WORKER_SOFTWARE_ERROR

PR_SET_PDEATHSIG = 1

try:
    # dlopen(NULL): the symbols already linked into the interpreter, libc's
    # among them. ctypes.util.find_library would fork /sbin/ldconfig at
    # every zygote start.
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc: no parent-death signal
    _prctl = None


def die_with_parent():
    """Ask the kernel to SIGKILL this process when its parent exits.

    prctl(2) PR_SET_PDEATHSIG: a worker stuck in C code or an infinite loop must
    not outlive its zygote; the supervisor kills the zygote's group on exit.
    """
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def fork_worker(run_child, close_fds):
    """Fork; the child runs run_child() and always ends with os._exit."""
    extra_threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if extra_threads:
        sys.stderr.write(
            "kiln: warning: the zygote has threads running (%s); forking anyway, but the "
            "worker only gets the main thread\n" % ", ".join(extra_threads)
        )
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    pid = os.fork()
    if pid:
        return pid
    code = WORKER_SOFTWARE_ERROR  # an exception escaped the worker loop
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        die_with_parent()
        code = run_child()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        code = KEYBOARD_INTERRUPT
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def reap_children():
    """Collect every exited child: [(pid, exit_code or None, signal or None)]."""
    done = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        if os.WIFSIGNALED(status):
            done.append((pid, None, os.WTERMSIG(status)))
        elif os.WIFEXITED(status):
            done.append((pid, os.WEXITSTATUS(status), None))


def drain_wakeup(fd):
    """Empty the non-blocking pipe given to signal.set_wakeup_fd.

    CPython's C signal handler writes one byte per signal delivered
    (signalmodule.c, trip_signal); a byte left behind keeps select() saying
    the pipe is readable, and a loop that reads once per wake-up falls behind
    a burst of SIGCHLDs. Read until the pipe is empty (BlockingIOError) or
    its write end is closed (b"").
    """
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
