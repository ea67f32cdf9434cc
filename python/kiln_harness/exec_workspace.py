"""Workspace modules with no file on disk: a meta-path finder in the worker.

The supervisor sends the request's workspace (the index version current
when the request started) in exec:run: each module's name, whether it is a
package, its path inside the workspace, its source and its marshalled code.
The finder answers for exactly those names, in front of sys.meta_path, and
sets what importlib would (__spec__, __loader__, __file__, __path__,
__package__; PEP 451). __file__ is unmistakably virtual,
/<kiln-workspace>/NAME/pkg/mod.py, a path no file system has; get_source
serves the source, so linecache and tracebacks show the lines (linecache
asks module globals' __loader__.get_source for paths it can't stat,
linecache.lazycache). A directory without __init__.py is a namespace
package (PEP 420): __path__ but no __file__.
"""

import importlib.abc
import importlib.machinery
import marshal
import sys

PREFIX = "/<kiln-workspace>/"


class WorkspaceModule:
    __slots__ = ("name", "is_package", "path", "source", "code")

    def __init__(self, name, is_package, path, source, code):
        self.name = name
        self.is_package = is_package
        self.path = path
        self.source = source
        self.code = code


class WorkspaceFinder(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    def __init__(self, workspace, modules):
        self.workspace = workspace
        self.root = PREFIX + workspace + "/"
        self.modules = {m.name: m for m in modules}
        self.by_file = {self.root + m.path: m for m in modules if m.path}

    # -- finder
    def find_spec(self, fullname, path=None, target=None):
        entry = self.modules.get(fullname)
        if entry is None:
            return None
        origin = self.root + entry.path if entry.path else None
        spec = importlib.machinery.ModuleSpec(
            fullname, self, origin=origin, is_package=entry.is_package
        )
        if entry.is_package:
            spec.submodule_search_locations = [self.root + fullname.replace(".", "/")]
        spec.has_location = origin is not None
        return spec

    def invalidate_caches(self):
        pass

    # -- loader
    def create_module(self, spec):
        return None  # importlib's default module

    def exec_module(self, module):
        entry = self.modules[module.__spec__.name]
        if entry.path is None:
            return  # a namespace package: nothing to run
        exec(self._code(entry), module.__dict__)

    def _code(self, entry):
        try:
            return marshal.loads(entry.code)
        except (ValueError, EOFError, TypeError):
            # Pushed with another Python (marshal's format is per version):
            # compile the source, as importlib does for a stale .pyc.
            return compile(entry.source, self.root + entry.path, "exec", dont_inherit=True)

    def is_package(self, fullname):
        entry = self.modules.get(fullname)
        if entry is None:
            raise ImportError("no workspace module %r" % fullname, name=fullname)
        return entry.is_package

    def get_source(self, fullname):
        entry = self.modules.get(fullname)
        if entry is None:
            raise ImportError("no workspace module %r" % fullname, name=fullname)
        if entry.path is None:
            return None
        return entry.source.decode("utf-8", "replace")

    def get_code(self, fullname):
        entry = self.modules.get(fullname)
        if entry is None or entry.path is None:
            return None
        return self._code(entry)

    def get_filename(self, fullname):
        entry = self.modules.get(fullname)
        if entry is None or entry.path is None:
            raise ImportError("no file for workspace module %r" % fullname, name=fullname)
        return self.root + entry.path


def install(spec, body):
    """Put the request's workspace in front of sys.meta_path."""
    modules = []
    for m in spec["modules"]:
        so, sl = m["sourceOffset"], m["sourceLength"]
        co, cl = m["codeOffset"], m["codeLength"]
        modules.append(
            WorkspaceModule(m["name"], m["isPackage"], m["path"], body[so : so + sl], body[co : co + cl])
        )
    finder = WorkspaceFinder(spec["name"], modules)
    sys.meta_path.insert(0, finder)
    return finder
