"""Runs a command that ends when the process that started it ends.

A test's redis-server (tests/helpers/redis-server.ts) is stopped in afterAll;
a vitest killed with SIGKILL never gets there, and the server would outlive
the run. PR_SET_PDEATHSIG (prctl(2)) asks the kernel to SIGKILL this process
when its parent thread exits, and it survives execve(2) of a non-setuid
program, so the command keeps it.

Usage: python3 die_with_parent.py PROGRAM [ARGS...]
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main():
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        sys.exit(f"die_with_parent: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    # The parent may have died before prctl took effect; then no signal will
    # ever come (prctl(2)), and we were re-parented.
    if os.getppid() != parent:
        sys.exit("die_with_parent: the parent exited before the command started")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
