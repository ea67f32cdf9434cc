#!/usr/bin/env python3
"""Issue 16's two worker micro-figures, measured from outside and from the run record.

- fork requested -> first test started: per worker, `worker:spawn-requested`
  (.kiln/runs/latest/workers.jsonl, Node's clock) to the `start` of the first
  report that worker sent (results.jsonl, the worker's clock: both are wall
  time on one machine);
- worker private memory (USS = Private_Clean + Private_Dirty of
  /proc/<pid>/smaps_rollup), sampled every few ms while the run goes; the
  figure is each worker's last sample, its peak in practice (a worker only
  grows).

Sampling costs CPU on a 2-core machine, so latency comes from runs that are
not sampled, USS from runs that are. Builds named on the command line
(`--kiln base=/tmp/base/dist/cli/main.js --kiln new=dist/cli/main.js`) run
in alternating order each round; the figures are medians over rounds.

    python3 bench/micro/fork_first_test.py --rounds 9 \
        --kiln base=/tmp/base/dist/cli/main.js --kiln new=dist/cli/main.js

`--breakdown` prints, for one sampled run per build, which mappings hold a
worker's private memory (from /proc/<pid>/smaps at its last sample).
`--pages` runs each build once more with a conftest that makes every worker,
after its 200th test, charge its private pages to the Python objects on them
(page_owners.py), and prints the types that own the most.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def generate(root, files, tests_per_file):
    """The trivial suite: one-line tests (bench/generators/trivial.ts's shape)."""
    os.makedirs(os.path.join(root, "tests"), exist_ok=True)
    with open(os.path.join(root, "pyproject.toml"), "w") as f:
        f.write("[tool.pytest.ini_options]\n")
    for i in range(files):
        with open(os.path.join(root, "tests", f"test_trivial_{i}.py"), "w") as f:
            for t in range(tests_per_file):
                f.write(f"def test_{t}(): assert {t} + {i} == {t + i}\n")


# A worker (not the zygote, which replays every test too) reports once.
PAGES_CONFTEST = """
import os, sys
_ZYGOTE = os.getpid()
_done = [0]
def pytest_runtest_logfinish(nodeid, location):
    if os.getpid() == _ZYGOTE:
        return
    _done[0] += 1
    if _done[0] == {after}:
        sys.path.insert(0, {here!r})
        import page_owners
        page_owners.report(os.path.join({out!r}, "pages-%d.json" % os.getpid()))
"""


def pages(name, kiln, project, python, workers, env):
    out = tempfile.mkdtemp(prefix="kiln-pages-")
    conftest = os.path.join(project, "conftest.py")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(conftest, "w") as f:
        f.write(PAGES_CONFTEST.format(after=200, here=here, out=out))
    try:
        run_once(kiln, project, python, workers, False, False, env)
    finally:
        os.unlink(conftest)
    for entry in sorted(os.listdir(out)):
        with open(os.path.join(out, entry)) as f:
            data = json.load(f)
        top = ", ".join(f"{t} {n * 4} KiB" for t, n in data["by_type"][:10])
        print(f"[{name}] worker after 200 tests: {data['private_pages'] * 4} KiB private; {top}")
    shutil.rmtree(out, ignore_errors=True)


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(")") + 2 :].split()
    return int(rest[1])  # ppid


def _uss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    total = 0
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total


def _private_by_mapping(pid):
    """{mapping name: private kB} from /proc/<pid>/smaps."""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    out = {}
    name = None
    for line in lines:
        head = line.split(None, 1)[0]
        if "-" in head and not head.endswith(":"):
            parts = line.split()
            name = parts[5] if len(parts) > 5 else f"[anon {parts[0]}]"
            if name.startswith("[anon"):
                name = "[anon]"
        elif head in ("Private_Clean:", "Private_Dirty:"):
            out[name] = out.get(name, 0) + int(line.split()[1])
    return out


class Sampler(threading.Thread):
    """Finds the zygote (a child of the CLI) and its forks; samples their USS."""

    def __init__(self, root_pid, interval, breakdown):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.breakdown = breakdown
        self.done = threading.Event()
        self.uss = {}  # worker pid -> last USS kB
        self.maps = {}  # worker pid -> last private-by-mapping
        self.zygote_uss = None

    def run(self):
        zygote = None
        while not self.done.is_set():
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
            parents = {p: _stat(p) for p in pids}
            if zygote is None:
                kids = [p for p, pp in parents.items() if pp == self.root_pid]
                pythons = [p for p in kids if "python" in _comm(p)]
                zygote = pythons[0] if pythons else None
            if zygote is not None:
                z = _uss_kb(zygote)
                if z is not None:
                    self.zygote_uss = z
                for p, pp in parents.items():
                    if pp != zygote:
                        continue
                    value = _uss_kb(p)
                    if value:  # a zombie's smaps_rollup is empty
                        self.uss[p] = value
                    if self.breakdown:
                        maps = _private_by_mapping(p)
                        if maps:
                            self.maps[p] = maps
            time.sleep(self.interval)


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def worker_pids(project):
    """The pids the run record names as workers (the sampler also sees, say,
    the helpers a pyenv shim runs before it execs the interpreter)."""
    path = os.path.join(project, ".kiln", "runs", "latest", "workers.jsonl")
    return {e["pid"] for e in _jsonl(path) if e.get("event") == "worker:spawned"}


