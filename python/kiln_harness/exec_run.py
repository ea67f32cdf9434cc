"""Running one exec request's code in a worker, as `python -c` would.

`code` runs as __main__ compiled from "<string>" (python -c's filename), its
lines registered with linecache so tracebacks show them. When the last
statement is an expression its value is the request's `result` (what a REPL
would display: None is no result), computed by compiling that expression on
its own in "eval" mode after the rest ran in "exec" mode. Or `module` +
`function` + `args`: import the module, call the function, its return value
is the result. SystemExit ends the code as it ends `python -c`: None is 0,
an int is the status, anything else is printed to stderr and is 1
(Python/pythonrun.c handle_system_exit).
"""

import ast
import json
import linecache
import sys
import traceback
import types

FILENAME = "<string>"
_HARNESS = __file__.rsplit("/", 1)[0] + "/"


class Outcome:
    def __init__(self):
        self.exit_code = 0
        self.result = None
        self.has_result = False
        self.error = None
        self.limits_hit = []


def _register_source(filename, source):
    lines = source.splitlines(True)
    linecache.cache[filename] = (len(source), None, lines, filename)


def _split_last_expression(source, filename):
    """(module body without its last statement, the last expression) or (tree, None)."""
    tree = ast.parse(source, filename, "exec")
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
        return tree, ast.Expression(last.value)
    return tree, None


def _user_frames(tb):
    """The traceback without the harness's own frames at its head."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_HARNESS):
        tb = tb.tb_next
    return tb


def describe_error(exc):
    tb = _user_frames(exc.__traceback__)
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": text}


def to_result(value):
    """(value, "json") when JSON holds it exactly, else (repr, "repr")."""
    try:
        text = json.dumps(value, allow_nan=False)
        if json.loads(text) == value:
            return json.loads(text), "json"
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return repr(value), "repr"
    except Exception as exc:  # a repr that raises still gives the caller something
        return "<unrepresentable %s: %s>" % (type(value).__name__, exc), "repr"


def _system_exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF  # the status the OS keeps: sys.exit(-1) is 255
    try:
        sys.stderr.write("%s\n" % (code,))
    except Exception:
        pass
    return 1


def run_code(source, outcome, filename=None):
    """`filename`: run as `python FILE` (its __file__, its name in tracebacks)."""
    name = filename or FILENAME
    _register_source(name, source)
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    if filename:
        main.__file__ = filename
    sys.modules["__main__"] = main
    try:
        tree, last = _split_last_expression(source, name)
        exec(compile(tree, name, "exec"), main.__dict__)
        if last is not None:
            value = eval(compile(last, name, "eval"), main.__dict__)
            if value is not None:
                outcome.result = value
                outcome.has_result = True
    except SystemExit as exc:
        outcome.exit_code = _system_exit_code(exc)
    except BaseException as exc:  # the user's code failed: report it, as python -c would exit 1
        _failed(exc, outcome)


def run_function(module_name, function_name, args, outcome):
    import importlib

    try:
        module = importlib.import_module(module_name)
        function = getattr(module, function_name)
        outcome.result = function(*(args or []))
        outcome.has_result = outcome.result is not None
    except SystemExit as exc:
        outcome.exit_code = _system_exit_code(exc)
    except BaseException as exc:
        _failed(exc, outcome)


def _failed(exc, outcome):
    outcome.exit_code = 1
    if isinstance(exc, MemoryError):
        outcome.limits_hit.append("memory")
    try:
        outcome.error = describe_error(exc)
    except MemoryError:
        outcome.error = {"type": "MemoryError", "message": "", "traceback": "MemoryError\n"}
