import json
import os
import subprocess
import sys

import pytest

from kiln_harness import exit_codes

HARNESS = os.path.join(os.path.dirname(__file__), os.pardir)
PYTEST_NAMES = [
    "OK",
    "TESTS_FAILED",
    "INTERRUPTED",
    "INTERNAL_ERROR",
    "USAGE_ERROR",
    "NO_TESTS_COLLECTED",
]


def test_pytest_statuses_are_pytests_own():
    # The harness repeats pytest's ExitCode because it must refuse a missing
    # pytest before importing it; the copy must not drift from pytest's.
    assert {name: pytest.ExitCode[name].value for name in pytest.ExitCode.__members__} == {
        name: getattr(exit_codes, name) for name in PYTEST_NAMES
    }


def test_table_lists_every_code_and_only_codes():
    table = exit_codes.table()
    assert set(PYTEST_NAMES) <= set(table)
    assert table["WORKER_SOFTWARE_ERROR"] == 70  # sysexits.h EX_SOFTWARE
    assert table["KEYBOARD_INTERRUPT"] == 128 + 2  # 128 + SIGINT
    assert all(isinstance(value, int) for value in table.values())
    assert "table" not in table and "json" not in table


def test_module_prints_its_table_as_json():
    # How tests/unit/protocol/exit-codes.test.ts reads it to compare with the
    # TypeScript table.
    out = subprocess.run(
        [sys.executable, "-m", "kiln_harness.exit_codes"],
        cwd=HARNESS,
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    assert json.loads(out) == exit_codes.table()
