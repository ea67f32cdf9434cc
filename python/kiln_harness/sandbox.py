"""Isolation profiles for workers (DESIGN.md section 4): none, hermetic, strict.

The supervisor names the profile and its limits in the zygote's hello
(`isolation`). prepare() runs in the zygote before any fork: it checks that
every feature the profile needs is here (a missing one is an error naming
it, never a silent downgrade), enters the namespaces once (sandbox_ns.py)
and builds the seccomp program (sandbox_seccomp.py). A worker then applies
only what must be per process, in DESIGN.md's order:

  enter()  right after the fork: its own mount namespace with the run's
           private /tmp and a /proc for the PID namespace; strict: its own
           temp dir, which becomes $TMPDIR (and so pytest's basetemp root);
  lock()   once its channel is connected and the zygote's inherited capture
           is stopped (strict only): rlimits, close every inherited fd but
           stdio, the channel and the --timeout stack file, NO_NEW_PRIVS,
           Landlock, seccomp last.

Landlock's read-only system paths include all of /etc (Python reads
ld.so.cache, localtime, passwd, resolv.conf, ssl... there): a rule covers a
whole hierarchy and cannot carve files out of it.
"""

import os
import resource
import sys
import tempfile

from . import sandbox_landlock, sandbox_ns
from .sandbox_seccomp import SeccompFilter
from .sandbox_sys import LIBC, SandboxError, machine

PROFILES = ("none", "hermetic", "strict")
# In the private /tmp: spilled report bodies (report_sender.py), so a strict
# worker needs no write access to the scratch dir on the host's disk.
SPILL_DIR = "kiln-spill"
MB = 1024 * 1024

# Read-only for a strict worker besides the project and the interpreter.
SYSTEM_READ = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
    "/proc", "/sys/devices/system/cpu",
    "/dev/urandom", "/dev/random", "/dev/zero", "/dev/full",
)  # fmt: skip
# Read-write: the terminal (pdb at a breakpoint), the null device, and the
# run's private /dev/shm (multiprocessing's semaphores; sandbox_ns.enter).
SYSTEM_WRITE = ("/dev/null", "/dev/tty", "/dev/pts", "/dev/shm")


class WorkerSandbox:
    """What a worker applies; built in the zygote by prepare()."""

    def __init__(self, profile, limits, staging, read_paths, write_paths, seccomp, landlock_abi):
        self.profile = profile
        self.staging = staging
        self.limits = limits
        self.read_paths = read_paths
        self.write_paths = write_paths
        self.seccomp = seccomp
        self.landlock_abi = landlock_abi
        self.temp_dir = None

    def spill_dirs(self):
        """Where this worker spills report bodies, and that dir as the zygote
        sees it (the private /tmp is mounted at `staging` there)."""
        return os.path.join("/tmp", SPILL_DIR), os.path.join(self.staging, SPILL_DIR)

    def enter(self, worker_id):
        sandbox_ns.worker_mounts(self.staging)
        if self.profile == "strict":
            # Its own temp dir in the private /tmp: tempfile and pytest's
            # basetemp (TempPathFactory.getbasetemp uses tempfile.gettempdir)
            # land there, with the spill dir the only places it may write.
            # Named by worker id and pid, unique in the run's private /tmp
            # (mkdtemp's random name would cost ~0.2 ms of a fork's budget).
            self.temp_dir = "/tmp/kiln-worker-%d-%d" % (worker_id, os.getpid())
            os.mkdir(self.temp_dir, 0o700)
            os.environ["TMPDIR"] = self.temp_dir
            tempfile.tempdir = self.temp_dir

    def lock(self, keep_fds):
        if self.profile != "strict":
            return
        apply_rlimits(self.limits)
        close_inherited_fds(keep_fds)
        writes = [*self.write_paths, self.temp_dir]
        sandbox_landlock.restrict(self.landlock_abi, self.read_paths, writes)
        self.seccomp.install()  # sets NO_NEW_PRIVS first


