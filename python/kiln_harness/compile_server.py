"""The compile server: source files in, marshalled code objects out, in batches.

Started once per run by src/registry/compile-client.ts through boot.py
(program "compile-server") with the kiln protocol (protocol.py) on fd 3, a
socket, as the zygote's control channel: the same frames, and the same
message table (src/protocol/schema.ts, message_schema.py). fd 1 and
sys.stdout are pointed at stderr, which the client keeps for its error
messages, so a stray print (pytest's, a warning) is never lost or mistaken.

Frames (all carry "v"; their one definition is src/protocol/schema.ts):

  server -> client, first:
    {"type": "hello", "magic": "<importlib.util.MAGIC_NUMBER hex>",
     "cacheTag": "cpython-311", "pytest": "7.2.1" | null, "python": "3.11.2"}

  client -> server:
    {"type": "compile:batch", "id": N, "optimize": 0,
     "files": [{"path": "/abs/x.py", "module": "pkg.x", "isPackage": false,
                "rewrite": false}, ...]}
    {"type": "shutdown"}

  server -> client:
    {"type": "compile:result", "id": N, "results": [...]}
      body = every successful file's marshal.dumps(code), concatenated; per file
        {"path", "ok": true, "sourceHash", "magic", "cacheTag", "optimize",
         "rewrittenBy", "codeOffset", "codeLength",
         "imports", "names", "allNames", "dynamicNames", "namesOpaque",
         "computedImports"}
      or
        {"path", "ok": false, "error": {"path", "line", "message"}}
    {"type": "compile:error", "id": N | null, "message": "..."}   (a malformed request)

Code objects are exactly what CPython itself would cache: plain modules are
compiled from the bytes read, as importlib's SourceLoader.source_to_code does
(so PEP 263 coding cookies and BOMs are honoured); with "rewrite" the module
goes through pytest's assertion rewriting as AssertionRewritingHook does
(_pytest.assertion.rewrite._rewrite_test). The bytes carry no .pyc header:
the registry key holds what the header would have validated.
"""

import ast
import hashlib
import importlib.util
import marshal
import os
import platform
import sys
import warnings

from .exit_codes import INTERNAL_ERROR, OK
from .module_info import analyze, mentions_computed_import
from .protocol import Channel, ProtocolError

MAGIC = importlib.util.MAGIC_NUMBER.hex()
CACHE_TAG = sys.implementation.cache_tag


def pytest_version():
    """pytest's version if pytest is installed, without importing all of pytest."""
    try:
        from _pytest._version import version
    except Exception:
        return None
    if importlib.util.find_spec("pytest") is None:  # pragma: no cover - broken install
        return None
    return str(version)


class _Rewriter:
    """pytest's assertion rewriting, imported on first use."""

    def __init__(self):
        self._rewrite_asserts = None
        self._version = None
        self._error = None

    def load(self):
        if self._rewrite_asserts is None and self._error is None:
            try:
                import pytest
                from _pytest.assertion.rewrite import rewrite_asserts
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
            else:
                self._rewrite_asserts = rewrite_asserts
                self._version = pytest.__version__
        return self._error

    def code(self, source, path, optimize):
        # As _pytest.assertion.rewrite._rewrite_test, with the caller's
        # optimize level (pytest compiles with the interpreter's, -1).
        tree = ast.parse(source, filename=path)
        self._rewrite_asserts(tree, source, path, None)
        return tree, compile(tree, path, "exec", dont_inherit=True, optimize=optimize)

    @property
    def version(self):
        return self._version


def _failure(path, line, message):
    return {"path": path, "ok": False, "error": {"path": path, "line": line, "message": message}}


def _syntax_failure(path, exc):
    line = getattr(exc, "lineno", None) or 0
    msg = getattr(exc, "msg", None) or str(exc)
    return _failure(path, int(line), f"{type(exc).__name__}: {msg}")


def _too_nested(path, exc):
    return _failure(path, 0, f"{type(exc).__name__}: source too deeply nested to compile")


