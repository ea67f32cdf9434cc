#!/usr/bin/env python3
"""Issue 12's "strict worker ready" figure: fork plus sandbox, per worker.

For each profile, a fresh process plays the zygote: it imports pytest (so
the fork copies a realistic page table), prepares the profile once
(kiln_harness.sandbox.prepare: namespaces, seccomp program) and then forks
workers one after another. Each worker applies what a Kiln worker applies
(WorkerSandbox.enter: its mount namespace, private /tmp and /proc, its temp
dir; WorkerSandbox.lock: rlimits, fd closing, NO_NEW_PRIVS, Landlock,
seccomp) and writes one byte on a pipe. "ready" is fork() called in the
parent -> that byte read, on the parent's clock; enter and lock are timed
inside the worker. Prints p50/p99 in milliseconds.

    python3 bench/micro/sandbox_ready.py [--workers 300] [--python PY]

Run it as root or as any user with unprivileged user namespaces.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, os.pardir, os.pardir, "python")

# src/sandbox/profiles.ts's STRICT_DEFAULT_LIMITS.
STRICT_LIMITS = {"addressSpaceMb": 1024, "processes": 60, "fileSizeMb": 1, "openFiles": 256, "cpuSeconds": 5}


def percentile(values, p):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def zygote(profile, workers):
    """The child process: prepare once, fork `workers` times, print JSON."""
    sys.path.insert(0, HARNESS)
    import gc
    import struct
    import tempfile

    import pytest  # noqa: F401  (the zygote's size, as in a real run)

    from kiln_harness.forking import die_with_parent
    from kiln_harness.sandbox import prepare

    scratch = tempfile.mkdtemp(prefix="kiln-bench-sandbox-")
    t = time.perf_counter()
    sandbox = prepare(
        {"profile": profile, "limits": STRICT_LIMITS if profile == "strict" else {}, "projectPaths": [os.getcwd()]},
        scratch,
        [],
    )
    prepare_ms = (time.perf_counter() - t) * 1000
    ready, enter, lock = [], [], []
    for i in range(workers):
        r, w = os.pipe()
        gc.freeze()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            die_with_parent()
            a = time.perf_counter()
            if sandbox is not None:
                sandbox.enter(i)
            b = time.perf_counter()
            if sandbox is not None:
                sandbox.lock({w})
            c = time.perf_counter()
            os.write(w, struct.pack("dd", b - a, c - b))
            os._exit(0)
        os.close(w)
        data = os.read(r, 16)
        ready.append((time.perf_counter() - t0) * 1000)
        os.close(r)
        os.waitpid(pid, 0)
        e, k = struct.unpack("dd", data)
        enter.append(e * 1000)
        lock.append(k * 1000)
    print(json.dumps({"prepare": prepare_ms, "ready": ready, "enter": enter, "lock": lock}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--zygote", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.zygote:
        zygote(args.zygote, args.workers)
        return
    print(f"sandbox_ready: {args.workers} workers per profile, {args.python}, load {os.getloadavg()[0]:.2f}")
    print(f"{'profile':<10} {'prepare':>9} {'ready p50':>10} {'ready p99':>10} {'enter p50':>10} {'lock p50':>9}")
    for profile in ("none", "hermetic", "strict"):
        out = subprocess.run(
            [args.python, __file__, "--zygote", profile, "--workers", str(args.workers)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{profile:<10} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout)
        print(
            f"{profile:<10} {r['prepare']:>7.2f}ms {percentile(r['ready'], 50):>8.2f}ms "
            f"{percentile(r['ready'], 99):>8.2f}ms {percentile(r['enter'], 50):>8.2f}ms "
            f"{percentile(r['lock'], 50):>7.2f}ms"
        )


if __name__ == "__main__":
    main()
