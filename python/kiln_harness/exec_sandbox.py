"""The exec service's sandbox, behind one small interface (issue 13).

prepare(profile, scratch_dir, limits) runs once in the exec zygote, before
any fork, and returns an object with enter(worker_id) (right after the
fork) and lock(keep_fds) (once the worker's connections are made, before it
reads its request). `none` needs nothing. `hermetic` and `strict` are the
isolation profiles of kiln_harness/sandbox.py (DESIGN.md section 4); where
that module or a feature a profile needs is missing, prepare() raises
SandboxUnavailable naming it: a profile is never silently downgraded.
"""

import os
import resource

PROFILES = ("none", "hermetic", "strict")


class SandboxUnavailable(Exception):
    """The requested profile can't be applied here (the message says why)."""


class NoSandbox:
    profile = "none"

    def enter(self, worker_id):
        pass

    def lock(self, keep_fds):
        pass


def prepare(profile, scratch_dir, limits):
    if profile not in PROFILES:
        raise SandboxUnavailable("unknown profile %r (one of %s)" % (profile, ", ".join(PROFILES)))
    if profile == "none":
        return NoSandbox()
    try:
        from . import sandbox
    except ImportError as exc:
        raise SandboxUnavailable(
            "profile %r needs kiln_harness.sandbox, which this kiln does not have (%s)" % (profile, exc)
        ) from None
    isolation = {"profile": profile, "limits": dict(limits), "projectPaths": []}
    try:
        box = sandbox.prepare(isolation, scratch_dir, [])
    except Exception as exc:  # SandboxError and OSError alike: refuse, never downgrade
        raise SandboxUnavailable("profile %r can't be applied here: %s" % (profile, exc)) from None
    # The spill dir is for kiln test's report bodies; exec workers never use
    # it, and writable it was a place in the pool's shared /tmp that one
    # request could fill for the others.
    spill, _ = box.spill_dirs()
    box.write_paths = [p for p in box.write_paths if p != spill]
    return box


# A worker's own /dev/shm: POSIX shared memory and multiprocessing's
# semaphores need a few pages; its tmpfs pages are memory that RLIMIT_AS
# does not count, hence a bound.
PRIVATE_SHM_MB = 32


def private_shm(box):
    """hermetic, strict: a fresh tmpfs on /dev/shm for this worker alone, in
    the mount namespace it already has of its own (sandbox_ns.worker_mounts).
    The pool's /dev/shm (sandbox_ns.enter) is shared by all its workers and
    outlives them: a file one request left there was readable by the next
    (tests/e2e/exec-limits.test.ts). This one goes with the worker's mount
    namespace when the worker and its processes are gone. Called before
    lock(), whose Landlock rules then name this mount."""
    if box.profile == "none" or not os.path.isdir("/dev/shm"):
        return
    from .sandbox_ns import MS_NODEV, MS_NOSUID, mount

    data = "mode=1777,size=%dm" % PRIVATE_SHM_MB
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, data, "mounting the worker's own /dev/shm")


def private_temp(box):
    """strict: the worker's temp dir ($TMPDIR, the only place under /tmp
    Landlock lets it write) becomes a tmpfs of its own, `workerTmpMb` in
    size. It was a directory in the pool's private /tmp, whose size all the
    pool's workers shared: one request's files there left the requests
    beside it ENOSPC (SECURITY.md). Mounted in the worker's own mount
    namespace (sandbox_ns.worker_mounts), before lock(), whose Landlock rule
    then names this mount; it goes with the worker and its processes."""
    size = box.limits.get("workerTmpMb") if box.profile == "strict" else None
    if size is None or box.temp_dir is None:
        return
    from .sandbox_ns import MS_NODEV, MS_NOSUID, mount

    data = "mode=0700,size=%dm" % int(size)
    mount("tmpfs", box.temp_dir, "tmpfs", MS_NOSUID | MS_NODEV, data, "mounting the worker's own temp dir")


def own_user_namespace(box):
    """strict: the worker enters a user namespace of its own, so its
    processes are counted apart from the other workers'. RLIMIT_NPROC is
    checked against a count per (user namespace, uid) since Linux 5.14
    (kernel/ucount.c is_rlimit_overlimit), at every level up to the initial
    namespace: at the worker's level against its own RLIMIT_NPROC
    (`workerProcesses`, set by lock()), at the pool's against the limit the
    worker had when it created its namespace (`processes`, the pool's, set
    here first). So a fork bomb stops at the worker's limit and leaves the
    rest of the pool's to the requests beside it; the pool's still bounds
    them all (several bombs at once can still take it). Verified on 6.18
    (SECURITY.md). After the mounts: the worker has no capability left in
    the pool's namespace, which owns its mount namespace. uid and gid map
    to themselves, as in the pool's namespace (sandbox_ns.enter)."""
    per_worker = box.limits.get("workerProcesses") if box.profile == "strict" else None
    if per_worker is None:
        return
    from .sandbox_ns import CLONE_NEWUSER, unshare

    total = box.limits.get("processes")
    if total is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if hard != resource.RLIM_INFINITY:
            total = min(total, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (total, total))
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER, "CLONE_NEWUSER (the worker's own user namespace)")
    for path, text in (
        ("/proc/self/setgroups", "deny"),
        ("/proc/self/uid_map", "%d %d 1\n" % (uid, uid)),
        ("/proc/self/gid_map", "%d %d 1\n" % (gid, gid)),
    ):
        with open(path, "w") as f:
            f.write(text)
    box.limits = {**box.limits, "processes": per_worker}


def limit_memory(megabytes):
    """RLIMIT_AS for this worker (setrlimit(2); lowering is always allowed).
    Address space, not RSS: what CPython's allocator sees as MemoryError."""
    if megabytes is None:
        return
    soft = int(megabytes) * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def own_process_group():
    """The worker leads its own process group, so the zygote's kill (killpg)
    also ends the children its code started (unless they left the group)."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
