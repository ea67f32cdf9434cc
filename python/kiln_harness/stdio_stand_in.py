"""`kiln watch`'s stdio stand-in (src/daemon/stdio-stand-in.ts): the process
whose stdin, stdout and stderr the daemon's run zygotes take (run_fork.py
take_stdio), so that a run's output comes back to the watch.

Its stdout and stderr are pipes it makes itself, copied by a thread each to
the descriptors it inherited (the watch's: sockets, as Node makes them). A
pipe, unlike a socket, can also be reopened through /proc/<pid>/fd/N, which
take_stdio falls back to where pidfd_getfd(2) is refused (Yama's
ptrace_scope 1: the daemon is not an ancestor of this process).

Each line read on fd 3 (a token from the watch) is written into both pipes:
it comes out after everything written into them before it (a pipe is
first in, first out), which is the watch's barrier between a run's output
and its result line. End of file on fd 3 (the watch ended, SIGKILL too)
ends this process.
"""

import os
import threading


def _copy(src, dst):
    try:
        while True:
            data = os.read(src, 65536)
            if not data:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view) :]
    except OSError:
        return  # the watch is gone: fd 3's end of file ends the process


def main():
    for fd in (1, 2):
        target = os.dup(fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        threading.Thread(target=_copy, args=(read_end, target), daemon=True).start()
    pending = b""
    while True:
        try:
            data = os.read(3, 4096)
        except OSError:
            data = b""
        if not data:
            os._exit(0)
        pending += data
        while b"\n" in pending:
            token, pending = pending.split(b"\n", 1)
            for fd in (1, 2):
                os.write(fd, token)