def apply_rlimits(limits):
    """setrlimit(2) each configured limit; never above the current hard limit
    (an unprivileged process cannot raise it). cpu_seconds: the soft limit
    sends SIGXCPU, the hard one a second later SIGKILL (the kernel's RLIMIT_CPU)."""
    table = (
        ("addressSpaceMb", resource.RLIMIT_AS, MB, 0),
        ("processes", resource.RLIMIT_NPROC, 1, 0),
        ("fileSizeMb", resource.RLIMIT_FSIZE, MB, 0),
        ("openFiles", resource.RLIMIT_NOFILE, 1, 0),
        ("cpuSeconds", resource.RLIMIT_CPU, 1, 1),
    )
    for key, which, unit, hard_extra in table:
        value = limits.get(key)
        if value is None:
            continue
        soft = int(value * unit)
        _, hard_now = resource.getrlimit(which)
        hard = soft + hard_extra
        if hard_now != resource.RLIM_INFINITY:
            hard = min(hard, hard_now)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def _same_file(fd, stdio):
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) in stdio


def close_inherited_fds(keep_fds):
    """Close every descriptor but stdio, `keep_fds`, and copies of stdio (a dup
    of stderr, such as the one pytest's faulthandler plugin writes to, gives
    nothing stderr does not)."""
    stdio = set()
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            stdio.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    keep = {0, 1, 2, *keep_fds}
    for fd in [int(n) for n in os.listdir("/proc/self/fd")]:
        if fd in keep or _same_file(fd, stdio):
            continue
        try:
            os.close(fd)
        except OSError:
            pass


def unavailable(profile):
    """Why `profile` cannot be applied here (a list of reasons; empty: it can).

    Probes without entering anything: used by `kiln doctor` (doctor_probe.py)
    and by prepare() before it changes the process."""
    reasons = []
    if profile == "none":
        return reasons
    if not sys.platform.startswith("linux") or LIBC is None:
        return ["namespaces: Linux only (this is %s)" % sys.platform]
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if f.read().strip() == "0":
                reasons.append("user namespaces: disabled (/proc/sys/user/max_user_namespaces is 0)")
    except OSError:
        pass
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0" and os.getuid() != 0:
                reasons.append("user namespaces: disabled for unprivileged users (kernel.unprivileged_userns_clone=0)")
    except OSError:
        pass
    if profile == "strict":
        if machine() is None:
            reasons.append("seccomp: no filter for this architecture (x86_64 and aarch64 only)")
        if not os.path.exists("/proc/sys/kernel/seccomp"):
            reasons.append("seccomp: not in this kernel (no /proc/sys/kernel/seccomp)")
        if sandbox_landlock.abi_version() < 1:
            reasons.append("landlock: not available (landlock_create_ruleset failed; boot with lsm=...,landlock)")
    return reasons


def cgroup_limits_problem(limits):
    """memoryMb/pids need a delegated cgroup v2 (cgroups(7)); none is applied
    silently: asking for them where there is none is an error."""
    wanted = [k for k in ("memoryMb", "pids") if limits.get(k) is not None]
    if not wanted:
        return None
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            controllers = f.read().split()
    except OSError:
        return "cgroup v2 is not mounted at /sys/fs/cgroup: limits %s cannot be applied" % ", ".join(
            {"memoryMb": "memory_mb", "pids": "pids"}[k] for k in wanted
        )
    return "cgroup limits (%s) are not supported by this version of kiln (controllers here: %s)" % (
        ", ".join(wanted),
        " ".join(controllers) or "none delegated",
    )


# The kernel's RESERVED_PIDS (kernel/pid.c): once pid numbers wrap, they
# start again above it, so a namespace with pid_max = RESERVED_PIDS + n can
# hold at least n tasks (and at most n + 299, before the first wrap).
RESERVED_PIDS = 300


def pid_max_for(profile, limits):
    """strict: the PID namespace's pid_max, from `processes` (None: no limit).
    RLIMIT_NPROC does not bind root (the kernel exempts uid 0), so this is
    what bounds a fork bomb there; for other users it is a second bound.
    Needs Linux >= 6.14 (per-namespace pid_max); as root on an older kernel
    the processes limit cannot be applied, and strict is refused."""
    if profile != "strict" or limits.get("processes") is None:
        return None
    return RESERVED_PIDS + int(limits["processes"])


