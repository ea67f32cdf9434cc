"""Level 1 of the zygote tree: a fork of level 0 (level0.py) that has also
imported the project's own modules (not its test modules or conftests),
learned from the last run's modules.jsonl. A run's zygote forked from it gets
those modules without executing them again (DESIGN.md section 7).

Never stale, nothing patched in place:

* Level 1 is keyed by the content (sha256) of every file it read while
  importing: each module's source and any data file a module opened at import
  (seen through an audit hook, PEP 578). The daemon hashes them again before
  each fork (`files_match`); one that differs or is gone and the run forks
  from level 0 instead, and level 1 is rebuilt (a new fork of level 0) once
  no run is using it.
* A run forked from level 1 starts with none of them in sys.modules
  (`Stash.hide`): pytest's configuration and collection import as in a cold
  run, and the run's registry finder (loader.py) hands over a held module
  only when a cold import would load the same file (its own path search
  against the run's sys.path), pytest would not rewrite it, the file's stat is
  the one hashed, and every held module it depends on (imported while it was
  imported, or referenced by its globals) can be handed over as well, or
  already was. Otherwise the module is imported as in a cold run.

Test modules and conftests are not held: pytest imports them with its
assertion rewriting, under names that depend on its configuration (rootdir,
import mode), and fixtures are registered by its collection. pytest's
collection itself is not held either (see README "Daemon": its objects
belong to one Config, built from one argv, one terminal, one capture).
"""

import hashlib
import importlib
import importlib.util
import os
import sys
import threading
import time
import warnings

from .level0 import module_records
from .level1_deps import Importers, imported_names

# Set in a run's zygote forked from level 1; loader.KilnFinder consults it.
STASH = None


def _is_test_or_conftest(path):
    base = os.path.basename(path)
    return base == "conftest.py" or base.startswith("test_") or base.endswith("_test.py")


def project_modules(record_path, rootdir):
    """[(name, file)] of the project modules the last run loaded, in order:
    the registry/fallback lines of its modules.jsonl under the rootdir, test
    modules and conftests left out."""
    inside = os.path.join(os.path.realpath(rootdir), "")
    found = []
    for rec in module_records(record_path):
        if rec.get("source") == "installed":
            continue
        path = rec.get("path")
        name = rec.get("module")
        if not isinstance(path, str) or not isinstance(name, str):
            continue
        if not os.path.realpath(path).startswith(inside) or _is_test_or_conftest(path):
            continue
        found.append((name, path))
    return found


def _root_of(name, path):
    """The sys.path entry from which `name` loads `path`, or None."""
    parts = name.split(".")
    stem = path[: -len("/__init__.py")] if path.endswith("/__init__.py") else path[: -len(".py")]
    tail = os.sep.join(parts)
    if not stem.endswith(os.sep + tail):
        return None
    return stem[: -len(tail) - 1]


