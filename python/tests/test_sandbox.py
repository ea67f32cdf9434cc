import errno
import json
import os
import resource
import socket

import pytest

from kiln_harness import sandbox, sandbox_ns

from sandbox_child import RESULT, errno_of, in_child


def test_rlimits_are_applied_and_enforced(tmp_path):
    def child():
        sandbox.apply_rlimits({"openFiles": 32, "fileSizeMb": 1, "addressSpaceMb": 2048, "cpuSeconds": 7, "processes": 4096})
        limits = {
            name: list(resource.getrlimit(getattr(resource, name)))
            for name in ("RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC")
        }
        big = errno_of(lambda: (tmp_path / "big").write_bytes(b"x" * (2 * 1024 * 1024)))
        files = []

        def many():
            for _ in range(40):
                files.append(open(os.devnull))

        emfile = errno_of(many)
        for f in files:
            f.close()
        try:
            bytearray(3 * 1024 * 1024 * 1024)
            memory = "allocated"
        except MemoryError:
            memory = "MemoryError"
        return {"limits": limits, "big": big, "emfile": emfile, "memory": memory}

    out = in_child(child)
    mb = 1024 * 1024
    assert out["limits"] == {
        "RLIMIT_NOFILE": [32, 32],
        "RLIMIT_FSIZE": [mb, mb],
        "RLIMIT_AS": [2048 * mb, 2048 * mb],
        "RLIMIT_CPU": [7, 8],
        "RLIMIT_NPROC": [4096, 4096],
    }
    assert out["big"] == errno.EFBIG  # CPython ignores SIGXFSZ: the write fails instead
    assert out["emfile"] == errno.EMFILE
    assert out["memory"] == "MemoryError"


def test_close_inherited_fds_keeps_stdio_its_copies_and_the_channel():
    def child():
        r, w = os.pipe()
        channel, other = socket.socketpair()
        stderr_copy = os.dup(2)
        sandbox.close_inherited_fds({channel.fileno(), RESULT["fd"]})

        def is_open(fd):
            return errno_of(lambda: os.fstat(fd)) == 0

        return {
            "pipe": [is_open(r), is_open(w)],
            "other": is_open(other.fileno()),
            "channel": is_open(channel.fileno()),
            "stderr_copy": is_open(stderr_copy),
            "stdio": [is_open(0), is_open(1), is_open(2)],
        }

    out = in_child(child)
    assert out == {
        "pipe": [False, False],
        "other": False,
        "channel": True,
        "stderr_copy": True,
        "stdio": [True, True, True],
    }


def test_processes_leave_room_for_the_runs_own_tasks():
    # zygote, init, and each worker with its watchdog thread
    assert sandbox.with_run_overhead({"processes": 60, "openFiles": 9}, 4) == {"processes": 70, "openFiles": 9}
    assert sandbox.with_run_overhead({"openFiles": 9}, 4) == {"openFiles": 9}


def test_unknown_profile_is_refused_by_name():
    with pytest.raises(sandbox.SandboxError, match="unknown isolation profile 'sealed'"):
        sandbox.prepare({"profile": "sealed"}, "/nonexistent", [])


def test_cgroup_limits_without_a_cgroup_are_an_error_not_ignored():
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("cgroup v2 is mounted here")
    problem = sandbox.cgroup_limits_problem({"memoryMb": 128})
    assert "cgroup v2 is not mounted" in problem and "memory_mb" in problem
    assert sandbox.cgroup_limits_problem({"openFiles": 10}) is None


needs_userns = pytest.mark.skipif(bool(sandbox.unavailable("hermetic")), reason="no user namespaces")


@needs_userns
def test_namespaces_hide_tmp_network_and_processes(tmp_path):
    """What the zygote does for hermetic, in a child: private /tmp with the
    kept paths bound back, loopback only, and a PID namespace for children."""
    kept = tmp_path / "project"
    kept.mkdir()
    (kept / "data.txt").write_text("kept")
    hidden = tmp_path / "other"
    hidden.mkdir()
    fresh = tmp_path / "fresh-tmpdir"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    uid = os.getuid()

    staging = tmp_path / "staging"
    staging.mkdir()

    def child():
        sandbox_ns.enter(str(staging), [str(kept)], [str(fresh)])
        r, w = os.pipe()
        worker = os.fork()
        if worker == 0:  # a "worker": the first child after the init
            sandbox_ns.worker_mounts(str(staging))
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            view = {
                "shm": os.path.exists(shm_marker),
                "kept": (kept / "data.txt").read_text(),
                "hidden": os.path.exists(hidden),
                "fresh": os.listdir(fresh),
            }
            os.write(w, json.dumps([os.getpid(), pids, view]).encode())
            os._exit(0)
        os.close(w)
        seen = json.loads(os.read(r, 10000).decode())
        os.waitpid(worker, 0)
        loop = socket.socket()
        loop.bind(("127.0.0.1", 0))
        loop.listen(1)
        return {
            "uid": os.getuid(),
            "zygote_sees_host_tmp": os.path.exists(hidden),
            "outside_server": errno_of(lambda: socket.create_connection(("127.0.0.1", port), timeout=2)),
            "loopback": errno_of(lambda: socket.create_connection(loop.getsockname(), timeout=2)),
            "worker": seen,
        }

    shm_marker = "/dev/shm/kiln-test-%d" % os.getpid()
    open(shm_marker, "w").close()
    try:
        out = in_child(child)
    finally:
        server.close()
        os.unlink(shm_marker)
    assert out["uid"] == uid
    assert out["zygote_sees_host_tmp"] is True
    assert out["outside_server"] == errno.ECONNREFUSED  # another network namespace's loopback
    assert out["loopback"] == 0
    pid, pids, view = out["worker"]
    assert pid == 2  # PID 1 is the namespace's init
    assert pids == [1, 2]
    assert view == {"shm": False, "kept": "kept", "hidden": False, "fresh": []}
    assert os.path.exists(hidden)  # the host's /tmp is untouched


def _kernel_at_least(major, minor):
    release = os.uname().release.split("-")[0].split(".")
    return (int(release[0]), int(release[1])) >= (major, minor)


@needs_userns
@pytest.mark.skipif(not _kernel_at_least(6, 14), reason="per-namespace pid_max needs Linux 6.14")
def test_the_pid_namespace_gets_its_own_pid_max(tmp_path):
    """strict's bound on processes that holds for root too (RLIMIT_NPROC does not)."""
    staging = tmp_path / "staging"
    staging.mkdir()
    host = open("/proc/sys/kernel/pid_max").read()

    def child():
        sandbox_ns.enter(str(staging), [], [], pid_max=sandbox.pid_max_for("strict", {"processes": 20}))
        r, w = os.pipe()
        worker = os.fork()
        if worker == 0:
            sandbox_ns.worker_mounts(str(staging))
            forked = []
            try:
                for _ in range(400):
                    pid = os.fork()
                    if pid == 0:
                        os.close(w)
                        os.read(r, 1)  # EOF once the worker is done forking
                        os._exit(0)
                    forked.append(pid)
            except OSError:
                pass
            os.close(w)
            for pid in forked:
                os.waitpid(pid, 0)
            os._exit(len(forked) - 200)  # an exit status holds 0..255
        os.close(r)
        os.close(w)
        _, status = os.waitpid(worker, 0)
        return os.WEXITSTATUS(status) + 200

    forked = in_child(child)
    # pid_max = 300 + 20: pids 2..319 before the numbers wrap (init has 1, the worker 2).
    assert 300 <= forked < 320
    assert open("/proc/sys/kernel/pid_max").read() == host