def with_run_overhead(limits, workers):
    """`processes` is what the tests may start; RLIMIT_NPROC and pid_max
    count the run's own tasks too (per user, per namespace), so each gets
    room for the zygote, the namespace's init, and every worker with its
    --timeout watchdog thread."""
    if limits.get("processes") is None:
        return limits
    return {**limits, "processes": int(limits["processes"]) + 2 * max(1, int(workers)) + 2}


def _existing(paths):
    seen = []
    for p in paths:
        if p and os.path.exists(p) and p not in seen:
            seen.append(p)
    return seen


def prepare(isolation, scratch_dir, args, workers=1):
    """In the zygote, before any fork: a WorkerSandbox, or None for `none`.
    Raises SandboxError naming the missing feature."""
    profile = (isolation or {}).get("profile", "none")
    if profile not in PROFILES:
        raise SandboxError("unknown isolation profile %r (one of %s)" % (profile, ", ".join(PROFILES)))
    if profile == "none":
        return None
    limits = with_run_overhead(isolation.get("limits") or {}, workers)
    reasons = unavailable(profile)
    problem = cgroup_limits_problem(limits) if profile == "strict" else None
    if problem:
        reasons.append(problem)
    if reasons:
        raise SandboxError("; ".join(reasons))
    project = [os.path.abspath(p) for p in isolation.get("projectPaths") or []]
    arg_paths = [os.path.abspath(a.split("::")[0]) for a in args if not a.startswith("-")]
    harness = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    interpreter = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    keep = [*project, *_existing(arg_paths), scratch_dir, harness, *interpreter, *sys.path]
    # In the scratch dir, which the supervisor removes after the run: the
    # mount itself exists only in the zygote's mount namespace.
    staging = os.path.join(scratch_dir, "private-tmp")
    os.mkdir(staging, 0o700)
    # Required for root only: RLIMIT_NPROC binds every other user.
    sandbox_ns.enter(
        staging,
        keep,
        [os.environ.get("TMPDIR")],
        pid_max_for(profile, limits),
        pid_max_required=os.getuid() == 0,
        tmp_mb=limits.get("tmpMb"),
    )
    os.mkdir(os.path.join(staging, SPILL_DIR), 0o700)
    seccomp = abi = None
    if profile == "strict":
        seccomp = SeccompFilter(machine())
        abi = sandbox_landlock.abi_version()
    reads = _existing([*SYSTEM_READ, *project, *arg_paths, harness, *interpreter, *sys.path])
    if profile == "strict" and "/" in [os.path.realpath(p) for p in reads]:
        # Landlock rules cover whole hierarchies: "/" would make every file
        # readable, the secrets the profile exists to hide among them.
        raise SandboxError(
            "strict: a project path, an argument or a sys.path entry is / itself, which would "
            "make the whole filesystem readable; run kiln from the project's directory"
        )
    writes = [*_existing(SYSTEM_WRITE), os.path.join("/tmp", SPILL_DIR)]
    return WorkerSandbox(profile, limits, staging, reads, writes, seccomp, abi)



def _in_child(fn):
    """fn() in a forked child: '' if it returned, else what it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        message = b""
        try:
            fn()
        except SandboxError as exc:
            message = str(exc).encode()
        except Exception as exc:  # reported as the reason, never a crash of doctor
            message = ("%s: %s" % (type(exc).__name__, exc)).encode()
        try:
            os.write(w, message)
        finally:
            os._exit(0)
    os.close(w)
    answer = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return answer


def probe(profile):
    """Why `profile` does not work here ([] when it does), by trying it: the
    static checks (unavailable), then a forked child that enters the
    namespaces as the zygote does, and its own child that does what a
    worker does (/proc; for strict, Landlock and seccomp). For `kiln doctor`."""
    reasons = unavailable(profile)
    if reasons or profile == "none":
        return reasons

    staging = tempfile.mkdtemp(prefix="kiln-probe-")

    def worker():
        sandbox_ns.worker_mounts(staging)
        if profile == "strict":
            sandbox_landlock.restrict(sandbox_landlock.abi_version(), SYSTEM_READ, [])
            SeccompFilter(machine()).install()

    def zygote():
        sandbox_ns.enter(staging, [], [])
        problem = _in_child(worker)
        if problem:
            raise SandboxError(problem)

    try:
        answer = _in_child(zygote)
    finally:
        os.rmdir(staging)
    return [answer] if answer else []
