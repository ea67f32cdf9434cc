"""Level 0's checks (kiln_harness/level0.py): what it learns, what it refuses
to hold warm, and when a fork would not be what a cold start gives."""

import json
import os
import sys
import uuid

import pytest

from kiln_harness.level0 import (
    NEVER_PRELOADED,
    Level0,
    Rebuild,
    env_digest,
    installed_state,
    learned_modules,
    preload,
)
from kiln_harness.run_fork import take_stdio


@pytest.fixture
def lib(tmp_path, monkeypatch):
    """A directory on sys.path for modules with unique names."""
    path = tmp_path / "lib"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))

    def module(source):
        name = "kl0_" + uuid.uuid4().hex[:8]
        (path / f"{name}.py").write_text(source)
        return name

    module.path = path
    return module


def test_learns_only_the_installed_lines(tmp_path):
    record = tmp_path / "modules.jsonl"
    lines = [
        {"module": "conftest", "path": "/p/conftest.py", "source": "registry", "at": 1},
        {"module": "json", "path": "/usr/lib/json/__init__.py", "source": "installed", "at": 2},
        {"module": "json.decoder", "path": "/usr/lib/json/decoder.py", "source": "installed", "at": 2},
    ]
    record.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    assert learned_modules(str(record)) == ["json", "json.decoder"]
    assert learned_modules(str(tmp_path / "missing.jsonl")) == []


def test_preloads_a_quiet_module(lib):
    name = lib("VALUE = 1\n")
    preload([name], {}, [])
    assert sys.modules[name].VALUE == 1


def test_a_module_that_warns_at_import_is_a_rebuild(lib):
    name = lib("import warnings\nwarnings.warn('old', DeprecationWarning)\n")
    with pytest.raises(Rebuild) as caught:
        preload([name], {}, [])
    assert caught.value.name == name
    assert caught.value.reason == "warns when imported (DeprecationWarning)"


def test_a_module_that_fails_or_starts_a_thread_is_a_rebuild(lib):
    broken = lib("raise RuntimeError('no')\n")
    with pytest.raises(Rebuild, match="import failed \\(RuntimeError: no\\)"):
        preload([broken], {}, [])
    threaded = lib(
        "import threading\n"
        "stop = threading.Event()\n"
        "thread = threading.Thread(target=stop.wait, daemon=True)\n"
        "thread.start()\n"
    )
    try:
        with pytest.raises(Rebuild, match="starts a thread"):
            preload([threaded], {}, [])
    finally:
        sys.modules[threaded].stop.set()
        sys.modules[threaded].thread.join()


def test_excluded_project_and_never_preloaded_modules_are_skipped(lib):
    warns = lib("import warnings\nwarnings.warn('old')\n")
    preload([warns], {warns: "warns"}, [])  # excluded: not imported, no Rebuild
    assert warns not in sys.modules
    inside = lib("VALUE = 2\n")
    preload([inside], {}, [str(lib.path)])  # now under the project: never held warm
    assert inside not in sys.modules
    assert "readline" in NEVER_PRELOADED


def test_a_module_not_installed_here_is_skipped_without_a_rebuild():
    preload(["kl0_not_installed_anywhere", "kl0_not_installed_anywhere.sub"], {}, [])
    assert "kl0_not_installed_anywhere" not in sys.modules


def test_installed_state_changes_with_a_new_entry_on_sys_path(lib):
    before = installed_state([])
    lib("VALUE = 3\n")
    assert installed_state([]) != before
    # A project directory's entries are the project's, not installed state.
    before = installed_state([str(lib.path)])
    lib("VALUE = 4\n")
    assert installed_state([str(lib.path)]) == before


def test_refuses_another_interpreter_or_environment_but_not_the_shell_s_own(tmp_path):
    env = dict(os.environ)
    level = Level0(sys.executable, [str(tmp_path)], set(sys.modules), 0, env_digest(env))
    assert level.refusal("/other/python", os.getcwd(), env) == (
        f"it runs {sys.executable}, this run /other/python",
        False,
    )
    reason, stale = level.refusal(sys.executable, os.getcwd(), dict(env, KL0_EXTRA="1"))
    assert reason.startswith("the environment differs from the daemon's (KL0_EXTRA)")
    assert not stale
    shell = dict(env, PWD="/elsewhere", SHLVL="7", _="/usr/bin/kiln")
    assert level.refusal(sys.executable, os.getcwd(), shell) == (None, False)


def test_a_module_file_changed_on_disk_makes_it_stale(lib, tmp_path):
    name = lib("VALUE = 5\n")
    preload([name], {}, [])
    level = Level0(sys.executable, [str(tmp_path / "project")], set(), 0, env_digest(os.environ))
    (lib.path / f"{name}.py").write_text("VALUE = 6\n")
    reason, stale = level.refusal(sys.executable, os.getcwd(), dict(os.environ))
    assert stale
    assert reason.endswith("changed since it was imported; it restarts")


def test_takes_its_own_stdio_through_pidfd_getfd():
    fds, reason = take_stdio(os.getpid())
    assert reason is None
    try:
        for n, fd in zip((0, 1, 2), fds):
            assert os.path.sameopenfile(fd, n)
    finally:
        for fd in fds:
            os.close(fd)
