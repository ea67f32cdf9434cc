import json
import os
import platform
import subprocess
import sys

import pytest

from kiln_harness import doctor_probe

# src/cli/doctor-command.ts's ProbeResult: the keys it may read, and their types.
KEYS = {
    "version": str,
    "executable": str,
    "tooOld": bool,
    "minPython": str,
    "pytest": str,
    "pytestError": str,
    "landlockAbi": int,
    "xdist": str,
    "profiles": dict,
    "profilesError": str,
}


def test_probe_reports_the_interpreter_and_pytest():
    info = doctor_probe.probe()
    assert set(info) <= set(KEYS)
    for key, value in info.items():
        assert isinstance(value, KEYS[key]), key
    assert info["version"] == platform.python_version()
    assert info["executable"] == sys.executable
    assert info["pytest"] == pytest.__version__
    assert "pytestError" not in info
    assert info["tooOld"] is False
    assert info["minPython"] == "3.9"
    assert set(info["profiles"]) == {"hermetic", "strict"}
    for reasons in info["profiles"].values():
        assert isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)


@pytest.mark.skipif(
    platform.machine() not in doctor_probe.LANDLOCK_CREATE_RULESET,
    reason="no landlock_create_ruleset number known for this machine",
)
def test_landlock_abi_is_the_kernels_answer():
    # A version >= 1, or -1 when the kernel has Landlock off (ENOSYS,
    # EOPNOTSUPP): never 0, which the call cannot return.
    abi = doctor_probe.landlock_abi()
    assert isinstance(abi, int)
    assert abi == -1 or abi >= 1
    assert doctor_probe.probe()["landlockAbi"] == abi


def test_landlock_is_not_probed_on_an_unknown_machine():
    assert doctor_probe.landlock_abi("pdp11") is None


def test_pytest_missing_is_named_not_raised(tmp_path):
    # An interpreter without pytest: the probe names the error and still
    # answers the rest (doctor prints "pytest: MISSING (...)").
    (tmp_path / "pytest.py").write_text("raise ImportError('no pytest here')\n")
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
        "from kiln_harness import doctor_probe; doctor_probe.main()"
    )
    harness = os.path.join(os.path.dirname(__file__), os.pardir)
    out = subprocess.run(
        [sys.executable, "-c", script, harness, str(tmp_path)],
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    info = json.loads(out)
    assert "pytest" not in info
    assert info["pytestError"] == "ImportError: no pytest here"
