"""The hermetic profile's namespaces, made once in the zygote.

The zygote, still single-threaded (unshare(2) refuses CLONE_NEWUSER in a
threaded process), enters new user, mount, network, IPC and UTS namespaces
and makes a new PID namespace for its children:

- user: the outer uid and gid map to themselves, so file ownership looks
  unchanged; setgroups is denied first, as user_namespaces(7) requires of an
  unprivileged writer of gid_map;
- network: only loopback, brought up inside (a new namespace's lo is down);
- mount: everything private (no mount event propagates back to the host),
  then a fresh tmpfs on /tmp. The paths the run needs that live under /tmp
  (the project, the run's scratch dir with the workers' socket) are
  bind-mounted back from the old /tmp, reached through a descriptor opened
  before the tmpfs covered it; $TMPDIR, if under /tmp, is recreated empty;
- PID: unshare(CLONE_NEWPID) moves only the caller's future children
  (pid_namespaces(7)), so the zygote keeps its own pid (the supervisor's
  view) and fork() keeps returning pids the supervisor can signal. Its first
  child is the namespace's init: a minimal reaper, immune to signals from
  inside the namespace (the kernel drops those an init has no handler for),
  whose death would end the namespace. Every worker is a later child, so it
  lives in that namespace and cannot name the zygote, the supervisor or any
  host process. Each worker then mounts its own /proc for that namespace
  (worker_proc), so /proc lists only the run's processes.
"""

import ctypes
import fcntl
import os
import signal
import socket
import struct
import threading

from .sandbox_sys import LIBC, SandboxError, check

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def unshare(flags, what):
    LIBC.unshare.restype = ctypes.c_int
    check(LIBC.unshare(ctypes.c_int(flags)), "unshare(%s)" % what)


def mount(source, target, fstype, flags, data=None, what=None):
    def b(s):
        return None if s is None else os.fsencode(s)

    LIBC.mount.restype = ctypes.c_int
    LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    check(
        LIBC.mount(b(source), b(target), b(fstype), flags, b(data)),
        what or "mount %s on %s" % (fstype or source, target),
    )


def _write(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    except OSError as exc:
        raise SandboxError("writing %s: %s" % (path, exc.strerror)) from None
    finally:
        os.close(fd)


def loopback_up():
    """SIOCSIFFLAGS on lo (netdevice(7)): a new network namespace's loopback is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        try:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
        except OSError as exc:
            raise SandboxError("bringing up lo in the network namespace: %s" % exc.strerror) from None


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def private_tmp(keep, fresh):
    """A new tmpfs on /tmp; `keep` paths under /tmp are bind-mounted back,
    `fresh` directories under /tmp are created empty."""
    tmp = os.path.realpath("/tmp")
    keep = sorted({os.path.realpath(p) for p in keep if p and os.path.exists(p)})
    keep = [p for p in keep if _under(p, tmp)]
    if tmp in keep:
        raise SandboxError(
            "private /tmp: the project or the run's scratch directory is %s itself; "
            "run kiln from a directory below it" % tmp
        )
    # Only the outermost of nested paths needs a bind (MS_REC brings the rest).
    keep = [p for p in keep if not any(q != p and _under(p, q) for q in keep)]
    old = os.open(tmp, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", "mounting a private tmpfs on /tmp")
        for path in keep:
            rel = os.path.relpath(path, tmp)
            if os.path.isdir("/proc/self/fd/%d/%s" % (old, rel)):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
            mount("/proc/self/fd/%d/%s" % (old, rel), path, None, MS_BIND | MS_REC)
    finally:
        os.close(old)
    for path in fresh:
        if path and _under(os.path.abspath(path), tmp):
            os.makedirs(path, mode=0o700, exist_ok=True)


def enter(keep, fresh):
    """Enter the namespaces (module docstring). Returns the init's pid."""
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if others:
        raise SandboxError(
            "user namespaces need a single-threaded process; the zygote runs threads: %s"
            % ", ".join(others)
        )
    uid, gid = os.getuid(), os.getgid()
    unshare(
        CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID,
        "CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWPID",
    )
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", "%d %d 1\n" % (uid, uid))
    _write("/proc/self/gid_map", "%d %d 1\n" % (gid, gid))
    loopback_up()
    mount(None, "/", None, MS_REC | MS_PRIVATE, what="making / private (MS_REC|MS_PRIVATE)")
    private_tmp(keep, fresh)
    return _start_init()


def _start_init():
    pid = os.fork()
    if pid:
        return pid
    # PID 1 of the new namespace. It holds no descriptor of the zygote's (the
    # supervisor would otherwise wait on its copy of the control pipe).
    try:
        from .forking import die_with_parent

        die_with_parent()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
        for fd in fds:
            if fd > 2:
                try:
                    os.close(fd)
                except OSError:
                    pass
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        while True:
            # Orphans of the workers' children are re-parented here: reap them.
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            signal.sigwait({signal.SIGCHLD})
    finally:
        os._exit(0)


def worker_proc():
    """In a worker: its own mount namespace with /proc for the PID namespace
    (proc(5): a procfs shows the pid namespace of the process that mounted it).
    The zygote keeps the host's /proc."""
    unshare(CLONE_NEWNS, "CLONE_NEWNS")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, what="mounting /proc for the PID namespace")
