"""`kiln daemon`: one per project, holding level 0 of the zygote tree warm
(level0.py) and forking a run's zygote from it for each `kiln test`.

Started by `kiln daemon start` (src/daemon/start.ts) through boot.py, in its
own session, stdin /dev/null, stdout and stderr appended to .kiln/daemon.log.
argv[1] is its configuration (JSON). On fd 3 it writes one JSON line when it
is ready to serve (or why it cannot start), then closes it.

The daemon is level 0 itself: a single process, so SIGKILL leaves nothing
behind but the run zygotes it forked, each of which ends with its run (its
client's channel, and the daemon killing its process group when the
client's connection drops first). It stops by itself after an idle time, when
the project directory disappears, or when another daemon took its place.
"""

import json
import os
import sys

READY_FD = 3
# Learned modules left out before preloading gives up on the rest.
MAX_REBUILDS = 20


def main():
    config = json.loads(sys.argv[1])
    from .exit_codes import USAGE_ERROR
    from .zygote import _import_pytest

    # What a cold zygote imports before its hello besides pytest: its channel
    # is moved with fcntl and resource (protocol.move_out_of_the_way).
    import importlib

    for name in ("fcntl", "resource"):
        importlib.import_module(name)

    pytest, missing = _import_pytest()
    # What a cold zygote holds before its hello: modules:imported leaves them out.
    base = set(sys.modules)
    if missing is not None:
        _ready(
            config,
            {"ok": False, "error": f"pytest is not importable by {sys.executable}: {missing}"},
        )
        sys.exit(USAGE_ERROR)
    from .level0 import Level0, Rebuild, latest_record, learned_modules, preload, record_stamp

    project_dirs = [config["rootdir"], os.getcwd()]
    excluded = dict(config.get("excluded") or {})
    record = latest_record(config["runsDir"])
    names = learned_modules(record) if record else []
    if len(excluded) >= MAX_REBUILDS:
        names = []
    try:
        preload(names, excluded, project_dirs)
    except Rebuild as rebuild:
        # The module is half-imported, or left a warning or thread behind:
        # nothing can be taken out of a process, so start again without it.
        sys.stderr.write(f"kiln daemon: leaving {rebuild.name} out of level 0: {rebuild.reason}\n")
        excluded[rebuild.name] = rebuild.reason
        _reexec(config, excluded)
    # A module relearned last time that is still not in sys.modules removes
    # itself (or is replaced) when imported: it would rebuild level 0 after
    # every run.
    for name in config.pop("relearned", []):
        if name not in sys.modules:
            excluded[name] = "not in sys.modules after its import"
    import gc

    # What level 0 holds beyond what a cold zygote holds at its hello.
    preloaded = len(set(sys.modules) - base)
    level = Level0(config["python"], project_dirs, base, preloaded, config["envDigest"])
    # Every object level 0 holds goes to the permanent generation, so no
    # collection in a run's zygote touches (and copies) those pages.
    gc.collect()
    gc.freeze()
    from .daemon_server import DaemonServer

    server = DaemonServer(config, level, pytest, excluded, record_stamp(record))
    server.listen()
    _ready(
        config,
        {
            "ok": True,
            "pid": os.getpid(),
            "preloaded": preloaded,
            "excluded": sorted(excluded.items()),
        }
    )
    rebuild = server.serve()
    if rebuild:
        # The listening socket stays open across the exec: a `kiln test`
        # arriving meanwhile waits in its backlog instead of being refused.
        fd = server.listener.fileno()
        os.set_inheritable(fd, True)
        _reexec(
            dict(
                config,
                announced=True,
                listenFd=fd,
                runsServed=server.runs,
                relearned=server.relearned,
            ),
            excluded,
        )
    sys.exit(0)


def _ready(config, message):
    # After a rebuild (exec) fd 3 may be anything: it was closed once ready.
    if config.get("announced"):
        return
    try:
        os.write(READY_FD, (json.dumps(message) + "\n").encode())
        os.close(READY_FD)
    except OSError:
        pass  # a rebuild: the starter has long gone


def _reexec(config, excluded):
    config = dict(config, excluded=excluded)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(config["python"], [config["python"], *config["argv"], json.dumps(config)])
