"""Serving the project's modules from the registry's pack (DESIGN.md section 3).

The supervisor writes one pack per run: a JSON index followed by the
marshalled code objects (no .pyc header) of every project file, compiled once
per content and kept in the store. The zygote maps the pack and

* `KilnFinder`, at the front of `sys.meta_path`, answers for project modules
  that pytest does not rewrite: no path search (the index says which files
  and directories exist), no source compile, no .pyc I/O. Its loader is a
  `SourceFileLoader` whose `get_code` unmarshals from the map, so the module
  attributes (`__spec__`, `__loader__`, `__file__`, `__cached__`, `__path__`,
  `__package__`), `get_source`, `importlib.resources` and `inspect` behave
  exactly as for a module importlib loads from source.
* test modules and conftests stay with pytest's own AssertionRewritingHook
  (its spec, its loader, its bookkeeping), but the hook's path search and its
  "read the rewritten pyc or rewrite" step are served from the pack.

Anything unexpected for a module falls back to the normal import system and
that module is not tried again in this run.
"""

import importlib.machinery
import importlib.util
import json
import marshal
import mmap
import os
import struct
import sys
import time

_U32 = struct.Struct("<I")
PACK_VERSION = 1


class Pack:
    """The mapped pack: path -> (offset, length, rewritten)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        (index_len,) = _U32.unpack_from(self._map, 0)
        index = json.loads(bytes(self._map[4 : 4 + index_len]))
        if index.get("version") != PACK_VERSION:
            raise ValueError(f"pack version {index.get('version')} is not {PACK_VERSION}")
        base = 4 + index_len
        self.files = {p: (base + off, n, bool(rw)) for p, (off, n, rw) in index["files"].items()}
        self.dirs = set(index["dirs"])
        # Files the import system could pick over a .py (extension modules) or
        # that we did not compile: their presence means "ask the real finder".
        self.foreign = set(index.get("foreign", ()))
        self._view = memoryview(self._map)

    def code(self, path):
        off, n, _ = self.files[path]
        return marshal.loads(self._view[off : off + n])


class KilnLoader(importlib.machinery.SourceFileLoader):
    """SourceFileLoader whose code comes from the pack."""

    def __init__(self, fullname, path, finder):
        super().__init__(fullname, path)
        self._finder = finder

    def exec_module(self, module):
        # Load time per module for the run record (modules.jsonl); inclusive
        # of the imports the module body triggers, like python -X importtime's
        # "cumulative" column.
        start = time.perf_counter()
        try:
            super().exec_module(module)
        finally:
            self._finder.note_load(module.__name__, self.path, "registry", start)

    def get_code(self, fullname):
        try:
            code = self._finder.pack.code(self.path)
        except Exception as exc:  # a torn map, a bad blob: compile from source instead
            self._finder.note_failure(fullname, exc)
            return super().get_code(fullname)
        self._finder.served += 1
        return code


class KilnFinder:
    def __init__(self, pack):
        self.pack = pack
        self.failed = set()
        self.served = 0
        self.fallbacks = 0
        self.loads = []
        self.rewrite_hook = None
        self.errors = []
        # sys.path / __path__ entry -> absolute path (cwd-relative entries
        # resolve against the cwd at first use, as FileFinder's do).
        self._absolute = {}

    # -- lookup without a path search ---------------------------------------

    def _locate(self, name, entries):
        """Where importlib's PathFinder would find `name` in `entries`, if we know.

        Returns (file, package_dir) for a module we can serve, None when the
        name is found elsewhere or we can't tell (then the real finder runs).
        Follows FileFinder's precedence: a package directory, then extension
        modules, then the .py module; a directory without __init__.py is a
        namespace portion, which we leave to the real machinery.
        """
        files, dirs, foreign = self.pack.files, self.pack.dirs, self.pack.foreign
        tail = name.rpartition(".")[2]
        absolute = self._absolute
        for entry in entries:
            base = absolute.get(entry)
            if base is None:
                base = absolute[entry] = os.path.abspath(entry or os.getcwd())
            if base not in dirs:
                return None  # not a project directory: only a real search can tell
            pkg = base + os.sep + tail
            init = pkg + os.sep + "__init__.py"
            if init in files:
                return init, pkg
            if pkg in dirs:
                return None  # namespace portion (PEP 420): real machinery
            module = pkg + ".py"
            if module in foreign or init in foreign:
                return None
            if module in files:
                return module, None
        return None

    @staticmethod
    def _spec(fullname, file, pkg, loader):
        # What importlib.util.spec_from_file_location builds for a file
        # location (origin, has_location, lazily computed `cached`), without
        # its generic argument handling: this runs once per project module.
        spec = importlib.machinery.ModuleSpec(fullname, loader, origin=file, is_package=pkg is not None)
        spec.has_location = True
        if pkg is not None:
            spec.submodule_search_locations = [pkg]
        return spec

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.failed:
            return None
        try:
            found = self._locate(fullname, sys.path if path is None else path)
            if found is None:
                return None
            file, pkg = found
            _, _, rewritten = self.pack.files[file]
            if rewritten or self._pytest_rewrites(fullname, file):
                return None  # pytest's hook loads it (served by serve_rewritten)
            return self._spec(fullname, file, pkg, KilnLoader(fullname, file, self))
        except Exception as exc:
            self.note_failure(fullname, exc)
            return None

    def note_load(self, name, path, source, start):
        if len(self.loads) < 20000:
            self.loads.append([name, path, source, round((time.perf_counter() - start) * 1000, 3)])

    def note_failure(self, fullname, exc):
        self.failed.add(fullname)
        self.fallbacks += 1
        self.errors.append(f"{fullname}: {type(exc).__name__}: {exc}")

    def invalidate_caches(self):
        # importlib.invalidate_caches() calls this; the pack is fixed for the
        # run, so new files are found by the real finders after it.
        pass

    # -- pytest's assertion rewriting ----------------------------------------

    def _pytest_rewrites(self, fullname, file):
        hook = self.rewrite_hook
        if hook is None:
            return False
        from _pytest.assertion import assertstate_key

        state = hook.config.stash[assertstate_key]
        return not hook._early_rewrite_bailout(fullname, state) and hook._should_rewrite(
            fullname, file, state
        )

    def attach_rewrite_hook(self, hook, pass_hook_enabled):
        """Serve pytest's AssertionRewritingHook from the pack.

        Its spec lookup (`_find_spec`, a PathFinder search) is answered from
        the index, and exec_module runs our rewritten code instead of reading
        its pyc or rewriting again. Our code was rewritten without the
        assertion pass hook; if the project enables it, pytest rewrites.
        """
        self.rewrite_hook = hook
        finder = self

        real_find_spec = hook._find_spec
        real_exec = hook.exec_module

        def find_spec(name, path=None):
            try:
                found = finder._locate(name, sys.path if path is None else path)
            except Exception:
                found = None
            if found is None:
                return real_find_spec(name, path)
            file, pkg = found
            return importlib.util.spec_from_file_location(
                name,
                file,
                loader=importlib.machinery.SourceFileLoader(name, file),
                submodule_search_locations=[pkg] if pkg else None,
            )

        def exec_module(module):
            spec = module.__spec__
            origin = spec.origin if spec is not None else None
            entry = finder.pack.files.get(origin)
            start = time.perf_counter()
            if pass_hook_enabled or entry is None or not entry[2] or module.__name__ in finder.failed:
                try:
                    return real_exec(module)
                finally:
                    if origin is not None and entry is not None:
                        finder.note_load(module.__name__, origin, "fallback", start)
            try:
                code = finder.pack.code(origin)
            except Exception as exc:
                finder.note_failure(module.__name__, exc)
                return real_exec(module)
            # What pytest's exec_module records before running the module.
            from pathlib import Path

            hook._rewritten_names[module.__name__] = Path(origin)
            finder.served += 1
            try:
                exec(code, module.__dict__)
            finally:
                finder.note_load(module.__name__, origin, "registry", start)

        hook._find_spec = find_spec
        hook.exec_module = exec_module


def install(pack_path):
    finder = KilnFinder(Pack(pack_path))
    sys.meta_path.insert(0, finder)
    return finder


def find_rewrite_hook():
    from _pytest.assertion.rewrite import AssertionRewritingHook

    for entry in sys.meta_path:
        if isinstance(entry, AssertionRewritingHook):
            return entry
    return None
