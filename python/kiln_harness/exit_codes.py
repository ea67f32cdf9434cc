"""Every exit status of Kiln and its harness processes, by name.

The mirror of src/protocol/exit-codes.ts: tests/unit/protocol/exit-codes.test.ts
runs ``python -m kiln_harness.exit_codes`` and compares the two tables, and
python/tests/test_exit_codes.py checks the first six against pytest.ExitCode.

Imported by boot.py before the Python version is checked, so it keeps to
syntax every Python 3 compiles (no f-strings, no annotations).
"""

import json
import sys

# pytest's ExitCode (src/_pytest/config/__init__.py). `kiln test` exits with
# these, and the zygote and the compile server exit with the ones that apply.
# They are repeated here rather than read from pytest.ExitCode because the
# harness must refuse a missing pytest with USAGE_ERROR before importing it.
OK = 0
TESTS_FAILED = 1
INTERRUPTED = 2
INTERNAL_ERROR = 3
USAGE_ERROR = 4
NO_TESTS_COLLECTED = 5

# Kiln's other commands. Like TESTS_FAILED, 1 means "the command ran and the
# answer is no": `kiln check` found problems, `kiln cache` could not use its
# store, a `kiln report` module failed to render.
CHECK_PROBLEMS = 1
CACHE_FAILED = 1
REPORT_MODULE_FAILED = 1

# A forked worker's own statuses (forking.py), beside pytest's. The
# supervisor reports any status a worker dies with; these name two of them.
# sysexits.h's EX_SOFTWARE: an exception escaped the worker loop.
WORKER_SOFTWARE_ERROR = 70
# 128 + SIGINT, what a shell reports for a process ended by Ctrl-C: a
# KeyboardInterrupt escaped (the parity tool exits with it on Ctrl-C too).
KEYBOARD_INTERRUPT = 130


def table():
    """Every name above with its value."""
    return dict(
        (name, value)
        for name, value in globals().items()
        if name.isupper() and isinstance(value, int)
    )


if __name__ == "__main__":
    sys.stdout.write(json.dumps(table(), sort_keys=True) + "\n")
