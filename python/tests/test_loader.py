"""The registry's finder gives modules the attributes importlib would.

Each scenario runs in a fresh interpreter twice, once importing normally and
once through a pack built from the same files, and compares what it saw.
"""

import json
import marshal
import os
import struct
import subprocess
import sys
import textwrap

import pytest

HARNESS = os.path.join(os.path.dirname(__file__), os.pardir)


def write_pack(root, pack_path, rewritten=()):
    files, dirs, blobs, offset = {}, [], [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        dirs.append(os.path.abspath(dirpath))
        for name in filenames:
            if not name.endswith(".py"):
                continue
            path = os.path.abspath(os.path.join(dirpath, name))
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec", dont_inherit=True)
            blob = marshal.dumps(code)
            files[path] = [offset, len(blob), 1 if name in rewritten else 0]
            blobs.append(blob)
            offset += len(blob)
    index = json.dumps({"version": 1, "files": files, "dirs": dirs, "foreign": []}).encode()
    with open(pack_path, "wb") as f:
        f.write(struct.pack("<I", len(index)) + index + b"".join(blobs))


PROBE = textwrap.dedent(
    """
    import importlib, importlib.resources, inspect, json, os, sys
    sys.path.insert(0, os.getcwd())
    sys.dont_write_bytecode = True
    finder = None
    if len(sys.argv) > 1:
        sys.path.insert(0, {harness!r})
        from kiln_harness.loader import install
        finder = install(sys.argv[1])
    out = {{}}
    import pkg.sub.leaf as leaf, pkg.cyc_a, nsp.inner, pkg
    for name in ["pkg", "pkg.sub", "pkg.sub.leaf", "pkg.cyc_a", "pkg.cyc_b", "nsp.inner"]:
        m = sys.modules[name]
        spec = m.__spec__
        out[name] = {{
            "file": m.__file__, "cached": m.__cached__, "package": m.__package__,
            "path": list(getattr(m, "__path__", []) or []), "spec_name": spec.name,
            "origin": spec.origin, "has_location": spec.has_location,
            "loader_is_sfl": isinstance(m.__loader__, importlib.machinery.SourceFileLoader),
            "parent": spec.parent,
        }}
    out["value"] = leaf.VALUE
    out["cycle"] = pkg.cyc_a.partner()
    out["source"] = inspect.getsource(leaf.func).strip()
    out["resource"] = importlib.resources.files("pkg").joinpath("data.txt").read_text()
    importlib.reload(leaf)
    out["reloaded"] = leaf.VALUE
    try:
        leaf.boom()
    except ZeroDivisionError:
        import traceback
        out["tb"] = [line.strip() for line in traceback.format_exc().splitlines()]
    out["served"] = finder.served if finder else 0
    print(json.dumps(out))
    """
)


@pytest.fixture
def project(tmp_path):
    def w(rel, text):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))

    w("pkg/__init__.py", "NAME = 'pkg'\n")
    w("pkg/data.txt", "resource text\n")
    w("pkg/sub/__init__.py", "")
    w("pkg/sub/leaf.py", "from .. import NAME\nVALUE = NAME + '-leaf'\ndef func():\n    return 1\ndef boom():\n    return 1 / 0\n")
    w("pkg/cyc_a.py", "from . import cyc_b\ndef partner():\n    return cyc_b.NAME\n")
    w("pkg/cyc_b.py", "from . import cyc_a\nNAME = 'b'\n")
    w("nsp/inner.py", "X = 1\n")  # PEP 420 namespace package: no __init__.py
    (tmp_path / "probe.py").write_text(PROBE.format(harness=os.path.abspath(HARNESS)))
    return tmp_path


def run_probe(root, *args):
    result = subprocess.run(
        [sys.executable, "probe.py", *args], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_attributes_match_importlib(project):
    plain = run_probe(project)
    write_pack(project, str(project / "run.pack"))
    served = run_probe(project, str(project / "run.pack"))
    assert served.pop("served") >= 5  # pkg, pkg.sub, leaf, cyc_a, cyc_b, nsp.inner (+ reload)
    plain.pop("served")
    assert served == plain
    assert "return 1 / 0" in served["tb"]  # tracebacks show source lines


def test_bad_blob_falls_back_to_source(project):
    pack = project / "run.pack"
    write_pack(project, str(pack))
    data = bytearray(pack.read_bytes())
    (n,) = struct.unpack_from("<I", data)
    index = json.loads(data[4 : 4 + n])
    off, length, _ = index["files"][str((project / "pkg/sub/leaf.py").resolve())]
    data[4 + n + off : 4 + n + off + length] = b"\x00" * length  # garbage code
    pack.write_bytes(bytes(data))
    out = run_probe(project, str(pack))
    assert out["value"] == "pkg-leaf"  # imported from source instead


def test_module_not_in_pack_is_found_normally(project):
    write_pack(project, str(project / "run.pack"))
    (project / "pkg" / "late.py").write_text("LATE = True\n")  # created after the pack
    code = "import sys, os; sys.path.insert(0, os.getcwd()); sys.path.insert(0, %r); " % os.path.abspath(
        HARNESS
    ) + "from kiln_harness.loader import install; install(sys.argv[1]); import pkg.late; print(pkg.late.LATE)"
    result = subprocess.run(
        [sys.executable, "-c", code, str(project / "run.pack")], cwd=project, capture_output=True, text=True
    )
    assert result.stdout.strip() == "True", result.stderr
