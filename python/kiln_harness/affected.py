"""What each test file really imported, and `--changed`/`--affected-by`'s filter.

`ImportTracker` records, per test file, the project files (relative to the
rootdir) that were loaded for it: in the zygote, those newly in `sys.modules`
while pytest collected that test module, plus the modules its globals come
from (`from helpers import f` when helpers was loaded earlier); in a worker,
those newly in `sys.modules` after each of its tests. Project files loaded in
the zygote outside any test module (conftests, `pytest_plugins`, `-p`) are
the "session" set. The supervisor folds these into `.kiln/imports.json`;
src/daemon/affected.ts adds them to the static import graph (a test that
imports a computed name is caught the next time).

`SelectionFilter` runs only the test files the supervisor selected: the other
candidate test files are not even collected (pytest_ignore_collect), and any
of their items that still got collected (named on the command line) are
deselected as `--deselect` would, so pytest's own summary counts them.
"""

import os
import sys
import types

import pytest

# Set by zygote.main; a forked worker inherits it (worker.run_worker).
TRACKER = None


def _module_file(module):
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) and path.endswith(".py") else None


class ImportTracker:
    def __init__(self, chan):
        self.chan = chan
        self.rootdir = None
        self.baseline = set(sys.modules)
        self.in_modules = set()
        self.files = {}
        self.known = None
        self.known_len = 0

    def _rel(self, path):
        if self.rootdir is None or path is None:
            return None
        rel = os.path.relpath(path, self.rootdir)
        if rel.startswith(".."):
            return None
        return rel.replace(os.sep, "/")

    def _add(self, test_rel, names):
        found = self.files.setdefault(test_rel, set())
        for name in names:
            rel = self._rel(_module_file(sys.modules.get(name)))
            if rel is not None and rel != test_rel:
                found.add(rel)

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        self.rootdir = str(config.rootpath)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector):
        if not isinstance(collector, pytest.Module):
            yield
            return
        before = set(sys.modules)
        yield
        new = set(sys.modules) - before
        self.in_modules |= new
        test_rel = self._rel(str(collector.path))
        if test_rel is None:
            return
        self._add(test_rel, new)
        obj = getattr(collector, "_obj", None)
        if isinstance(obj, types.ModuleType):
            names = set()
            for value in list(vars(obj).values()):
                try:
                    if isinstance(value, types.ModuleType):
                        names.add(value.__name__)
                        continue
                    owner = getattr(value, "__module__", None)
                except Exception:
                    # A proxy that raises on any attribute (werkzeug's
                    # LocalProxy outside a request): it names no module.
                    continue
                if isinstance(owner, str):
                    names.add(owner)
            self._add(test_rel, names)

    def pytest_collection_finish(self, session):
        outside = set(sys.modules) - self.baseline - self.in_modules
        self._add("", outside)
        session_files = self.files.pop("", set())
        files = {test: sorted(found) for test, found in self.files.items()}
        try:
            self.chan.send(
                {"type": "imports:recorded", "files": files, "session": sorted(session_files)}
            )
        except OSError:
            pass

    # -- in a worker --------------------------------------------------------

    def begin_worker(self):
        self.files = {}
        self.known = set(sys.modules)
        self.known_len = len(sys.modules)

    def after_item(self, item):
        # A test that loads a module grows sys.modules; the length check keeps
        # the common case (nothing new) to one len() call.
        if len(sys.modules) == self.known_len:
            return
        new = sys.modules.keys() - self.known
        self.known |= new
        self.known_len = len(sys.modules)
        test_rel = self._rel(str(item.path))
        if test_rel is not None and new:
            self._add(test_rel, new)

    def worker_message(self):
        files = {test: sorted(found) for test, found in self.files.items() if found}
        return {"type": "imports:recorded", "files": files, "session": []}


class SelectionFilter:
    def __init__(self, select):
        self.rootdir = select["rootdir"]
        self.selected = set(select["files"])
        self.skipped = set(select["candidates"]) - self.selected
        self.note = select["note"]
        # `kiln watch`'s "failed only": these items of the selected files.
        nodeids = select.get("nodeids")
        self.nodeids = None if nodeids is None else set(nodeids)
        self.active = True

    def _rel(self, path):
        return os.path.relpath(str(path), self.rootdir).replace(os.sep, "/")

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        if str(config.rootpath) != self.rootdir:
            # The selection was made for another directory: run everything
            # rather than risk skipping an affected test.
            self.active = False
            sys.stderr.write(
                f"kiln: warning: the test selection was made for {self.rootdir}, but pytest's "
                f"rootdir is {config.rootpath}; running every test\n"
            )

    def pytest_report_header(self, config):
        return self.note if self.active else None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        # -q hides the header; the selection is still worth its one line.
        config = session.config
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if self.active and reporter is not None and (config.getoption("verbose") or 0) < 0:
            reporter.write_line(self.note)

    def pytest_ignore_collect(self, collection_path, config):
        if self.active and self._rel(collection_path) in self.skipped:
            return True
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        if not self.active:
            return
        keep, drop = [], []
        for item in items:
            dropped = self._rel(item.path) in self.skipped or (
                self.nodeids is not None and item.nodeid not in self.nodeids
            )
            (drop if dropped else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
