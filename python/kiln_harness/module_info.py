"""What a module imports and defines, from its AST alone (nothing is executed).

Used by the compile server (compile_server.py) for the registry's import graph
and by `kiln check`. The result is plain JSON-able data, mirrored in
src/registry/types.ts (ImportRef, PublicName) and src/registry/compile-client.ts:

    {
      "imports": [ImportRef...],   # every import statement, in source order
      "names": [PublicName...],    # public top-level names (honours __all__)
      "allNames": [str...],        # every top-level name it binds, private ones too,
                                   # except submodules bound by `from . import x`
                                   # in a package's __init__ (kind "submodule")
      "dynamicNames": bool,        # the module defines a top-level __getattr__
      "namesOpaque": bool,         # globals()/vars()/exec at top level: names unknowable
      "computedImports": bool,     # importlib.import_module(x) / __import__(x) with a
                                   # name that is not a string literal, anywhere
    }

ImportRef: {"module", "names"? , "line", "level", "conditional", "guarded"}
  - module: absolute dotted name. A relative import that cannot be resolved
    (beyond the top-level package, or in a module with no package) keeps its
    leading dots, e.g. "..a": absolute names never start with a dot.
  - names: for `from X import a, b` only; ["*"] for a star import.
  - conditional: inside a function body, a `try`, `if`, loop, `with` or `match`:
    the statement may not run, or its failure may be handled.
  - guarded: inside the body of a `try` that has `except` handlers (the author
    expects the import may fail: `try: import x except ImportError: ...`).

Python >= 3.9, stdlib only.
"""

import ast

from .ast_names import literal_strings, resolve_relative, signature_of

__all__ = [
    "analyze",
    "analyze_source",
    "imports_computed_name",
    "mentions_computed_import",
    "resolve_relative",
    "signature_of",
]

_FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_TRY_TYPES = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t)
_MATCH_TYPE = getattr(ast, "Match", None)
_TYPE_ALIAS = getattr(ast, "TypeAlias", None)
_OPAQUE_CALLS = frozenset({"globals", "vars", "locals", "exec"})


