"""Level 1's stash (kiln_harness/level1.py): what it holds, what it hashes,
and when it hands a held module over to a run. Each scenario runs in a fresh
interpreter (level 1 imports modules and installs an audit hook for good)."""

import json
import os
import subprocess
import sys
import textwrap

HARNESS = os.path.join(os.path.dirname(__file__), os.pardir)

CHILD = textwrap.dedent(
    """
    import importlib.machinery, json, os, sys
    from kiln_harness import level1

    root = sys.argv[1]
    scenario = sys.argv[2]

    class Finder:
        # What loader.KilnFinder offers spec_for: a cold path search, no rewriting.
        def __init__(self):
            self.loads = []
        def _locate(self, name, entries):
            spec = importlib.machinery.PathFinder.find_spec(name, entries)
            if spec is None or not spec.origin:
                return None
            return spec.origin, None
        def _pytest_rewrites(self, name, file):
            return False
        def note_load(self, name, path, source):
            self.loads.append(name)
        def find_spec(self, name, path=None, target=None):
            found = self._locate(name, sys.path if path is None else path)
            return None if found is None else stash.spec_for(self, name, found[0])

    stash, info = level1.build(
        [("pkg.a", os.path.join(root, "pkg", "a.py"))], [root]
    )
    out = {"held": sorted(stash.modules), "hashed": sorted(os.path.relpath(p, root) for p in info["hashes"])}
    out["skipped"] = info["skipped"]
    out["left"] = sorted(n for n in sys.modules if n.startswith("pkg."))
    if scenario == "warns":
        print(json.dumps(out))
        sys.exit(0)
    held_a = stash.modules["pkg.a"]
    stash.hide()
    out["hidden"] = [n for n in stash.modules if n in sys.modules]
    out["attr_b_after_hide"] = hasattr(stash.modules["pkg"], "b")
    sys.path.insert(0, root)
    finder = Finder()
    if scenario == "touched":
        st = os.stat(os.path.join(root, "pkg", "b.py"))
        os.utime(os.path.join(root, "pkg", "b.py"), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    if scenario == "shadowed":
        # A module earlier on sys.path than the held one: a cold import loads it.
        os.makedirs(os.path.join(root, "first", "pkg"))
        open(os.path.join(root, "first", "pkg", "__init__.py"), "w").close()
        with open(os.path.join(root, "first", "pkg", "a.py"), "w") as f:
            f.write("VALUE = 1")
        sys.path.insert(0, os.path.join(root, "first"))
    sys.meta_path.insert(0, finder)
    import pkg.a
    out["pkg_served"] = "pkg" in finder.loads
    out["same_object"] = pkg.a is held_a
    out["b_present"] = "pkg.b" in sys.modules
    out["value"] = pkg.a.VALUE
    out["loads"] = finder.loads
    print(json.dumps(out))
    """
)


def run(tmp_path, scenario):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "b.py").write_text("B = 2\n")
    (pkg / "data.txt").write_text("40\n")
    if scenario == "warns":
        (pkg / "w.py").write_text("import warnings\nwarnings.warn('old', DeprecationWarning)\n")
    (pkg / "a.py").write_text(
        ("import pkg.w\n" if scenario == "warns" else "")
        + "import os\n"
        "from pkg.b import B\n"
        "with open(os.path.join(os.path.dirname(__file__), 'data.txt')) as f:\n"
        "    VALUE = int(f.read()) + B\n"
    )
    env = dict(os.environ, PYTHONPATH=HARNESS, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), scenario],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_holds_the_modules_and_hashes_what_they_read(tmp_path):
    out = run(tmp_path, "plain")
    assert out["held"] == ["pkg", "pkg.a", "pkg.b"]
    # Each module's source, and the data file a.py read at import.
    assert out["hashed"] == ["pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/data.txt"]
    # A run starts with none of them imported, as a cold run does.
    assert out["hidden"] == []
    assert out["attr_b_after_hide"] is False


def test_hands_over_a_module_with_what_it_depends_on(tmp_path):
    out = run(tmp_path, "plain")
    assert out["pkg_served"] is True
    assert out["same_object"] is True
    assert out["b_present"] is True
    assert out["value"] == 42
    assert sorted(out["loads"]) == ["pkg", "pkg.a", "pkg.b"]


def test_a_dependency_whose_file_changed_is_not_handed_over(tmp_path):
    out = run(tmp_path, "touched")
    # pkg itself does not depend on b; a (which does) is imported afresh.
    assert out["pkg_served"] is True
    assert out["same_object"] is False
    assert "pkg.a" not in out["loads"]


def test_a_module_a_cold_import_would_not_load_is_not_handed_over(tmp_path):
    out = run(tmp_path, "shadowed")
    assert out["loads"] == []
    assert out["value"] == 1


def test_a_module_that_warns_at_import_is_not_held_nor_left_imported(tmp_path):
    out = run(tmp_path, "warns")
    assert out["skipped"] == {"pkg.a": "warns when imported (DeprecationWarning)"}
    # The run imports them itself, and shows the warning as a cold run does.
    assert out["left"] == []
    assert "pkg.a" not in out["held"] and "pkg.w" not in out["held"]


def test_files_match_names_a_changed_or_deleted_file(tmp_path):
    sys.path.insert(0, HARNESS)
    try:
        from kiln_harness import level1
    finally:
        sys.path.remove(HARNESS)
    f = tmp_path / "x.txt"
    f.write_text("1")
    hashes = {str(f): level1.sha256_file(str(f))}
    assert level1.files_match(hashes) is None
    f.write_text("2")
    assert level1.files_match(hashes) == str(f)
    f.unlink()
    assert level1.files_match(hashes) == str(f)
