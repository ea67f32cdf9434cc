"""Import cost of N generated modules: warm .pyc vs no __pycache__ vs Kiln's pack.

Each measurement runs in a fresh interpreter (so nothing is already in
sys.modules) and times only the import loop. Prints one JSON object.

usage: import_bench.py WORKDIR HARNESS_DIR [--modules 500] [--body trivial|real] [--rounds 5]
"""

import argparse
import json
import marshal
import os
import shutil
import statistics
import struct
import subprocess
import sys
import textwrap

REAL_BODY = textwrap.dedent(
    '''
    """generated module"""
    import math
    from dataclasses import dataclass

    @dataclass
    class Item{i}:
        x: int
        y: float = 0.5

        def score(self) -> float:
            return math.sqrt(self.x * self.x + self.y) + {i}

    def compute_{i}(n: int) -> int:
        total = 0
        for k in range(n):
            total += (k * {i}) % 7
        return total

    TABLE_{i} = {{k: str(k) * 3 for k in range(20)}}
    '''
)


# Compile-heavy, execution-light: 40 function definitions. Executing the body
# only binds functions, so the timing is the import machinery plus getting
# the code object (the "module body excluded" measure); compiling it from
# source is what a missing __pycache__ costs.
DEFS_BODY = "\n".join(
    textwrap.dedent(
        f'''
        def f{{i}}_{k}(a, b=2, *rest, **kw):
            total = 0
            for x in range(a):
                if x % {k + 2} == 0 and x not in rest:
                    total += x * b
                elif kw.get("neg"):
                    total -= x
                else:
                    total ^= x
            return total, [y * {k} for y in rest if y], {{"k": {k}, "a": a}}
        '''
    )
    for k in range(40)
)


def generate(root, count, body):
    shutil.rmtree(root, ignore_errors=True)
    names = []
    for p in range(count // 50 or 1):
        pkg = os.path.join(root, "benchpkg", f"p{p}")
        os.makedirs(pkg, exist_ok=True)
        open(os.path.join(root, "benchpkg", "__init__.py"), "w").close()
        open(os.path.join(pkg, "__init__.py"), "w").close()
        for m in range(50):
            i = p * 50 + m
            if i >= count:
                break
            template = {"trivial": "X = 1\n", "real": REAL_BODY, "defs": DEFS_BODY}[body]
            text = template.replace("{i}", str(i)) if body == "defs" else template.format(i=i)
            with open(os.path.join(pkg, f"m{i}.py"), "w") as f:
                f.write(text)
            names.append(f"benchpkg.p{p}.m{i}")
    return names


def write_pack(root, pack_path):
    files, dirs, blobs, offset = {}, [], [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        dirs.append(os.path.abspath(dirpath))
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.abspath(os.path.join(dirpath, name))
                with open(path, "rb") as f:
                    blob = marshal.dumps(compile(f.read(), path, "exec", dont_inherit=True))
                files[path] = [offset, len(blob), 0]
                blobs.append(blob)
                offset += len(blob)
    index = json.dumps({"version": 1, "files": files, "dirs": dirs, "foreign": []}).encode()
    with open(pack_path, "wb") as f:
        f.write(struct.pack("<I", len(index)) + index + b"".join(blobs))


PROBE = """
import importlib, json, os, resource, sys, time
names = json.load(open(sys.argv[1])); mode = sys.argv[2]
sys.path.insert(0, os.getcwd())
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode == "pack":
    sys.path.insert(0, sys.argv[4])
    from kiln_harness.loader import install
    install(sys.argv[3])
if mode == "nopyc":
    sys.dont_write_bytecode = True
t = time.perf_counter()
for n in names:
    importlib.import_module(n)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0}))
"""


def run(workdir, names, mode, pack="", harness=""):
    names_file = os.path.join(workdir, "names.json")
    with open(names_file, "w") as f:
        json.dump(names, f)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, names_file, mode, pack, os.path.abspath(harness) if harness else ""],
        cwd=workdir, capture_output=True, text=True,
        # A warm __pycache__ is the baseline: the environment must not forbid writing it.
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    if out.returncode != 0:
        raise SystemExit(f"import probe ({mode}) failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def clear_pycache(root):
    for dirpath, dirnames, _ in os.walk(root):
        if "__pycache__" in dirnames:
            shutil.rmtree(os.path.join(dirpath, "__pycache__"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir")
    ap.add_argument("harness")
    ap.add_argument("--modules", type=int, default=500)
    ap.add_argument("--body", choices=["trivial", "defs", "real"], default="defs")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    names = generate(a.workdir, a.modules, a.body)
    pack = os.path.join(a.workdir, "bench.pack")
    write_pack(a.workdir, pack)
    samples = {"warm_pyc": [], "no_pycache": [], "kiln_pack": []}
    rss = {}
    run(a.workdir, names, "pyc")  # writes the .pyc files for the warm case
    for _ in range(a.rounds):  # alternate, so noise hits all three alike
        r = run(a.workdir, names, "pyc")
        samples["warm_pyc"].append(r["seconds"])
        rss["warm_pyc"] = r["maxrss_kb"]
        clear_pycache(a.workdir)
        r = run(a.workdir, names, "nopyc")
        samples["no_pycache"].append(r["seconds"])
        r = run(a.workdir, names, "pack", pack, a.harness)
        samples["kiln_pack"].append(r["seconds"])
        rss["kiln_pack"] = r["maxrss_kb"]
        run(a.workdir, names, "pyc")  # restore the warm .pyc for the next round
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(json.dumps({
        "modules": len(names), "body": a.body, "rounds": a.rounds,
        "median_seconds": med,
        "per_module_us": {k: v / len(names) * 1e6 for k, v in med.items()},
        "ratio_pack_vs_warm_pyc": med["kiln_pack"] / med["warm_pyc"],
        "speedup_pack_vs_no_pycache": med["no_pycache"] / med["kiln_pack"],
        "maxrss_growth_kb": rss,
        "pack_bytes": os.path.getsize(pack),
    }))


if __name__ == "__main__":
    main()
