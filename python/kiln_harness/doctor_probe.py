"""What `kiln doctor` asks the interpreter: its version, pytest, pytest-xdist,
the kernel's Landlock ABI and which isolation profiles work (tried in a
forked child, sandbox.probe). Prints one JSON object on stdout.

Started by src/cli/doctor-command.ts through boot.py, which does not check
the version for this program: doctor reports a Python that is too old instead
of refusing it, so this module keeps to syntax every Python 3 compiles (no
f-strings, no annotations).
"""

import json
import platform
import sys

from .boot import MIN_PYTHON, too_old

# landlock_create_ruleset's number in the kernel's syscall tables
# (include/uapi/asm-generic/unistd.h, arch/x86/entry/syscalls/syscall_64.tbl):
# 444 on both architectures Kiln is used on. Other machines are not probed.
LANDLOCK_CREATE_RULESET = {"x86_64": 444, "aarch64": 444}
# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns
# the ABI version instead of creating a ruleset (Documentation/userspace-api/landlock.rst).
LANDLOCK_CREATE_RULESET_VERSION = 1


def landlock_abi(machine=None):
    """The kernel's Landlock ABI version, -1 when Landlock is off or refused
    (ENOSYS, EOPNOTSUPP), or None on a machine whose syscall number we don't know."""
    nr = LANDLOCK_CREATE_RULESET.get(machine or platform.machine())
    if nr is None:
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(nr, None, 0, LANDLOCK_CREATE_RULESET_VERSION)


def probe():
    info = {
        "version": platform.python_version(),
        "executable": sys.executable,
        # boot.py's own check, so doctor and the zygote never disagree.
        "tooOld": too_old(sys.version_info) is not None,
        "minPython": "%d.%d" % MIN_PYTHON,
    }
    try:
        import pytest

        info["pytest"] = pytest.__version__
    except Exception as e:
        info["pytestError"] = "%s: %s" % (type(e).__name__, e)
    try:
        abi = landlock_abi()
        if abi is not None:
            info["landlockAbi"] = abi
    except Exception:
        pass
    try:
        from .sandbox import probe as probe_profile

        info["profiles"] = {
            "hermetic": probe_profile("hermetic"),
            "strict": probe_profile("strict"),
        }
    except Exception as e:
        info["profilesError"] = "%s: %s" % (type(e).__name__, e)
    try:
        import xdist

        info["xdist"] = xdist.__version__
    except Exception:
        pass
    return info


def main():
    sys.stdout.write(json.dumps(probe()) + "\n")
