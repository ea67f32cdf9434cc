import ctypes
import errno
import os
import re
import subprocess
import threading

import pytest

from kiln_harness import sandbox_seccomp as sc
from kiln_harness.sandbox_sys import ARCHES, SYSCALLS, machine

from sandbox_child import in_child

HEADERS = {
    "x86_64": "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
    "aarch64": "/usr/include/asm-generic/unistd.h",
}


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_syscall_numbers_match_the_kernel_headers(arch):
    path = HEADERS[arch]
    if not os.path.exists(path):
        pytest.skip("no %s" % path)
    table = {}
    for m in re.finditer(r"#define __NR3?2?_(\w+)\s+(\d+)", open(path).read()):
        table.setdefault(m.group(1), int(m.group(2)))
    index = 0 if arch == "x86_64" else 1
    for name, numbers in SYSCALLS.items():
        assert numbers[index] == table.get(name), name


def _answer(arch, name, args=(0,) * 6):
    program = sc.build_program(arch)
    return sc.run_program(program, SYSCALLS[name][0 if arch == "x86_64" else 1], ARCHES[arch][1], args)


EPERM = sc.RET_ERRNO | errno.EPERM


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_denied_call_gets_eperm_and_ordinary_calls_pass(arch):
    for name in sc.DENIED:
        if SYSCALLS[name][0 if arch == "x86_64" else 1] is not None:
            assert _answer(arch, name) == EPERM, name
    program = sc.build_program(arch)
    for nr in (0, 1, 3, 39, 63, 172, 222):  # read, write, close, getpid... on either table
        if nr not in {v[0 if arch == "x86_64" else 1] for k, v in SYSCALLS.items() if k in sc.DENIED}:
            if nr not in (SYSCALLS["clone"][0 if arch == "x86_64" else 1], SYSCALLS["ioctl"][0 if arch == "x86_64" else 1]):
                assert sc.run_program(program, nr, ARCHES[arch][1]) == sc.RET_ALLOW, nr


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_clone_with_a_namespace_flag_is_refused_a_thread_or_fork_is_not(arch):
    thread_flags = 0x3D0F00  # CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    assert _answer(arch, "clone", (thread_flags, 0, 0, 0, 0, 0)) == sc.RET_ALLOW
    assert _answer(arch, "clone", (17, 0, 0, 0, 0, 0)) == sc.RET_ALLOW  # fork(): SIGCHLD
    for flag in (0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000):
        assert _answer(arch, "clone", (17 | flag, 0, 0, 0, 0, 0)) == EPERM, hex(flag)
    assert _answer(arch, "clone3") == sc.RET_ERRNO | errno.ENOSYS


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_terminal_injection_ioctls_are_refused(arch):
    assert _answer(arch, "ioctl", (0, sc.TIOCSTI, 0, 0, 0, 0)) == EPERM
    assert _answer(arch, "ioctl", (0, sc.TIOCLINUX, 0, 0, 0, 0)) == EPERM
    assert _answer(arch, "ioctl", (0, 0x5401, 0, 0, 0, 0)) == sc.RET_ALLOW  # TCGETS


def test_a_foreign_architecture_and_x32_calls_are_killed():
    program = sc.build_program("x86_64")
    assert sc.run_program(program, 0, ARCHES["aarch64"][1]) == sc.RET_KILL_PROCESS
    assert sc.run_program(program, 0x40000000 | 1, ARCHES["x86_64"][1]) == sc.RET_KILL_PROCESS
    assert sc.run_program(sc.build_program("aarch64"), 0, ARCHES["x86_64"][1]) == sc.RET_KILL_PROCESS


needs_seccomp = pytest.mark.skipif(
    machine() is None or not os.path.exists("/proc/sys/kernel/seccomp"), reason="no seccomp here"
)


@needs_seccomp
def test_installed_filter_refuses_escapes_and_keeps_python_working():
    flt = sc.SeccompFilter(machine())  # built before the fork, as the zygote does

    def child():
        flt.install()
        libc = ctypes.CDLL(None, use_errno=True)
        out = {}
        out["unshare"] = (libc.unshare(0x20000), ctypes.get_errno())
        out["ptrace"] = (libc.ptrace(0, 0, 0, 0), ctypes.get_errno())  # PTRACE_TRACEME
        out["mount"] = (libc.mount(b"none", b"/mnt", b"tmpfs", 0, None), ctypes.get_errno())
        box = []
        t = threading.Thread(target=lambda: box.append(1))  # clone3 -> ENOSYS -> clone
        t.start()
        t.join()
        out["thread"] = box
        out["subprocess"] = subprocess.run(["true"]).returncode
        out["status"] = [
            line.split()[1] for line in open("/proc/self/status") if line.startswith(("Seccomp:", "NoNewPrivs:"))
        ]
        return out

    out = in_child(child)
    assert out["unshare"] == [-1, errno.EPERM]
    assert out["ptrace"] == [-1, errno.EPERM]
    assert out["mount"] == [-1, errno.EPERM]
    assert out["thread"] == [1]
    assert out["subprocess"] == 0
    assert out["status"] == ["1", "2"]  # NoNewPrivs 1, Seccomp filter mode
