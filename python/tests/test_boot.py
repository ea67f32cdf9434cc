import json
import os
import subprocess
import sys

import pytest

from kiln_harness import boot, exit_codes

HARNESS = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))

# src/config/harness.ts's BOOT line, then a stand-in for the program's module
# that prints what it was started with. `prelude` runs first (an old Python).
SCRIPT = """
import sys, json, types
{prelude}
sys.path[0] = sys.argv[1]
import kiln_harness.boot as b
fake = types.ModuleType("kiln_harness." + b.PROGRAMS[sys.argv[2]][0])
fake.main = lambda: print(json.dumps({{"path": sys.path, "argv": sys.argv}}))
sys.modules[fake.__name__] = fake
b.main()
"""


def start(program, cwd, prelude=""):
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(prelude=prelude), HARNESS, program],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )


@pytest.mark.parametrize("program", ["zygote", "doctor-probe"])
def test_user_facing_programs_see_the_working_directory_first_and_no_harness(program, tmp_path):
    # As under `python -m pytest` (PEP 338): the working directory first, and
    # nothing of Kiln's on sys.path; argv is what `python -c` gives.
    r = start(program, tmp_path)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["path"][0] == str(tmp_path)
    assert HARNESS not in seen["path"]
    assert seen["argv"] == ["-c"]


def test_the_compile_server_keeps_the_harness_first(tmp_path):
    # Not the working directory: a project file named like a stdlib module
    # must not shadow it in the server.
    r = start("compile-server", tmp_path)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["path"][0] == HARNESS
    assert str(tmp_path) not in seen["path"]


@pytest.mark.parametrize("program", ["zygote", "compile-server"])
def test_an_old_python_is_refused_as_a_usage_error(program, tmp_path):
    r = start(program, tmp_path, prelude="sys.version_info = (3, 8, 1)")
    assert r.returncode == exit_codes.USAGE_ERROR
    assert "kiln: Python 3.8 at %s is too old: Kiln needs Python >= 3.9" % sys.executable in r.stderr
    assert r.stdout == ""


def test_doctor_probes_an_old_python_instead_of_refusing_it(tmp_path):
    r = start("doctor-probe", tmp_path, prelude="sys.version_info = (3, 8, 1)")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["argv"] == ["-c"]


def test_an_unknown_program_is_a_bug_in_kiln(tmp_path):
    boot_line = "import sys; sys.path[0] = sys.argv[1]; import kiln_harness.boot as b; b.main()"
    r = subprocess.run(
        [sys.executable, "-c", boot_line, HARNESS, "nope"],
        cwd=str(tmp_path),
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    assert r.returncode == exit_codes.INTERNAL_ERROR
    assert "this is a bug in kiln: unknown harness program 'nope'" in r.stderr


def test_too_old():
    assert boot.too_old((3, 9, 0)) is None
    assert boot.too_old((4, 0)) is None
    assert "Python 3.8 " in boot.too_old((3, 8, 19))
