"""Raw Linux system calls for the sandbox (DESIGN.md section 4), via ctypes.

The symbols are resolved once, when the zygote imports this module, never in
a worker: dlopen(NULL) gives the interpreter's own libc (ctypes.util's
find_library would fork /sbin/ldconfig). Calls without a libc wrapper go
through syscall(2) with the numbers of the running architecture; only x86_64
and aarch64 are known (the seccomp filter checks the same arch, see
sandbox_seccomp.py).
"""

import ctypes
import os
import platform

try:
    LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # not a dlopen platform: no sandbox here (doctor says so)
    LIBC = None

# (x86_64, aarch64) numbers: arch/x86/entry/syscalls/syscall_64.tbl and
# include/uapi/asm-generic/unistd.h. None: the call does not exist there.
# python/tests/test_sandbox_seccomp.py checks them against the installed headers.
SYSCALLS = {
    "ptrace": (101, 117),
    "mount": (165, 40),
    "umount2": (166, 39),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "bpf": (321, 280),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "perf_event_open": (298, 241),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "setns": (308, 268),
    "unshare": (272, 97),
    "chroot": (161, 51),
    "pivot_root": (155, 41),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "acct": (163, 89),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "lookup_dcookie": (212, 18),
    "uselib": (134, None),
    "vhangup": (153, 58),
    "syslog": (103, 116),
    "settimeofday": (164, 170),
    "clock_settime": (227, 112),
    "clock_adjtime": (305, 266),
    "adjtimex": (159, 171),
    "iopl": (172, None),
    "ioperm": (173, None),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    "process_madvise": (440, 440),
    "fanotify_init": (300, 262),
    "move_pages": (279, 239),
    "migrate_pages": (256, 238),
    "sethostname": (170, 161),
    "setdomainname": (171, 162),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "nfsservctl": (180, 42),
    "_sysctl": (156, None),
    "clone": (56, 220),
    "clone3": (435, 435),
    "ioctl": (16, 29),
    "landlock_create_ruleset": (444, 444),
    "landlock_add_rule": (445, 445),
    "landlock_restrict_self": (446, 446),
    "seccomp": (317, 277),
}

# AUDIT_ARCH_* (include/uapi/linux/audit.h): what seccomp_data.arch holds.
ARCHES = {"x86_64": ("x86_64", 0xC000003E), "aarch64": ("aarch64", 0xC00000B7)}
_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def machine():
    """'x86_64', 'aarch64', or None for an architecture Kiln has no numbers for."""
    return _MACHINE.get(platform.machine().lower())


def number(name, arch=None):
    """The syscall number of `name` on `arch` (default: this machine), or None."""
    arch = arch or machine()
    if arch is None:
        return None
    return SYSCALLS[name][0 if arch == "x86_64" else 1]


class SandboxError(Exception):
    """A profile could not be applied: names the feature and the kernel's errno."""


def check(result, what):
    if result == -1:
        err = ctypes.get_errno()
        raise SandboxError("%s failed: %s" % (what, os.strerror(err)))
    return result


def syscall(name, *args):
    """syscall(2) by name; raises SandboxError on -1."""
    if LIBC is None:
        raise SandboxError("%s: no libc symbols (ctypes dlopen(NULL) failed)" % name)
    nr = number(name)
    if nr is None:
        raise SandboxError("%s: no syscall number for %s" % (name, platform.machine()))
    fn = LIBC.syscall
    fn.restype = ctypes.c_long
    return check(fn(ctypes.c_long(nr), *args), name)


# prctl(2) options (include/uapi/linux/prctl.h).
PR_SET_NO_NEW_PRIVS = 38


def no_new_privs():
    """PR_SET_NO_NEW_PRIVS: execve can never grant privileges again (setuid
    bits, file capabilities); also what lets an unprivileged process install a
    seccomp filter (seccomp(2))."""
    LIBC.prctl.restype = ctypes.c_int
    check(
        LIBC.prctl(
            ctypes.c_int(PR_SET_NO_NEW_PRIVS),
            ctypes.c_ulong(1),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        ),
        "prctl(PR_SET_NO_NEW_PRIVS)",
    )
