import importlib.machinery
import importlib.util
import marshal
import os
import py_compile
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln_harness import compile_server
from kiln_harness.compile_server import MAGIC, compile_batch, compile_file
from kiln_harness.message_schema import validate
from kiln_harness.protocol import FrameDecoder, encode_frame

HARNESS = os.path.join(os.path.dirname(__file__), os.pardir)
BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import kiln_harness.compile_server as c; c.main()"
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text if isinstance(text, bytes) else textwrap.dedent(text).encode("utf-8")
    path.write_bytes(data)
    return str(path)


def spec(path, module="m", is_package=False, rewrite=False):
    return {"path": path, "module": module, "isPackage": is_package, "rewrite": rewrite}


def compile_one(path, module="m", rewrite=False, optimize=0):
    return compile_file(spec(path, module, rewrite=rewrite), optimize, compile_server._Rewriter())


def test_plain_code_equals_what_cpython_caches(tmp_path):
    source = "'''doc'''\nX = [i * 2 for i in range(3)]\ndef f(a):\n    return a\n"
    path = write(tmp_path, "m.py", source)
    result, data = compile_one(path)
    assert result["ok"] is True
    code = marshal.loads(data)
    loader = importlib.machinery.SourceFileLoader("m", path)
    expected = loader.source_to_code(Path(path).read_bytes(), path)
    assert code == expected
    assert code.co_filename == path
    pyc = tmp_path / "m.pyc"
    py_compile.compile(path, cfile=str(pyc), doraise=True)
    raw = pyc.read_bytes()
    assert raw[:4] == importlib.util.MAGIC_NUMBER
    assert marshal.loads(raw[16:]) == code
    # No header: marshal's TYPE_CODE (with or without FLAG_REF) comes first.
    assert data[0] in (0x63, 0xE3)


def test_result_metadata(tmp_path):
    import hashlib

    source = b"import os\nfrom .x import y\nZ = 1\n"
    path = write(tmp_path, "pkg/m.py", source)
    result, data = compile_file(spec(path, "pkg.m"), 0, compile_server._Rewriter())
    assert result["sourceHash"] == hashlib.sha256(source).hexdigest()
    assert result["magic"] == importlib.util.MAGIC_NUMBER.hex()
    assert result["cacheTag"] == sys.implementation.cache_tag
    assert result["optimize"] == 0
    assert result["rewrittenBy"] is None
    assert [i["module"] for i in result["imports"]] == ["os", "pkg.x"]
    assert [n["name"] for n in result["names"]] == ["os", "y", "Z"]
    assert result["dynamicNames"] is False


def test_optimize_levels_strip_asserts_and_docstrings(tmp_path):
    path = write(tmp_path, "m.py", '"""doc"""\nassert False\n')
    _, plain = compile_one(path)
    _, opt2 = compile_one(path, optimize=2)
    ns = {}
    exec(marshal.loads(opt2), ns)
    assert ns.get("__doc__") is None
    with pytest.raises(AssertionError):
        exec(marshal.loads(plain), {})


def test_coding_cookie_is_honoured(tmp_path):
    source = "# -*- coding: latin-1 -*-\nVALUE = 'caf\xe9'\n".encode("latin-1")
    path = write(tmp_path, "m.py", source)
    result, data = compile_one(path)
    assert result["ok"]
    ns = {}
    exec(marshal.loads(data), ns)
    assert ns["VALUE"] == "caf\xe9"


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path, "m.py", b"\xef\xbb\xbfX = '\xc3\xa9'\n")
    result, data = compile_one(path)
    assert result["ok"]
    ns = {}
    exec(marshal.loads(data), ns)
    assert ns["X"] == "\xe9"