def sha256_file(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def files_match(hashes):
    """The first file whose content differs from `hashes` (or is gone), or None."""
    for path, digest in hashes.items():
        if sha256_file(path) != digest:
            return path
    return None


class _Reads:
    """Files opened while level 1 imports (audit event "open"), except
    importlib's own reads of module sources (they are hashed as modules)."""

    def __init__(self):
        self.active = False
        self.paths = set()

    def hook(self, event, args):
        if not self.active or event != "open":
            return
        path = args[0]
        if not isinstance(path, str) or (args[1] not in (None, "r", "rb") and args[1] is not None):
            return
        if sys._getframe(1).f_code.co_filename.startswith("<frozen importlib"):
            return
        self.paths.add(os.path.abspath(path))


def build(names, project_dirs):
    """Import the project modules `names` ([(name, file)]) in this process.

    Returns the Stash and what a run must know: {"hashes", "modules", "skipped"}.
    A module that fails or warns at import is not held (a cold run would
    report that); one that starts a thread makes level 1 impossible (it must
    stay single-threaded to fork): raises RuntimeError."""
    reads = _Reads()
    sys.addaudithook(reads.hook)
    skipped = {}
    order = []
    tainted = set()
    saved_path = list(sys.path)
    saved_flag = sys.dont_write_bytecode
    importers = Importers()
    sys.meta_path.insert(0, importers)
    # A cold run imports from the registry's pack and writes no __pycache__.
    sys.dont_write_bytecode = True
    try:
        for name, file in names:
            if name in sys.modules:
                continue
            root = _root_of(name, file)
            if root is None:
                skipped[name] = "its file does not match its name"
                continue
            if root not in sys.path:
                sys.path.insert(0, root)
            before = set(sys.modules)
            reads.active = True
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    importlib.import_module(name)
                    failed = None
                except BaseException as exc:  # noqa: B036 - SystemExit at import too
                    failed = f"import failed ({type(exc).__name__})"
            reads.active = False
            new = [n for n in sys.modules if n not in before]
            if threading.active_count() > 1:
                raise RuntimeError(f"{name} starts a thread when imported")
            if failed or caught:
                skipped[name] = failed or f"warns when imported ({caught[0].category.__name__})"
                tainted.update(new)
                continue
            order.extend(n for n in new if n not in order)
    finally:
        reads.active = False
        sys.meta_path.remove(importers)
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_flag
    # What a module that failed or warned imported must be imported again by
    # the run, which then shows the warning as a cold run would: out of
    # sys.modules (and of its package's attributes), never handed over.
    for name in tainted:
        module = sys.modules.pop(name, None)
        parent, _, child = name.rpartition(".")
        holder = sys.modules.get(parent)
        if module is not None and holder is not None and getattr(holder, child, None) is module:
            delattr(holder, child)
    stash = Stash.collect(order, tainted, importers.by, project_dirs)
    hashes = {}
    for path in sorted(set(stash.files.values()) | reads.paths):
        if os.path.isfile(path) and not path.endswith(".pyc"):
            hashes[path] = sha256_file(path)
    # The project's directories were searched with level 1's sys.path: a
    # run must search them again (a file added since is found).
    for key in list(sys.path_importer_cache):
        if any(os.path.join(key, "").startswith(os.path.join(d, "")) for d in project_dirs):
            del sys.path_importer_cache[key]
    return stash, {"hashes": hashes, "modules": len(stash.modules), "skipped": skipped}


def _inside(path, dirs):
    real = os.path.join(os.path.realpath(path), "")
    return any(real.startswith(os.path.join(os.path.realpath(d), "")) for d in dirs)


class Stash:
    """The project modules level 1 holds, and what each depends on."""

    def __init__(self, modules, files, stats, deps, order, keep_attrs):
        self.modules = modules  # name -> module
        # Each module's own spec (and so its loader): what it had in level 1.
        self.specs = {name: module.__spec__ for name, module in modules.items()}
        self.files = files  # name -> file
        self.stats = stats  # name -> (mtime_ns, size, ino)
        self.deps = deps  # name -> set of names (transitive, itself excluded)
        self.rank = {n: i for i, n in enumerate(order)}
        self.keep_attrs = keep_attrs  # (parent, child) set by the parent's own body
        self.finder = None
        self.served = []

    @classmethod
    def collect(cls, order, tainted, importer, project_dirs):
        modules, files, stats = {}, {}, {}
        for name in order:
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None)
            if name in tainted or not isinstance(file, str) or not file.endswith(".py"):
                continue
            if not _inside(file, project_dirs):
                continue
            st = os.stat(file)
            modules[name] = module
            files[name] = os.path.abspath(file)
            stats[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
        # A submodule stays an attribute of its package in a run only when
        # the package's own code imported it (a cold import of the package
        # sets it too); otherwise the import system sets it when the
        # submodule itself is imported.
        keep = set()
        for name in order:
            parent, _, child = name.rpartition(".")
            if parent and importer.get(name) == parent:
                keep.add((parent, child))
        triggered = {}
        for name, by in importer.items():
            triggered.setdefault(by, set()).add(name)
        direct = {}
        for name in order:
            if name not in modules:
                continue  # only held modules' dependencies matter (spec_for)
            module = sys.modules.get(name)
            refs = set(triggered.get(name, ()))
            for attr, value in list(vars(module).items()) if module is not None else ():
                try:
                    if isinstance(value, type(sys)):
                        owner = value.__name__
                        if owner == f"{name}.{attr}" and (name, attr) not in keep:
                            continue  # set by the submodule's own import, not by this module
                    else:
                        owner = getattr(value, "__module__", None)
                except Exception:
                    continue
                if isinstance(owner, str) and owner != name:
                    refs.add(owner)
            parent = name.rpartition(".")[0]
            if parent:
                refs.add(parent)
            refs.update(imported_names(module))
            # A project module it needs that is not held (it failed or warned
            # at import) makes it unservable: listed so spec_for sees it missing.
            direct[name] = {r for r in refs if r in modules or r in tainted}
        deps = {}
        for name in modules:
            seen, todo = set(), [name]
            while todo:
                for ref in direct.get(todo.pop(), ()):
                    if ref not in seen and ref != name:
                        seen.add(ref)
                        todo.append(ref)
            deps[name] = seen
        return cls(modules, files, stats, deps, order, keep)

    def hide(self):
        """In a run's zygote, before anything imports: none of the held
        modules is imported yet, as in a cold run."""
        for name in self.modules:
            sys.modules.pop(name, None)
        for name, module in self.modules.items():
            parent, _, child = name.rpartition(".")
            holder = self.modules.get(parent)
            if holder is not None and (parent, child) not in self.keep_attrs:
                if getattr(holder, child, None) is module:
                    delattr(holder, child)

    def _servable(self, name, file):
        if self.files.get(name) != file:
            return False
        try:
            st = os.stat(file)
        except OSError:
            return False
        if (st.st_mtime_ns, st.st_size, st.st_ino) != self.stats[name]:
            return False
        return not self.finder._pytest_rewrites(name, file)

    def spec_for(self, finder, fullname, file):
        """A spec handing over the held `fullname` loaded from `file`, or None."""
        self.finder = finder
        if fullname not in self.modules or _traced():
            return None
        if not self._servable(fullname, file):
            return None
        todo = []
        for dep in sorted(self.deps[fullname], key=lambda n: self.rank.get(n, 0)):
            held = self.modules.get(dep)
            if held is None:
                return None
            present = sys.modules.get(dep)
            if present is held:
                continue
            if present is not None:
                return None  # imported afresh in this run: not the object it holds
            found = finder._locate(dep, self._search_path(dep))
            if found is None or not self._servable(dep, found[0]):
                return None
            todo.append(dep)
        for dep in todo:
            self._hand_over(dep)
        spec = self.modules[fullname].__spec__
        return importlib.util.spec_from_loader(fullname, _HeldLoader(self, fullname), origin=spec.origin)

    def _search_path(self, name):
        """Where a cold import of `name` searches: sys.path, or its parent's
        __path__ (a held parent checked before it has the same)."""
        parent = name.rpartition(".")[0]
        if not parent:
            return sys.path
        holder = sys.modules.get(parent) or self.modules.get(parent)
        return list(getattr(holder, "__path__", None) or [])

    def _hand_over(self, name):
        module = self.modules[name]
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent and parent in sys.modules:
            setattr(sys.modules[parent], child, module)
        self.served.append(name)
        self.finder.note_load(name, self.files[name], "level1")


def _traced():
    """Whether a tracer watches this run (coverage.py, a debugger): it would
    have seen the module's code run at import (pytest-cov's line counts), so
    nothing is handed over."""
    if sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # PEP 669, 3.12+ (coverage's sysmon core)
    if monitoring is not None:
        return any(monitoring.get_tool(tool) is not None for tool in range(6))
    return False


class _HeldLoader:
    """Hands over a module level 1 executed: its body does not run again;
    its own __spec__ (and so __loader__) is put back after the import system
    set ours (importlib._bootstrap._init_module_attrs)."""

    def __init__(self, stash, name):
        self.stash = stash
        self.name = name

    def create_module(self, spec):
        return self.stash.modules[self.name]

    def exec_module(self, module):
        module.__spec__ = self.stash.specs[self.name]
        self.stash.served.append(self.name)
        self.stash.finder.note_load(self.name, self.stash.files[self.name], "level1")


def now_ms():
    return time.monotonic() * 1000