def compile_file(spec, optimize, rewriter):
    """(result dict, code bytes or None) for one requested file."""
    path = spec.get("path")
    if not isinstance(path, str):
        return _failure(str(path), 0, "request names no path"), None
    module = spec.get("module") or os.path.splitext(os.path.basename(path))[0]
    is_package = bool(spec.get("isPackage", False))
    rewrite = bool(spec.get("rewrite", False))
    # co_filename: the path, or the virtual one a workspace module gets.
    filename = spec.get("filename") or path
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        return _failure(path, 0, f"cannot read: {exc.strerror or exc}"), None

    if rewrite:
        error = rewriter.load()
        if error is not None:
            message = f"assertion rewriting needs pytest, which failed to import: {error}"
            return _failure(path, 0, message), None

    with warnings.catch_warnings():
        # Compile-time warnings (invalid escapes...) go to stderr once, from
        # the compile below; the extra parse for analysis stays silent.
        warnings.simplefilter("ignore")
        try:
            tree = ast.parse(source, filename=path)
            info = analyze(tree, module, is_package, mentions_computed_import(source))
        except (SyntaxError, ValueError) as exc:
            return _syntax_failure(path, exc), None
        except (RecursionError, MemoryError) as exc:
            return _too_nested(path, exc), None
    try:
        if rewrite:
            _, code = rewriter.code(source, path, optimize)
        else:
            # importlib._bootstrap_external.SourceLoader.source_to_code
            code = compile(source, filename, "exec", dont_inherit=True, optimize=optimize)
    except (SyntaxError, ValueError) as exc:
        return _syntax_failure(path, exc), None
    except (RecursionError, MemoryError) as exc:
        return _too_nested(path, exc), None
    data = marshal.dumps(code)
    result = {
        "path": path,
        "ok": True,
        "sourceHash": hashlib.sha256(source).hexdigest(),
        "magic": MAGIC,
        "cacheTag": CACHE_TAG,
        "optimize": optimize,
        "rewrittenBy": rewriter.version if rewrite else None,
    }
    result.update(info)
    return result, data


def compile_batch(request, rewriter):
    """(response header, body) for a compile:batch request."""
    optimize = request.get("optimize", 0)
    if not isinstance(optimize, int) or isinstance(optimize, bool) or optimize not in (0, 1, 2):
        raise ValueError(f"optimize must be 0, 1 or 2, not {optimize!r}")
    files = request.get("files")
    if not isinstance(files, list):
        raise ValueError("compile:batch needs a 'files' list")
    results = []
    chunks = []
    offset = 0
    for spec in files:
        if not isinstance(spec, dict):
            raise ValueError("each file must be an object with a 'path'")
        result, data = compile_file(spec, optimize, rewriter)
        if data is not None:
            result["codeOffset"] = offset
            result["codeLength"] = len(data)
            chunks.append(data)
            offset += len(data)
        results.append(result)
    header = {"type": "compile:result", "id": request.get("id"), "results": results}
    return header, b"".join(chunks)


def hello():
    return {
        "type": "hello",
        "magic": MAGIC,
        "cacheTag": CACHE_TAG,
        "pytest": pytest_version(),
        "python": platform.python_version(),
    }


def serve(inbound, outbound):
    """Answer requests until shutdown or EOF. Returns the exit status."""
    rewriter = _Rewriter()
    outbound.send(hello())
    while True:
        try:
            frame = inbound.recv()
        except ProtocolError as exc:
            sys.stderr.write(f"kiln compile server: bad frame from the client: {exc}\n")
            return INTERNAL_ERROR
        if frame is None:
            return OK
        request, _ = frame
        kind = request.get("type")
        if kind == "shutdown":
            return OK
        if kind != "compile:batch":
            message = f"unknown request type {kind!r}"
            outbound.send({"type": "compile:error", "id": request.get("id"), "message": message})
            continue
        try:
            header, body = compile_batch(request, rewriter)
        except (ValueError, TypeError) as exc:
            outbound.send({"type": "compile:error", "id": request.get("id"), "message": str(exc)})
            continue
        outbound.send(header, body)


CHANNEL_FD = 3


def main():
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    chan = Channel(
        CHANNEL_FD, sends="compileServerToSupervisor", receives="supervisorToCompileServer"
    )
    status = serve(chan, chan)
    sys.stderr.flush()
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