@pytest.mark.parametrize(
    "source, line, fragment",
    [
        (b"x = 1\ndef f(:\n    pass\n", 2, "SyntaxError"),
        (b"x = 1\n  y = 2\n", 2, "IndentationError"),
        (b"x = 1\nreturn 5\n", 2, "'return' outside function"),
        (b"x = '\xff'\n", 1, "SyntaxError"),
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", 0, "SyntaxError"),
        (b"x = 1\x00\n", None, "null bytes"),
    ],
)
def test_compile_errors_are_data(tmp_path, source, line, fragment):
    path = write(tmp_path, "bad.py", source)
    result, data = compile_one(path)
    assert data is None
    assert result["ok"] is False
    assert result["path"] == path
    error = result["error"]
    assert error["path"] == path
    if line is not None:
        assert error["line"] == line
    assert fragment in error["message"]


def test_unreadable_file_is_data(tmp_path):
    result, data = compile_one(str(tmp_path / "missing.py"))
    assert data is None
    assert result["ok"] is False
    assert "cannot read" in result["error"]["message"]


def test_rewritten_code_matches_pytest_and_produces_pytest_messages(tmp_path):
    from _pytest.assertion.rewrite import _rewrite_test

    path = write(
        tmp_path,
        "test_x.py",
        """
        def f():
            return 3

        def test_it():
            assert f() == 4
        """,
    )
    result, data = compile_one(path, "test_x", rewrite=True)
    assert result["ok"]
    assert result["rewrittenBy"] == pytest.__version__
    _, plain = compile_one(path, "test_x")
    assert data != plain
    code = marshal.loads(data)
    _, expected = _rewrite_test(Path(path), None)
    assert code == expected
    # Analysis sees the source, not pytest's inserted @py_builtins imports.
    assert result["imports"] == []
    ns = {"__name__": "test_x"}
    exec(code, ns)
    with pytest.raises(AssertionError) as info:
        ns["test_it"]()
    message = str(info.value)
    assert "assert 3 == 4" in message
    assert "+  where 3 = " in message


def test_rewrite_disabled_by_docstring_gives_plain_code(tmp_path):
    path = write(tmp_path, "test_y.py", '"""PYTEST_DONT_REWRITE"""\nassert True\n')
    rewritten, data = compile_one(path, "test_y", rewrite=True)
    _, plain = compile_one(path, "test_y")
    assert marshal.loads(data) == marshal.loads(plain)
    assert rewritten["rewrittenBy"] == pytest.__version__


def test_rewrite_without_pytest_is_an_error_for_that_file(tmp_path, monkeypatch):
    path = write(tmp_path, "test_z.py", "assert True\n")
    rewriter = compile_server._Rewriter()
    rewriter._error = "ModuleNotFoundError: No module named 'pytest'"
    result, data = compile_file(spec(path, "test_z", rewrite=True), 0, rewriter)
    assert data is None
    assert "rewriting needs pytest" in result["error"]["message"]
    result, data = compile_file(spec(path, "test_z"), 0, rewriter)
    assert result["ok"]


def test_batch_concatenates_code_with_offsets(tmp_path):
    a = write(tmp_path, "a.py", "A = 1\n")
    bad = write(tmp_path, "bad.py", "def (\n")
    b = write(tmp_path, "b.py", "B = 2\n")
    header, body = compile_batch(
        {"type": "compile:batch", "id": 7, "files": [spec(a, "a"), spec(bad, "bad"), spec(b, "b")]},
        compile_server._Rewriter(),
    )
    assert header["type"] == "compile:result"
    assert header["id"] == 7
    ra, rbad, rb = header["results"]
    assert rbad["ok"] is False
    assert ra["codeOffset"] == 0
    assert rb["codeOffset"] == ra["codeLength"]
    assert len(body) == ra["codeLength"] + rb["codeLength"]
    ns = {}
    exec(marshal.loads(body[rb["codeOffset"] : rb["codeOffset"] + rb["codeLength"]]), ns)
    assert ns["B"] == 2


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "compile:batch", "id": 1},
        {"type": "compile:batch", "id": 1, "files": [], "optimize": 3},
        {"type": "compile:batch", "id": 1, "files": ["x.py"]},
    ],
)
def test_malformed_batches_raise_value_error(request_):
    with pytest.raises(ValueError):
        compile_batch(request_, compile_server._Rewriter())


