"""What a module level 1 holds depends on (level1.py): the modules its code
imports, and the modules whose import its code triggered. A held module is
handed over to a run only with all of these (level1.Stash.spec_for)."""

import importlib.util
import sys

# Frames of the harness's own import calls (level1.build), skipped when
# looking for the module whose code imports.
_OURS = (f"{__package__}.level1", __name__)


class Importers:
    """A meta path finder that finds nothing: it notes, for each module
    imported, the module whose code imported it (the first frame outside
    importlib), so a held module's dependencies are known."""

    def __init__(self):
        self.by = {}

    def find_spec(self, fullname, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and (
            frame.f_code.co_filename.startswith("<frozen importlib") or frame.f_globals.get("__name__") in _OURS
        ):
            frame = frame.f_back
        if frame is not None:
            self.by.setdefault(fullname, frame.f_globals.get("__name__"))
        return None


def imported_names(module):
    """The modules `module`'s code imports anywhere (its import statements,
    read from its code object): an import of a module that was already loaded
    leaves no other trace."""
    import dis

    loader = getattr(getattr(module, "__spec__", None), "loader", None)
    try:
        code = loader.get_code(module.__name__)
    except Exception:
        return set()
    if code is None:
        return set()  # an extension module, a namespace package: no bytecode
    package = getattr(module, "__package__", None) or ""
    found = set()
    todo = [code]
    while todo:
        co = todo.pop()
        todo.extend(c for c in co.co_consts if isinstance(c, type(co)))
        consts = []
        base = None
        for ins in dis.get_instructions(co):
            if ins.opname in ("LOAD_CONST", "LOAD_SMALL_INT"):  # 3.14 loads small ints so
                consts.append(ins.argval)
            elif ins.opname == "IMPORT_NAME":
                level = consts[-2] if len(consts) >= 2 and isinstance(consts[-2], int) else 0
                try:
                    base = importlib.util.resolve_name("." * level + (ins.argval or ""), package) if level else ins.argval
                except (ImportError, ValueError):
                    base = None
                if base:
                    parts = base.split(".")
                    found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            elif ins.opname == "IMPORT_FROM" and base:
                found.add(f"{base}.{ins.argval}")
    return found
