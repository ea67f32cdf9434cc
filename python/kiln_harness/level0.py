"""Level 0 of the zygote tree: the interpreter, pytest, this harness and the
modules the project's last run imported from outside the project, held warm
by the daemon (daemon.py; DESIGN.md section 7). A run's zygote is a fork of
it that then takes the path a cold zygote takes from its hello on
(zygote.serve), so what a test or a plugin sees is what a cold start gives.

Only what a cold start would give is forked: a request whose interpreter,
environment or installed files differ from what level 0 was built with is
refused (the run starts cold and says why), and level 0 is rebuilt. Nothing
is patched in place.

Level 1 (level1.py, level1_server.py) is a fork of this process that also
holds the project's own modules; `fork_run` is what it calls too.
"""

import hashlib
import importlib
import importlib.machinery
import os
import sys
import threading
import warnings

# Variables a shell changes between two commands of the same session; a
# difference in any other is a reason to start cold (a module may read the
# environment at import: level 0 imported with its own).
# Also the two `kiln watch` sets for its terminal (watch-command.ts), as its
# runs write into pipes: pytest reads PY_COLORS when it makes its
# TerminalWriter (_pytest/_io/terminalwriter.py should_do_markup) and
# shutil.get_terminal_size reads COLUMNS on each call, both in the run's
# zygote after the fork, where fork_run sets them. (A module that read them
# at import in level 0 would keep the daemon's values: the one exception.)
VOLATILE_ENV = frozenset(("PWD", "OLDPWD", "SHLVL", "_", "PY_COLORS", "COLUMNS"))


# Learned modules level 0 never imports, with the reason. GNU readline
# initializes itself from the process's stdin and terminal when the module is
# imported (CPython Modules/readline.c setup_readline); level 0's stdin is
# /dev/null, a run's may be a terminal, where pdb then uses it.
NEVER_PRELOADED = {"readline": "binds to the terminal it is imported under"}