class _Analyzer:
    def __init__(self, module, is_package):
        self.module = module
        self.is_package = is_package
        self.imports = []
        # name -> (kind, line, signature or None); later bindings win.
        self.bindings = {}
        self.dynamic = False
        self.opaque = False
        # __all__: list of names, or None when absent, or False when not literal.
        self.all_names = None
        self.all_line = 0

    # -- imports --------------------------------------------------------

    def _import(self, node, conditional, guarded):
        for alias in node.names:
            self.imports.append(
                {
                    "module": alias.name,
                    "line": node.lineno,
                    "level": 0,
                    "conditional": conditional,
                    "guarded": guarded,
                }
            )

    def _import_from(self, node, conditional, guarded):
        level = node.level or 0
        resolved = resolve_relative(self.module, self.is_package, level, node.module)
        if resolved is None:
            resolved = "." * level + (node.module or "")
        self.imports.append(
            {
                "module": resolved,
                "names": [alias.name for alias in node.names],
                "line": node.lineno,
                "level": level,
                "conditional": conditional,
                "guarded": guarded,
            }
        )

    # -- top-level bindings ---------------------------------------------

    def _bind(self, name, kind, line, signature=None):
        self.bindings[name] = (kind, line, signature)

    def _bind_target(self, target, line):
        if isinstance(target, ast.Name):
            self._bind(target.id, "variable", line)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._bind_target(elt, line)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, line)

    def _bind_pattern(self, pattern, line):
        # match/case capture patterns bind names in the enclosing scope.
        for node in ast.walk(pattern):
            name = getattr(node, "name", None)
            if isinstance(name, str) and not isinstance(node, ast.alias):
                self._bind(name, "variable", line)
            rest = getattr(node, "rest", None)
            if isinstance(rest, str):
                self._bind(rest, "variable", line)

    def _all_assign(self, node, value, augmented):
        names = literal_strings(value) if value is not None else None
        if names is None:
            self.all_names = False
            return
        if augmented:
            if isinstance(self.all_names, list):
                self.all_names = self.all_names + names
        else:
            self.all_names = names
            self.all_line = node.lineno

    def _top_level_expr(self, node):
        """Walrus targets, opaque calls and `__all__.extend([...])` in a top-level expression."""
        for sub in _walk_same_scope(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self._bind(sub.target.id, "variable", sub.lineno)
            elif isinstance(sub, ast.Call):
                func = sub.func
                if isinstance(func, ast.Name) and func.id in _OPAQUE_CALLS:
                    self.opaque = True
                elif (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "__all__"
                    and func.attr in ("extend", "append")
                ):
                    if func.attr == "extend" and len(sub.args) == 1:
                        names = literal_strings(sub.args[0])
                    elif (
                        func.attr == "append"
                        and len(sub.args) == 1
                        and isinstance(sub.args[0], ast.Constant)
                        and isinstance(sub.args[0].value, str)
                    ):
                        names = [sub.args[0].value]
                    else:
                        names = None
                    if names is None:
                        self.all_names = False
                    elif isinstance(self.all_names, list):
                        self.all_names = self.all_names + names
            elif (
                isinstance(sub, ast.Subscript)
                and isinstance(sub.value, ast.Attribute)
                and isinstance(sub.value.value, ast.Name)
                and sub.value.value.id == "sys"
                and sub.value.attr == "modules"
            ):
                # sys.modules[__name__] = ... replaces the module wholesale.
                self.opaque = True

    # -- the walk ------------------------------------------------------

    def statements(self, body, top, conditional, guarded):
        for node in body:
            self.statement(node, top, conditional, guarded)

    def statement(self, node, top, conditional, guarded):
        if isinstance(node, ast.Import):
            self._import(node, conditional, guarded)
            if top:
                for alias in node.names:
                    if alias.asname:
                        self._bind(alias.asname, "import", node.lineno)
                    else:
                        self._bind(alias.name.partition(".")[0], "import", node.lineno)
            return
        if isinstance(node, ast.ImportFrom):
            self._import_from(node, conditional, guarded)
            if top:
                # `from . import x` in pkg/__init__.py imports the submodule
                # pkg.x: it is not a name the package defines by itself.
                kind = "submodule" if self.imports[-1]["module"] == self.module else "import"
                for alias in node.names:
                    if alias.name != "*":
                        bound = alias.asname or alias.name
                        self._bind(bound, kind if bound == alias.name else "import", node.lineno)
            return
        if isinstance(node, _FUNCTION_TYPES):
            if top:
                self._bind(node.name, "function", node.lineno, signature_of(node.args))
                if node.name == "__getattr__":
                    self.dynamic = True
            self.statements(node.body, False, True, guarded)
            return
        if isinstance(node, ast.ClassDef):
            if top:
                self._bind(node.name, "class", node.lineno)
                for expr in list(node.decorator_list) + list(node.bases):
                    self._top_level_expr(expr)
            # A class body runs when the module runs: its imports are as
            # unconditional as the class statement itself, but bind no globals.
            self.statements(node.body, False, conditional, guarded)
            return
        if _TRY_TYPES and isinstance(node, _TRY_TYPES):
            handled = bool(node.handlers)
            self.statements(node.body, top, True, guarded or handled)
            for handler in node.handlers:
                # `except E as e` unbinds e when the handler ends: no global.
                self.statements(handler.body, top, True, guarded)
            self.statements(node.orelse, top, True, guarded)
            self.statements(node.finalbody, top, conditional, guarded)
            return
        if isinstance(node, ast.If):
            if top:
                self._top_level_expr(node.test)
            self.statements(node.body, top, True, guarded)
            self.statements(node.orelse, top, True, guarded)
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            if top:
                self._bind_target(node.target, node.lineno)
                self._top_level_expr(node.iter)
            self.statements(node.body, top, True, guarded)
            self.statements(node.orelse, top, True, guarded)
            return
        if isinstance(node, ast.While):
            if top:
                self._top_level_expr(node.test)
            self.statements(node.body, top, True, guarded)
            self.statements(node.orelse, top, True, guarded)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if top:
                    self._top_level_expr(item.context_expr)
                    if item.optional_vars is not None:
                        self._bind_target(item.optional_vars, node.lineno)
            # A context manager may suppress the exception an import raises.
            self.statements(node.body, top, True, guarded)
            return
        if _MATCH_TYPE is not None and isinstance(node, _MATCH_TYPE):
            if top:
                self._top_level_expr(node.subject)
            for case in node.cases:
                if top:
                    self._bind_pattern(case.pattern, node.lineno)
                self.statements(case.body, top, True, guarded)
            return
        if top:
            self._top_level_simple(node)
        # Lambdas and comprehensions cannot hold import statements; nothing
        # else in a simple statement can either.

    def _top_level_simple(self, node):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    self._all_assign(node, node.value, augmented=False)
                self._bind_target(target, node.lineno)
                if not isinstance(target, (ast.Name, ast.Tuple, ast.List, ast.Starred)):
                    self._top_level_expr(target)
            self._top_level_expr(node.value)
        elif isinstance(node, ast.AnnAssign):
            # `x: int` alone binds nothing at runtime.
            if node.value is not None:
                if isinstance(node.target, ast.Name) and node.target.id == "__all__":
                    self._all_assign(node, node.value, augmented=False)
                self._bind_target(node.target, node.lineno)
                self._top_level_expr(node.value)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name) and node.target.id == "__all__":
                self._all_assign(node, node.value, augmented=True)
            self._bind_target(node.target, node.lineno)
            self._top_level_expr(node.value)
        elif _TYPE_ALIAS is not None and isinstance(node, _TYPE_ALIAS):
            self._bind_target(node.name, node.lineno)
        elif isinstance(node, ast.Expr):
            self._top_level_expr(node.value)
        elif isinstance(node, (ast.Global, ast.Nonlocal, ast.Delete)):
            pass
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._top_level_expr(child)

    def globals_from_functions(self, tree):
        """`global x` inside a function makes x a module name once it runs."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                for name in node.names:
                    if name not in self.bindings:
                        self._bind(name, "variable", node.lineno)

    # -- result --------------------------------------------------------

    def result(self):
        names = []
        if isinstance(self.all_names, list):
            seen = set()
            for name in self.all_names:
                if name in seen:
                    continue
                seen.add(name)
                binding = self.bindings.get(name)
                if binding is None:
                    # Listed but not bound here: in a package, a submodule.
                    kind = "submodule" if self.is_package else "variable"
                    names.append({"name": name, "kind": kind, "line": self.all_line})
                else:
                    names.append(_public(name, binding))
        else:
            for name, binding in sorted(self.bindings.items(), key=lambda kv: (kv[1][1], kv[0])):
                if not name.startswith("_"):
                    names.append(_public(name, binding))
        return {
            "imports": self.imports,
            "names": names,
            "allNames": sorted(n for n, b in self.bindings.items() if b[0] != "submodule"),
            "dynamicNames": self.dynamic,
            "namesOpaque": self.opaque,
        }


def _public(name, binding):
    kind, line, signature = binding
    entry = {"name": name, "kind": kind, "line": line}
    if signature is not None:
        entry["signature"] = signature
    return entry


def _walk_same_scope(node):
    """ast.walk that does not descend into lambdas (their own scope)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(child, ast.Lambda):
                continue
            stack.append(child)


