"""Run a function in a forked child and get its result back (the sandbox
tests change the process for good: Landlock, seccomp, namespaces, rlimits
cannot be undone, so each runs in a child that then exits)."""

import json
import os
import traceback


# The child's end of the result pipe (a test that closes fds must keep it).
RESULT = {"fd": None}


def in_child(fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        RESULT["fd"] = w
        try:
            out = {"ok": True, "value": fn()}
        except BaseException as exc:  # reported to the parent, which fails the test
            out = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc), "tb": traceback.format_exc()}
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), "child died: status %#x" % status
    out = json.loads(b"".join(chunks) or b'{"ok": false, "error": "no result"}')
    assert out["ok"], out.get("tb") or out["error"]
    return out["value"]


def errno_of(fn):
    """The errno fn() raised as OSError, or 0 when it succeeded."""
    try:
        fn()
    except OSError as exc:
        return exc.errno
    return 0