class Server:
    def __init__(self, patch=""):
        bootstrap = BOOTSTRAP
        if patch:
            bootstrap = bootstrap.replace("c.main()", f"exec({patch!r}); c.main()")
        # The frames travel on fd 3, a socket, as the client passes it.
        self.sock, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", bootstrap, HARNESS],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # close_fds would close fd 3 after preexec_fn puts the socket there.
            close_fds=False,
            preexec_fn=lambda: os.dup2(theirs.fileno(), 3),
        )
        theirs.close()
        self.decoder = FrameDecoder()
        self.frames = []

    def send(self, header):
        self.sock.sendall(encode_frame(header))

    def recv(self):
        while not self.frames:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.frames.extend(self.decoder.feed(chunk))
        header, body = self.frames.pop(0)
        # Whatever the server sends (compile:error included, which Kiln's own
        # client never provokes) is a message of the shared table.
        assert validate("compileServerToSupervisor", header) == []
        return header, body

    def end(self):
        """The client's side is done writing: the server sees EOF."""
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        self.send({"type": "shutdown"})
        self.end()
        code = self.proc.wait(timeout=30)
        stderr = self.proc.stderr.read()
        self.sock.close()
        self.proc.stderr.close()
        return code, stderr


def test_server_process_speaks_the_protocol(tmp_path):
    noisy = write(tmp_path, "noisy.py", "print('hello from module')\nX = 1\n")
    server = Server()
    try:
        hello, _ = server.recv()
        assert hello["type"] == "hello"
        assert hello["v"] == 1
        assert hello["magic"] == MAGIC
        assert hello["cacheTag"] == sys.implementation.cache_tag
        assert hello["pytest"] == pytest.__version__
        assert hello["python"] == ".".join(map(str, sys.version_info[:3]))
        server.send({"type": "compile:batch", "id": 1, "files": [spec(noisy, "noisy")]})
        header, body = server.recv()
        assert header["type"] == "compile:result"
        assert header["id"] == 1
        [result] = header["results"]
        assert result["ok"] is True
        assert len(body) == result["codeLength"]
        server.send({"type": "bogus", "id": 2})
        error, _ = server.recv()
        assert error == {
            "type": "compile:error",
            "id": 2,
            "message": "unknown request type 'bogus'",
            "v": 1,
        }
        server.send({"type": "compile:batch", "id": 3, "files": [spec(noisy, "noisy")]})
        again, _ = server.recv()
        assert again["id"] == 3
    finally:
        code, _ = server.close()
    assert code == 0


def test_server_redirects_prints_to_stderr(tmp_path):
    # Anything that writes to stdout from inside the server (a print, or a
    # raw write to fd 1) lands on stderr, never between frames.
    path = write(tmp_path, "w.py", "X = 1\n")
    patch = (
        "import os; import kiln_harness.compile_server as c; orig = c.analyze\n"
        "def noisy(*a):\n"
        "    print('stray print')\n"
        "    os.write(1, b'stray write\\n')\n"
        "    return orig(*a)\n"
        "c.analyze = noisy\n"
    )
    server = Server(patch)
    try:
        server.recv()
        server.send({"type": "compile:batch", "id": 1, "files": [spec(path, "w")]})
        header, _ = server.recv()
        assert header["results"][0]["ok"]
    finally:
        code, stderr = server.close()
    assert code == 0
    assert b"stray print" in stderr
    assert b"stray write" in stderr


def test_server_exits_on_eof():
    server = Server()
    server.recv()
    server.end()
    assert server.proc.wait(timeout=30) == 0
    server.sock.close()
    server.proc.stderr.close()
