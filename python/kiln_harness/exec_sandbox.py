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
        return sandbox.prepare(isolation, scratch_dir, [])
    except Exception as exc:  # SandboxError and OSError alike: refuse, never downgrade
        raise SandboxUnavailable("profile %r can't be applied here: %s" % (profile, exc)) from None


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