def env_digest(env):
    """{name: a hash of its value}: what the daemon's configuration carries of
    its environment (src/daemon/daemon-start.ts makes the same), so that no
    value shows in its command line (ps). sha256 of the UTF-8 value, 16 hex."""
    return {
        k: hashlib.sha256(v.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        for k, v in env.items()
    }


class Rebuild(Exception):
    """A learned module must stay out of level 0; start again without it."""

    def __init__(self, name, reason):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def module_records(path):
    """The records of a run's modules.jsonl (records.ts), in import order;
    lines that are not JSON objects are skipped, an unreadable file is empty.
    The one reader for level 0's and level 1's lists."""
    import json

    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
    except OSError:
        return []
    return records


def learned_modules(path):
    """The modules the last run imported from outside the project, in import
    order: the "installed" lines of its modules.jsonl (records.ts)."""
    return [
        str(record.get("module"))
        for record in module_records(path)
        if record.get("source") == "installed"
    ]


def _under(path, dirs):
    """Whether path is one of dirs or inside one."""
    real = os.path.join(os.path.realpath(path), "")
    return any(real.startswith(os.path.join(os.path.realpath(d), "")) for d in dirs)


def latest_record(runs_dir):
    """modules.jsonl of the run `<runs_dir>/latest` names (a symlink, or a file
    holding the run's name: src/events/run-dir.ts), or None."""
    latest = os.path.join(runs_dir, "latest")
    try:
        if os.path.isfile(latest) and not os.path.islink(latest):
            with open(latest, encoding="utf-8") as f:
                latest = os.path.join(runs_dir, f.read().strip())
    except OSError:
        return None
    path = os.path.join(latest, "modules.jsonl")
    return path if os.path.isfile(path) else None


def record_stamp(path):
    """What identifies a run record's version: its path and mtime."""
    if path is None:
        return None
    try:
        return (path, os.stat(path).st_mtime_ns)
    except OSError:
        return None


def candidates(names, excluded, project_dirs):
    """The learned modules level 0 would import now, in order: not imported
    yet, not excluded, and still found outside the project."""
    for name in names:
        top = name.partition(".")[0]
        if name in sys.modules or name in excluded or top in excluded or top in NEVER_PRELOADED:
            continue
        if top not in sys.modules:
            spec = importlib.machinery.PathFinder.find_spec(top, sys.path)
            if spec is None and top not in sys.builtin_module_names:
                # Not installed for this interpreter (the record may come from
                # a run with another one): nothing to import, nothing to rebuild.
                continue
            origin = getattr(spec, "origin", None) if spec is not None else None
            locations = list(getattr(spec, "submodule_search_locations", None) or [])
            if any(_under(p, project_dirs) for p in ([origin] if origin else []) + locations):
                continue  # now a project module: never held warm
        yield name


def preload(names, excluded, project_dirs):
    """Import each candidate; raises Rebuild for the first one that cannot be
    held warm the way a cold run would import it: it fails to import, warns
    at import (pytest would have shown that warning in the run's summary), or
    starts a thread (level 0 must stay single-threaded to fork, forking.py)."""
    for name in candidates(names, excluded, project_dirs):
        if name in sys.modules:
            continue  # a module imported before it imported this one
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                importlib.import_module(name)
            except BaseException as exc:  # noqa: B036 - SystemExit at import too
                raise Rebuild(name, f"import failed ({type(exc).__name__}: {exc})") from None
        if caught:
            raise Rebuild(name, f"warns when imported ({caught[0].category.__name__})")
        if threading.active_count() > 1:
            raise Rebuild(name, "starts a thread when imported")


def module_files(project_dirs):
    """{file: (mtime_ns, size, inode)} of every loaded module outside the project
    (an editor that saves by rename makes a new inode, whatever the mtime
    granularity)."""
    files = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or file in files or _under(file, project_dirs):
            continue
        try:
            st = os.stat(file)
        except OSError:
            files[file] = None
            continue
        files[file] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return files


def installed_state(project_dirs):
    """{what: hash} of the interpreter and of what is installed on sys.path:
    each directory's entries (a new or removed distribution, .pth file or
    module), with the mtime of each distribution's metadata (a reinstall).
    Plugins load through entry points in that metadata, so a changed plugin
    list changes it too."""
    exe = os.path.realpath(sys.executable)
    state = {"interpreter": f"{sys.executable}\0{exe}\0{os.stat(exe).st_mtime_ns}"}
    for entry in sys.path:
        if not entry or not os.path.isdir(entry) or _under(entry, project_dirs):
            continue
        h = hashlib.sha256()
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        for name in names:
            h.update(name.encode("utf-8", "surrogateescape") + b"\0")
            if name.endswith((".dist-info", ".egg-info", ".pth", ".egg-link")):
                try:
                    h.update(str(os.stat(os.path.join(entry, name)).st_mtime_ns).encode())
                except OSError:
                    pass
        state[entry] = h.hexdigest()
    return state


def fingerprint_of(state):
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(f"{key}\0{state[key]}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


class Level0:
    """The warm state and the checks made before each fork."""

    def __init__(self, python, project_dirs, base_modules, preloaded, env_digest):
        self.python = python
        self.project_dirs = project_dirs
        self.base_modules = base_modules
        self.preloaded = preloaded
        # The environment `kiln daemon start` gave the interpreter command
        # (env_digest): what a cold `kiln test` would give it. Python's own
        # os.environ may differ (a pyenv shim edits PATH before it execs the
        # interpreter; a preloaded module may set a variable at import), and
        # those differences, which a cold start gets too, stay in the fork.
        self.env_digest = env_digest
        self.cwd = os.getcwd()
        # The signal handlers before the daemon's own (daemon_server.py):
        # what the fork restores.
        self.handlers = {}
        self.installed = installed_state(project_dirs)
        self.fingerprint = fingerprint_of(self.installed)
        self.files = module_files(project_dirs)
        self.tops = sorted({n.partition(".")[0] for n in sys.modules if n not in base_modules})

    def refusal(self, python, cwd, env):
        """Why a run with this interpreter, directory and environment must not
        fork from here, or None. A stale level 0 also says `stale`."""
        if python != self.python:
            return f"it runs {self.python}, this run {python}", False
        digest = env_digest(env)
        differ = sorted(
            k
            for k in set(digest) | set(self.env_digest)
            if k not in VOLATILE_ENV and digest.get(k) != self.env_digest.get(k)
        )
        if differ:
            shown = ", ".join(differ[:5]) + (", ..." if len(differ) > 5 else "")
            return (
                f"the environment differs from the daemon's ({shown}); restart it from this "
                "shell with `kiln daemon start`",
                False,
            )
        installed = installed_state(self.project_dirs)
        if installed != self.installed:
            changed = sorted(k for k in set(installed) | set(self.installed) if installed.get(k) != self.installed.get(k))
            return f"{changed[0]} changed since it started; it restarts", True
        for file, seen in self.files.items():
            try:
                st = os.stat(file)
                now = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                now = None
            if now != seen:
                return f"{file} changed since it was imported; it restarts", True
        # A module in the run's directory would shadow the installed one a
        # cold start imports (sys.path[0] is the working directory).
        if os.path.realpath(cwd) != os.path.realpath(self.cwd):
            for top in self.tops:
                if importlib.machinery.PathFinder.find_spec(top, [cwd]) is not None:
                    return f"{top} in {cwd} shadows the module the daemon imported", False
        return None, False
