"""Landlock for the strict profile (Documentation/userspace-api/landlock.rst).

A worker restricts itself to: read (and execute) the system and project
paths, read-write its own temp dir (pytest's basetemp is inside) and the
spill dir for large reports, both in the private /tmp; no TCP bind or connect (ABI >= 4); no signals to, and no abstract Unix
sockets of, processes outside its own Landlock domain (ABI >= 6), so a test
cannot kill the zygote, the supervisor or a sibling worker. Everything the
running kernel's ABI knows is handled (denied unless a rule allows it): a
newer right is never left open by accident.
"""

import ctypes
import os
import stat

from .sandbox_sys import LIBC, SandboxError, check, number

CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

# Rights that apply to a file (a rule on a non-directory may hold only these).
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


def fs_rights(abi):
    """Every filesystem right the kernel's ABI knows."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR


def abi_version():
    """The kernel's Landlock ABI, 0 when it has none or it is disabled."""
    if LIBC is None or number("landlock_create_ruleset") is None:
        return 0
    LIBC.syscall.restype = ctypes.c_long
    nr = ctypes.c_long(number("landlock_create_ruleset"))
    version = LIBC.syscall(nr, None, ctypes.c_size_t(0), ctypes.c_uint(CREATE_RULESET_VERSION))
    return max(0, version)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _sys(name, *args):
    LIBC.syscall.restype = ctypes.c_long
    return check(LIBC.syscall(ctypes.c_long(number(name)), *args), name)


def restrict(abi, read_paths, write_paths, deny_tcp=True, scope=True):
    """Restrict this process (and its future children) for good.

    Paths that do not exist are skipped (a rule needs an open file). Write
    paths get every right; a path that is a file, not a directory, gets the
    file rights only (the kernel refuses directory rights on a file).
    """
    if abi < 1:
        raise SandboxError("landlock is not available in this kernel")
    handled = fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        size = 16
        if deny_tcp:
            attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
    if abi >= 6:
        size = 24
        if scope:
            attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    ruleset = _sys("landlock_create_ruleset", ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint(0))
    try:
        for paths, rights in ((read_paths, READ & handled), (write_paths, handled)):
            for path in paths:
                _add_path(ruleset, path, rights)
        _sys("landlock_restrict_self", ctypes.c_int(ruleset), ctypes.c_uint(0))
    finally:
        os.close(ruleset)


def _add_path(ruleset, path, rights):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        try:
            _sys("landlock_add_rule", ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint(0))
        except SandboxError as exc:
            raise SandboxError("landlock rule for %s: %s" % (path, exc)) from None
    finally:
        os.close(fd)
