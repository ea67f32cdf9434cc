"""The held collection's keying (held.py, held_server.py): what it records
while pytest configures and collects, and what makes it stale. The whole
path (a daemon, real runs) is tests/e2e/daemon-held.test.ts."""

import os
import tempfile

from kiln_harness.held import Recorder, listing, mismatch
from kiln_harness.held_server import run_key
from kiln_harness.level1 import sha256_file


def test_recorder_keeps_reads_and_listings_only_while_active(tmp_path):
    rec = Recorder()
    data = tmp_path / "params.json"
    rec.hook("open", (str(data), "r", 0))
    assert rec.opened == set()
    rec.active = True
    rec.hook("open", (str(data), "r", os.O_RDONLY))
    rec.hook("os.scandir", (str(tmp_path),))
    rec.hook("os.listdir", (None,))
    rec.hook("open", (str(tmp_path / "mod.cpython-311.pyc"), "rb", 0))
    assert rec.opened == {str(data)}
    assert rec.listed == {str(tmp_path), os.getcwd()}
    assert rec.refusal is None


def test_a_write_outside_the_temp_folder_refuses_holding(tmp_path):
    rec = Recorder()
    rec.active = True
    scratch = os.path.join(tempfile.gettempdir(), "capture-file")
    rec.hook("open", (scratch, "w+b", os.O_RDWR))
    rec.hook("open", (tempfile.gettempdir(), None, os.O_RDWR))  # O_TMPFILE opens the folder
    rec.hook("open", ("/dev/null", "w", os.O_WRONLY))
    assert rec.refusal is None
    project_file = "/srv/project/written.txt"
    rec.hook("open", (project_file, "a", os.O_WRONLY))
    assert rec.refusal == f"{project_file} was written during collection"


def test_mismatch_sees_an_edit_an_added_and_a_deleted_file(tmp_path):
    a = tmp_path / "test_a.py"
    a.write_text("def test_a(): pass\n")
    hashes = {str(a): sha256_file(str(a))}
    dirs = {str(tmp_path): listing(str(tmp_path))}
    assert mismatch(hashes, dirs) is None
    (tmp_path / "test_b.py").write_text("")
    assert mismatch(hashes, dirs) == f"{tmp_path} (its entries)"
    (tmp_path / "test_b.py").unlink()
    assert mismatch(hashes, dirs) is None
    a.write_text("def test_a(): assert 0\n")
    assert mismatch(hashes, dirs) == str(a)
    a.unlink()
    assert mismatch(hashes, dirs) == str(a)


def test_the_key_is_argv_env_cwd_and_stdio_kinds_not_the_shell_s_own_variables(tmp_path):
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    try:
        base = {
            "python": "/usr/bin/python3",
            "cwd": str(tmp_path),
            "env": {"PATH": "/bin", "SHLVL": "1", "PWD": "/a"},
            "hold": {"args": [], "workers": 2, "registry": True},
        }
        key = run_key(base, [null, w, w])
        same = dict(base, env={"PATH": "/bin", "SHLVL": "2", "PWD": "/b"})
        assert run_key(same, [null, w, w]) == key
        for changed in (
            dict(base, hold=dict(base["hold"], args=["-x"])),
            dict(base, env=dict(base["env"], PY_COLORS="1")),
            dict(base, cwd="/"),
            dict(base, python="/usr/bin/python3.12"),
        ):
            assert run_key(changed, [null, w, w]) != key
        # stdout and stderr apart (not one pipe): another terminal writer state.
        assert run_key(base, [null, w, null]) != key
    finally:
        for fd in (r, w, null):
            os.close(fd)
