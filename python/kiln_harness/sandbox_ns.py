"""The hermetic profile's namespaces, made once in the zygote.

The zygote, still single-threaded (unshare(2) refuses CLONE_NEWUSER in a
threaded process), enters new user, mount, network, IPC and UTS namespaces
and makes a new PID namespace for its children:

- user: the outer uid and gid map to themselves, so file ownership looks
  unchanged; setgroups is denied first, as user_namespaces(7) requires of an
  unprivileged writer of gid_map;
- network: only loopback, brought up inside (a new namespace's lo is down);
- mount: everything private (no mount event propagates back to the host),
  then a fresh tmpfs laid out as the workers' /tmp (private_tmp): the paths
  the run needs that live under /tmp (the project, the run's scratch dir
  with the workers' socket) are bind-mounted into it at their place, and
  $TMPDIR, if under /tmp, is recreated empty. Each worker mounts it on /tmp
  in a mount namespace of its own (worker_mounts), one bind mount. /dev/shm
  gets a fresh tmpfs too (POSIX shared memory is not in the IPC namespace);
- PID: unshare(CLONE_NEWPID) moves only the caller's future children
  (pid_namespaces(7)), so the zygote keeps its own pid (the supervisor's
  view) and fork() keeps returning pids the supervisor can signal. Its first
  child is the namespace's init: a minimal reaper, immune to signals from
  inside the namespace (the kernel drops those an init has no handler for),
  whose death would end the namespace. Every worker is a later child, so it
  lives in that namespace and cannot name the zygote, the supervisor or any
  host process. Each worker then mounts its own /proc for that namespace
  (worker_mounts), so /proc lists only the run's processes.
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


def _tmpfs_data(tmp_mb):
    # size= bounds what the run's files may hold (tmpfs(5)); without it a
    # tmpfs may grow to half the RAM.
    return "mode=1777" if not tmp_mb else "mode=1777,size=%dm" % int(tmp_mb)


def private_tmp(staging, keep, fresh, tmp_mb=None):
    """A new tmpfs at `staging` (an empty directory), laid out as /tmp will
    look to a worker: `keep` paths under /tmp bind-mounted at their place,
    `fresh` directories under /tmp created empty. Workers mount it on /tmp
    (worker_mounts); the zygote keeps the real /tmp, so what pytest writes
    there from the zygote (--junitxml, reports) reaches the host."""
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
    mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, _tmpfs_data(tmp_mb), "mounting a private tmpfs for /tmp")
    for path in keep:
        inside = os.path.join(staging, os.path.relpath(path, tmp))
        if os.path.isdir(path):
            os.makedirs(inside, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            open(inside, "a").close()
        # Not recursive for the path that holds the staging dir itself (the
        # scratch dir), or the tmpfs would appear inside its own copy.
        recursive = 0 if _under(os.path.realpath(staging), path) else MS_REC
        mount(path, inside, None, MS_BIND | recursive)
    for path in fresh:
        if path and _under(os.path.abspath(path), tmp):
            inside = os.path.join(staging, os.path.relpath(os.path.abspath(path), tmp))
            os.makedirs(inside, mode=0o700, exist_ok=True)


def enter(staging, keep, fresh, pid_max=None, pid_max_required=True, tmp_mb=None):
    """Enter the namespaces (module docstring); the private /tmp is laid out
    at `staging` (private_tmp). `pid_max`: the PID namespace's own pid_max
    (see _start_init); when it cannot be set and is not required, the
    namespace goes without. Returns the init's pid."""
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
    private_tmp(staging, keep, fresh, tmp_mb)
    if os.path.isdir("/dev/shm"):
        # POSIX shared memory and semaphores (multiprocessing's locks) live
        # in /dev/shm, a tmpfs the IPC namespace does not cover: the run
        # gets its own, as it gets its own /tmp.
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, _tmpfs_data(tmp_mb), "mounting a private /dev/shm")
    return _start_init(pid_max, pid_max_required)


def _pidfd_open(pid):
    LIBC.syscall.restype = ctypes.c_long
    return check(LIBC.syscall(ctypes.c_long(434), ctypes.c_int(pid), ctypes.c_uint(0)), "pidfd_open")


def _start_init(pid_max, pid_max_required=True):
    """Fork the namespace's init. With `pid_max`, the init first sets the
    namespace's own kernel.pid_max (per PID namespace since Linux 6.14,
    written from inside it), which bounds how many tasks the run's workers
    can have at once even for root, whom RLIMIT_NPROC does not bind; the
    zygote waits for its answer so no worker is forked before."""
    # A pidfd of the zygote, for the init's check below: the zygote has no
    # pid inside the namespace, so getppid() there is 0 whatever happens.
    zygote = _pidfd_open(os.getpid())
    answer_r, answer_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (zygote, answer_r, answer_w):
            os.close(fd)
        raise
    if pid:
        os.close(zygote)
        os.close(answer_w)
        answer = b""
        while True:
            chunk = os.read(answer_r, 4096)
            if not chunk:
                break
            answer += chunk
        os.close(answer_r)
        if answer:
            raise SandboxError(answer.decode())
        return pid
    # PID 1 of the new namespace. It holds no descriptor of the zygote's (the
    # supervisor would otherwise wait on its copy of the control pipe).
    try:
        from .forking import die_with_parent

        die_with_parent()
        # The zygote may have died before prctl took effect: then no signal
        # will ever come (prctl(2)). A pidfd is readable once its process exited.
        import select

        if select.select([zygote], [], [], 0)[0]:
            os._exit(0)
        os.close(answer_r)
        if pid_max is not None:
            try:
                with open("/proc/sys/kernel/pid_max", "w") as f:
                    f.write("%d\n" % pid_max)
            except OSError as exc:
                if pid_max_required:
                    os.write(
                        answer_w,
                        (
                            "processes: RLIMIT_NPROC does not bind root, and setting the PID "
                            "namespace's pid_max instead failed (%s; it needs Linux >= 6.14). "
                            "Run as a non-root user" % exc.strerror
                        ).encode(),
                    )
        os.close(answer_w)
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


def worker_mounts(staging):
    """In a worker: its own mount namespace, with the private tmpfs (laid out
    at `staging` by the zygote) on /tmp, and /proc for the PID namespace
    (proc(5): a procfs shows the pid namespace of the process that mounted
    it). The zygote keeps the host's /tmp and /proc."""
    unshare(CLONE_NEWNS, "CLONE_NEWNS")
    mount(staging, "/tmp", None, MS_BIND | MS_REC, what="mounting the private tmpfs on /tmp")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, what="mounting /proc for the PID namespace")
