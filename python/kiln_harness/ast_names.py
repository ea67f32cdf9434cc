"""Small pure readings of AST nodes for module_info.py: the absolute name of
a relative import, a function's signature as text, a literal list of names.

Python >= 3.9, stdlib only.
"""

import ast


def resolve_relative(module, is_package, level, target):
    """Absolute name for `from <level dots><target> import ...` in `module`.

    Returns None when the import reaches above the top-level package (or the
    module has no package at all), as importlib would refuse it.
    """
    if level == 0:
        return target or ""
    package = module if is_package else module.rpartition(".")[0]
    if not package:
        return None
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{target}" if target else base


def _render_default(node):
    """A short, readable default: literals and dotted names as written, else '...'."""
    if isinstance(node, (ast.Constant, ast.Name, ast.Attribute)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
    ):
        try:
            text = ast.unparse(node)
        except Exception:  # pragma: no cover - unparse handles every expression
            return "..."
        if len(text) <= 30:
            return text
    return "..."


def signature_of(args):
    """`(a, b=1, /, c, *args, d, e=..., **kw)` from an ast.arguments node."""
    parts = []
    positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    n_posonly = len(getattr(args, "posonlyargs", []))
    for index, (arg, default) in enumerate(zip(positional, defaults)):
        parts.append(arg.arg if default is None else f"{arg.arg}={_render_default(default)}")
        if n_posonly and index == n_posonly - 1:
            parts.append("/")
    if args.vararg is not None:
        parts.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        parts.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        parts.append(arg.arg if default is None else f"{arg.arg}={_render_default(default)}")
    if args.kwarg is not None:
        parts.append(f"**{args.kwarg.arg}")
    return "(" + ", ".join(parts) + ")"


def literal_strings(node):
    """The strings of a literal list/tuple of str constants, else None."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    out = []
    for elt in node.elts:
        if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
            return None
        out.append(elt.value)
    return out
