"""How every harness program starts: ``python -c <HARNESS_BOOT> <harness-dir> <program>``.

HARNESS_BOOT (src/config/harness.ts) is the one line of Python Kiln keeps in
TypeScript: it puts the harness directory at sys.path[0], in place of the ""
that ``-c`` puts there (so no project file named like a stdlib module or like
kiln_harness can shadow one while the harness is imported), imports this
module and calls main(). main() checks the Python version and arranges
sys.path and sys.argv the way the program needs them (PROGRAMS), then runs it.

Runs before the version is checked, so it keeps to syntax every Python 3
compiles (no f-strings, no annotations).
"""

import importlib
import os
import sys

from . import exit_codes

MIN_PYTHON = (3, 9)


def too_old(version_info):
    """The refusal for an interpreter older than MIN_PYTHON, or None."""
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return None
    return "kiln: Python %d.%d at %s is too old: Kiln needs Python >= %d.%d\n" % (
        version_info[0],
        version_info[1],
        sys.executable,
        MIN_PYTHON[0],
        MIN_PYTHON[1],
    )


# program -> (its module in kiln_harness, refuses an old Python, the working
# directory first on sys.path)
PROGRAMS = {
    # `python -m pytest` puts the working directory first on sys.path (PEP
    # 338), and the harness directory leaves sys.path before any user code
    # runs (kiln_harness is already imported, so its submodules stay
    # importable): the user's tests never see it.
    "zygote": ("zygote", True, True),
    # The harness stays at sys.path[0]: the server imports pytest, never
    # project code, and a project file must not shadow a stdlib module.
    "compile-server": ("compile_server", True, False),
    # What the zygote would import, so the working directory first too; doctor
    # reports an old Python rather than refusing it.
    "doctor-probe": ("doctor_probe", False, True),
    # Runs untrusted code as __main__: the working directory is not on
    # sys.path (python -c would put it there; a server's cwd is no project).
    "exec-zygote": ("exec_zygote", True, False),
    # The daemon's level 0 becomes each run's zygote (a fork): the same
    # start as the zygote's.
    "daemon": ("daemon", True, True),
    # `kiln watch`'s stdio stand-in: runs no project code.
    "stdio-stand-in": ("stdio_stand_in", False, False),
}


def main():
    program = sys.argv[2] if len(sys.argv) > 2 else None
    if program not in PROGRAMS:
        sys.stderr.write(
            "kiln: this is a bug in kiln: unknown harness program %r (one of %s)\n"
            % (program, ", ".join(sorted(PROGRAMS)))
        )
        sys.exit(exit_codes.INTERNAL_ERROR)
    module, checks_version, cwd_first = PROGRAMS[program]
    if checks_version:
        refusal = too_old(sys.version_info)
        if refusal:
            sys.stderr.write(refusal)
            sys.exit(exit_codes.USAGE_ERROR)
    # What the program sees in argv is what `python -c` gave it: ['-c'].
    del sys.argv[1:3]
    if cwd_first:
        sys.path[0] = os.getcwd()
    importlib.import_module("kiln_harness." + module).main()