def analyze(tree, module, is_package=False, may_import_computed=True):
    """Module info for a parsed module (see the module docstring).

    `may_import_computed=False` (the source never mentions import_module or
    __import__) skips the walk that looks for computed imports.
    """
    analyzer = _Analyzer(module, is_package)
    analyzer.statements(tree.body, True, False, False)
    analyzer.globals_from_functions(tree)
    result = analyzer.result()
    result["computedImports"] = may_import_computed and imports_computed_name(tree)
    return result


def mentions_computed_import(source):
    """Cheap pre-check on the source text, bytes or str."""
    if isinstance(source, str):
        return "import_module" in source or "__import__" in source
    return b"import_module" in source or b"__import__" in source


def imports_computed_name(tree):
    """Whether a call to `import_module(...)` (importlib's, however reached) or
    `__import__(...)` names its module with anything but a string literal: the
    affected-test selection cannot know what it imports from the source."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in ("import_module", "__import__"):
            continue
        first = node.args[0] if node.args else None
        if first is None:
            first = next((k.value for k in node.keywords if k.arg == "name"), None)
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return True
    return False


def analyze_source(source, module, is_package=False, path="<unknown>"):
    """Parse `source` (bytes honour PEP 263 coding cookies, or str) and analyze it."""
    tree = ast.parse(source, filename=path)
    return analyze(tree, module, is_package, mentions_computed_import(source))
