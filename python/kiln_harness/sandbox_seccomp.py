"""The strict profile's seccomp filter: a classic-BPF program, built once.

The zygote builds the program (and the ctypes buffer the kernel reads) before
it forks; a worker only makes the one seccomp(2) call, last in its sandbox
(DESIGN.md section 4), so everything before it may still use what the filter
denies. The filter is a deny list of the calls that cross the sandbox or
touch the kernel's global state (the set Docker's and nsjail's default
profiles refuse), answered with EPERM so user code sees an ordinary
"Operation not permitted" and the run goes on:

- a foreign architecture (seccomp_data.arch) kills the process: its numbers
  would mean other calls (seccomp(2), "Architecture dependencies"); on x86_64
  the x32 ABI's numbers (bit 30 set) are refused the same way;
- clone with any CLONE_NEW* flag is refused (a new namespace could undo the
  mount and network ones); clone3 passes its flags in memory a filter cannot
  read, so it gets ENOSYS, which makes glibc fall back to clone (glibc's
  clone3 fallback, sysdeps/unix/sysv/linux/clone-internal.c);
- ioctl TIOCSTI and TIOCLINUX are refused: they push keystrokes into the
  controlling terminal, which the worker shares with the user's shell.
"""

import ctypes
import errno
import struct

from .sandbox_sys import ARCHES, LIBC, SYSCALLS, SandboxError, check, no_new_privs, number

DENIED = (
    "ptrace", "mount", "umount2", "pivot_root", "chroot", "setns", "unshare",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd",
    "open_by_handle_at", "name_to_handle_at", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "lookup_dcookie", "uselib", "vhangup", "syslog", "nfsservctl", "_sysctl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm",
    "fanotify_init", "move_pages", "migrate_pages", "sethostname", "setdomainname",
)  # fmt: skip

# include/uapi/linux/sched.h: every CLONE_NEW* bit valid in clone(2)'s flags
# (CLONE_NEWTIME, 0x80, exists only for unshare and clone3: in clone's flags
# that bit is part of the exit signal).
CLONE_NEW_MASK = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
X32_SYSCALL_BIT = 0x40000000

# include/uapi/linux/filter.h and seccomp.h
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFF_NR, OFF_ARCH, OFF_ARG0, OFF_ARG1 = 0, 4, 16, 24  # args' low 32 bits (little-endian)


def _assemble(program):
    """[(code, jt, jf, k)] where jt/jf may be label names; labels are ("label", name)."""
    where = {}
    ops = []
    for op in program:
        if op[0] == "label":
            where[op[1]] = len(ops)
        else:
            ops.append(op)
    out = []
    for i, (code, jt, jf, k) in enumerate(ops):

        def rel(target):
            if isinstance(target, int):
                return target
            offset = where[target] - i - 1
            if not 0 <= offset <= 255:
                raise AssertionError("this is a bug in kiln: BPF jump out of range")
            return offset

        out.append((code, rel(jt), rel(jf), k))
    return out


def build_program(arch):
    """The filter for `arch` ('x86_64' or 'aarch64'), as [(code, jt, jf, k)]."""
    _, audit_arch = ARCHES[arch]
    p = [
        (BPF_LD_W_ABS, 0, 0, OFF_ARCH),
        (BPF_JEQ_K, 1, 0, audit_arch),
        (BPF_RET_K, 0, 0, RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, OFF_NR),
    ]
    if arch == "x86_64":
        p.append((BPF_JSET_K, "kill", 0, X32_SYSCALL_BIT))
    p.append((BPF_JEQ_K, "clone", 0, number("clone", arch)))
    p.append((BPF_JEQ_K, "enosys", 0, number("clone3", arch)))
    p.append((BPF_JEQ_K, "ioctl", 0, number("ioctl", arch)))
    for name in DENIED:
        nr = number(name, arch)
        if nr is not None:
            p.append((BPF_JEQ_K, "eperm", 0, nr))
    p += [
        (BPF_RET_K, 0, 0, RET_ALLOW),
        ("label", "clone"),
        (BPF_LD_W_ABS, 0, 0, OFF_ARG0),
        (BPF_JSET_K, "eperm", 0, CLONE_NEW_MASK),
        (BPF_RET_K, 0, 0, RET_ALLOW),
        ("label", "ioctl"),
        (BPF_LD_W_ABS, 0, 0, OFF_ARG1),
        (BPF_JEQ_K, "eperm", 0, TIOCSTI),
        (BPF_JEQ_K, "eperm", 0, TIOCLINUX),
        (BPF_RET_K, 0, 0, RET_ALLOW),
        ("label", "enosys"),
        (BPF_RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
        ("label", "kill"),
        (BPF_RET_K, 0, 0, RET_KILL_PROCESS),
        ("label", "eperm"),
        (BPF_RET_K, 0, 0, RET_ERRNO | errno.EPERM),
    ]
    return _assemble(p)


def run_program(program, nr, arch_value, args=(0,) * 6):
    """What the kernel would answer, by interpreting the program: for tests
    and `kiln doctor`. Only the opcodes build_program emits."""
    data = struct.pack("<iIQ6Q", nr, arch_value, 0, *args)
    acc = 0
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        if code == BPF_LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == BPF_JEQ_K:
            pc += 1 + (jt if acc == k else jf)
        elif code == BPF_JSET_K:
            pc += 1 + (jt if acc & k else jf)
        elif code == BPF_RET_K:
            return k
        else:
            raise AssertionError("unknown BPF opcode %#x" % code)


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


class SeccompFilter:
    """The program in the memory layout seccomp(2) reads, ready before fork."""

    def __init__(self, arch):
        if arch is None or arch not in ARCHES:
            raise SandboxError("seccomp: no filter for this architecture (x86_64 and aarch64 only)")
        self.program = build_program(arch)
        self._filters = (_SockFilter * len(self.program))(*self.program)
        self._fprog = _SockFprog(len(self.program), self._filters)
        self._nr = ctypes.c_long(SYSCALLS["seccomp"][0 if arch == "x86_64" else 1])

    def install(self):
        """NO_NEW_PRIVS (required, seccomp(2)), then the filter on every thread."""
        no_new_privs()
        LIBC.syscall.restype = ctypes.c_long
        check(
            LIBC.syscall(
                self._nr,
                ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                ctypes.c_uint(SECCOMP_FILTER_FLAG_TSYNC),
                ctypes.byref(self._fprog),
            ),
            "seccomp(SECCOMP_SET_MODE_FILTER)",
        )