def fork_latencies(project):
    """[ms] per worker: spawn requested -> its first report's start."""
    run_dir = os.path.join(project, ".kiln", "runs", "latest")
    requested = {}
    for event in _jsonl(os.path.join(run_dir, "workers.jsonl")):
        if event.get("event") == "worker:spawn-requested":
            requested[event["workerId"]] = event["at"]
    first = {}
    for result in _jsonl(os.path.join(run_dir, "results.jsonl")):
        wid, start = result.get("workerId"), result.get("start")
        if wid is None or start is None:
            continue
        first[wid] = min(first.get(wid, float("inf")), start * 1000.0)
    return [first[w] - requested[w] for w in sorted(first) if w in requested]


def run_once(kiln, project, python, workers, sample, breakdown, env):
    argv = ["node", kiln, "test", "-n", str(workers), "-q"]
    if python:
        argv += ["--python", python]
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    sampler = None
    if sample:
        sampler = Sampler(proc.pid, 0.003, breakdown)
        sampler.start()
    out, _ = proc.communicate()
    wall = (time.perf_counter() - started) * 1000.0
    if sampler is not None:
        sampler.done.set()
        sampler.join()
    if proc.returncode != 0:
        sys.stderr.write(out.decode(errors="replace"))
        raise SystemExit(f"kiln exited {proc.returncode}")
    return wall, sampler


def _loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kiln", action="append", default=[], help="NAME=path/to/dist/cli/main.js")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--python", default=None, help="passed as kiln's --python")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--files", type=int, default=14)
    ap.add_argument("--tests-per-file", type=int, default=40)
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--pages", action="store_true")
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "dist", "cli", "main.js")
    builds = [[n, os.path.abspath(p)] for n, p in (k.split("=", 1) for k in args.kiln)]
    builds = builds or [["this", os.path.abspath(default)]]

    tmp = tempfile.mkdtemp(prefix="kiln-fork-bench-")
    env = dict(os.environ)
    env.pop("KILN_DEBUG", None)
    figures = {name: {"latency": [], "uss": [], "wall": []} for name, _ in builds}
    try:
        projects = {}
        for name, _ in builds:
            projects[name] = os.path.join(tmp, name)
            generate(projects[name], args.files, args.tests_per_file)
        load_before = _loadavg()
        for name, kiln in builds:  # warm-up: page cache, .pyc, registry pack
            run_once(kiln, projects[name], args.python, args.workers, False, False, env)
        for r in range(args.rounds):
            order = builds if r % 2 == 0 else builds[::-1]
            for name, kiln in order:
                project = projects[name]
                wall, _ = run_once(kiln, project, args.python, args.workers, False, False, env)
                figures[name]["latency"].extend(fork_latencies(project))
                figures[name]["wall"].append(wall)
                breakdown = args.breakdown and r == 0
                _, sampler = run_once(
                    kiln, project, args.python, args.workers, True, breakdown, env
                )
                workers = worker_pids(project)
                figures[name]["uss"].extend(
                    v / 1024.0 for pid, v in sampler.uss.items() if pid in workers
                )
                if breakdown:
                    for pid, maps in sampler.maps.items():
                        if pid not in workers:
                            continue
                        top = sorted(maps.items(), key=lambda kv: -kv[1])[:12]
                        print(f"[{name}] worker {pid}: private kB by mapping")
                        for mapping, kb in top:
                            if kb:
                                print(f"    {kb:7d}  {mapping}")
        load_after = _loadavg()
        if args.pages:
            for name, kiln in builds:
                pages(name, kiln, projects[name], args.python, args.workers, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    tests = args.files * args.tests_per_file
    print(
        f"{tests} trivial tests, -n {args.workers}, {args.rounds} alternating rounds; "
        f"load {load_before} -> {load_after}"
    )
    print(f"{'build':<10} {'fork->1st test p50 ms':>22} {'min-max':>14} "
          f"{'worker USS p50 MiB':>19} {'min-max':>12} {'wall p50 s':>11}")
    for name, _ in builds:
        f = figures[name]
        lat, uss = f["latency"], f["uss"]
        print(
            f"{name:<10} {statistics.median(lat):22.1f} {min(lat):6.1f}-{max(lat):<7.1f}"
            f" {statistics.median(uss):19.2f} {min(uss):5.2f}-{max(uss):<6.2f}"
            f" {statistics.median(f['wall']) / 1000:11.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load": [load_before, load_after], "figures": figures}, f, indent=1)


if __name__ == "__main__":
    main()
