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

import _imp
import importlib.machinery
import importlib.util
import json
import marshal
import mmap
import os
import struct
import sys

_U32 = struct.Struct("<I")
_LEVEL1 = f"{__package__}.level1"
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
        """The code object for `path`, carrying `path` as its file name.

        The store is keyed by content, so the blob may have been compiled
        for another file with the same bytes (a second copy in this project,
        another checkout on a shared store). CPython has the same problem
        with a moved .pyc and solves it in SourceLoader.get_code with
        _imp._fix_co_filename, which rewrites co_filename throughout the
        code object tree; so do we, or tracebacks and warnings would name
        the other file.
        """
        off, n, _ = self.files[path]
        code = marshal.loads(self._view[off : off + n])
        _imp._fix_co_filename(code, path)
        return code


class KilnLoader(importlib.machinery.SourceFileLoader):
    """SourceFileLoader whose code comes from the pack.

    Only get_code is ours. exec_module stays importlib's own
    (_LoaderBasics.exec_module, frozen), which runs the module body through
    _call_with_frames_removed: no frame of ours is on the stack while user
    code runs, so tracebacks, warnings' stacklevel and inspect.stack() see
    exactly what they see under a plain import. That is also why no load
    time is measured here: timing the body would need a frame around it.
    """

    def __init__(self, fullname, path, finder):
        super().__init__(fullname, path)
        self._finder = finder

    def get_code(self, fullname):
        try:
            code = self._finder.pack.code(self.path)
        except Exception as exc:  # a torn map, a bad blob: compile from source instead
            self._finder.note_failure(fullname, exc)
            self._finder.note_load(fullname, self.path, "fallback")
            return super().get_code(fullname)
        self._finder.served += 1
        self._finder.note_load(fullname, self.path, "registry")
        return code


class KilnFinder:
    def __init__(self, pack):
        self.pack = pack
        self.failed = set()
        self.failed_paths = set()
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
            held = sys.modules.get(_LEVEL1)
            if held is not None and held.STASH is not None:
                # Forked from the daemon's level 1: the module it already
                # imported from this very file, when that is what a cold
                # import gives (level1.py).
                spec = held.STASH.spec_for(self, fullname, file)
                if spec is not None:
                    return spec
            return self._spec(fullname, file, pkg, KilnLoader(fullname, file, self))
        except Exception as exc:
            self.note_failure(fullname, exc)
            return None

    def note_load(self, name, path, source):
        if len(self.loads) < 20000:
            self.loads.append([name, path, source])

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
        the index. Its exec_module stays pytest's own, frame for frame as in
        a plain run (pytest's traceback filter hides _pytest's frames, not
        ours); what it executes comes from the pack through
        `_pytest.assertion.rewrite._read_pyc`, the function it calls to read
        a cached rewritten module: for a file in the pack we answer with our
        rewritten code, for anything else pytest reads its own pyc. Our code
        was rewritten without the assertion pass hook; if the project
        enables it, pytest rewrites.
        """
        from _pytest.assertion import rewrite

        self.rewrite_hook = hook
        finder = self
        real_find_spec = hook._find_spec
        real_read_pyc = rewrite._read_pyc

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

        def read_pyc(source, pyc, trace=lambda msg: None):
            origin = str(source)
            entry = finder.pack.files.get(origin)
            if entry is None:
                return real_read_pyc(source, pyc, trace)
            name = _module_name_of(hook, origin)
            if pass_hook_enabled or not entry[2] or origin in finder.failed_paths:
                finder.note_load(name, origin, "fallback")
                return real_read_pyc(source, pyc, trace)
            try:
                code = finder.pack.code(origin)
            except Exception as exc:
                finder.failed_paths.add(origin)
                finder.note_failure(name, exc)
                finder.note_load(name, origin, "fallback")
                return real_read_pyc(source, pyc, trace)
            finder.served += 1
            finder.note_load(name, origin, "registry")
            return code

        hook._find_spec = find_spec
        rewrite._read_pyc = read_pyc


def _module_name_of(hook, origin):
    """The module pytest's exec_module is loading from `origin`: it records
    the name in _rewritten_names just before reading the pyc."""
    names = hook._rewritten_names
    if names:
        last = next(reversed(names))  # the usual case: just inserted
        if str(names[last]) == origin:
            return last
    for name, path in names.items():  # a re-import keeps its old position
        if str(path) == origin:
            return name
    return origin


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
