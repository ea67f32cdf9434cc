import errno
import os
import signal
import socket

import pytest

from kiln_harness import sandbox_landlock as ll

from sandbox_child import errno_of, in_child

ABI = ll.abi_version()
needs_landlock = pytest.mark.skipif(ABI < 1, reason="no Landlock in this kernel")
SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev/null"]


def test_handled_rights_grow_with_the_abi():
    assert ll.fs_rights(1) == (1 << 13) - 1
    assert ll.fs_rights(2) & ll.FS_REFER
    assert not ll.fs_rights(2) & ll.FS_TRUNCATE
    assert ll.fs_rights(5) & ll.FS_IOCTL_DEV


@needs_landlock
def test_worker_writes_only_where_allowed_and_reads_only_what_is_listed(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "mod.py").write_text("x = 1\n")
    writable = tmp_path / "work"
    writable.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("hunter2")

    def child():
        ll.restrict(ABI, [*SYSTEM, str(project)], [str(writable)])
        return {
            "write_allowed": errno_of(lambda: (writable / "out.txt").write_text("ok")),
            "mkdir_allowed": errno_of(lambda: (writable / "sub").mkdir()),
            "read_project": errno_of(lambda: (project / "mod.py").read_text()),
            "write_project": errno_of(lambda: (project / "mod.py").write_text("y = 2\n")),
            "create_in_project": errno_of(lambda: (project / "new.py").write_text("")),
            "read_secret": errno_of(lambda: (secret / "key").read_text()),
            "write_etc": errno_of(lambda: open("/etc/kiln-landlock-test", "w").close()),
            "hardlink_out": errno_of(lambda: os.link(project / "mod.py", writable / "link")),
            "rename_out": errno_of(lambda: os.rename(writable / "out.txt", project / "moved")),
        }

    out = in_child(child)
    assert out["write_allowed"] == 0
    assert out["mkdir_allowed"] == 0
    assert out["read_project"] == 0
    for key in ("write_project", "create_in_project", "read_secret", "write_etc", "rename_out"):
        assert out[key] == errno.EACCES, key
    # Linking a read-only file into a writable dir: refused (EXDEV: Landlock's
    # REFER rule, a link may not gain rights; EACCES on ABI 1).
    assert out["hardlink_out"] in (errno.EXDEV, errno.EACCES)
    assert (project / "mod.py").read_text() == "x = 1\n"
    assert not (project / "moved").exists()


@needs_landlock
@pytest.mark.skipif(ABI < 4, reason="TCP rules need Landlock ABI 4")
def test_tcp_connect_and_bind_are_refused():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def child():
        ll.restrict(ABI, SYSTEM, [])
        return {
            "connect": errno_of(lambda: socket.create_connection(("127.0.0.1", port), timeout=2)),
            "bind": errno_of(lambda: socket.socket().bind(("127.0.0.1", 0))),
        }

    try:
        out = in_child(child)
    finally:
        server.close()
    assert out == {"connect": errno.EACCES, "bind": errno.EACCES}


@needs_landlock
@pytest.mark.skipif(ABI < 6, reason="signal scoping needs Landlock ABI 6")
def test_signals_to_processes_outside_the_domain_are_refused():
    parent = os.getpid()

    def child():
        ll.restrict(ABI, SYSTEM, [])
        own = os.fork()
        if own == 0:
            os._exit(0)
        os.waitpid(own, 0)
        return {
            "parent": errno_of(lambda: os.kill(parent, 0)),
            "own_child_allowed": own > 0,
        }

    out = in_child(child)
    assert out["parent"] == errno.EPERM
    assert out["own_child_allowed"]
    os.kill(parent, 0)  # and the parent is unharmed
    assert signal.getsignal(signal.SIGTERM) is not None
