import os
import select
import signal
import time

from kiln_harness.forking import drain_wakeup, fork_worker, reap_children


def _wait_for(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child, code, sig in reap_children():
            if child == pid:
                return code, sig
        time.sleep(0.01)
    raise AssertionError(f"child {pid} did not exit")


def test_child_return_value_is_its_exit_status():
    pid = fork_worker(lambda: 7, close_fds=())
    assert _wait_for(pid) == (7, None)


def test_exception_in_child_exits_70_and_prints_traceback(capfd):
    def boom():
        raise ValueError("worker blew up")

    pid = fork_worker(boom, close_fds=())
    assert _wait_for(pid) == (70, None)
    assert "worker blew up" in capfd.readouterr().err


def test_signal_death_is_reported_as_signal():
    pid = fork_worker(lambda: os.kill(os.getpid(), signal.SIGSEGV), close_fds=())
    assert _wait_for(pid) == (None, signal.SIGSEGV)


def test_os_exit_status_is_kept():
    pid = fork_worker(lambda: os._exit(3), close_fds=())
    assert _wait_for(pid) == (3, None)


def test_listed_fds_are_closed_in_the_child():
    r, w = os.pipe()
    probe_r, probe_w = os.pipe()

    def child():
        try:
            os.fstat(w)
            os.write(probe_w, b"open")
        except OSError:
            os.write(probe_w, b"closed")
        return 0

    pid = fork_worker(child, close_fds=(w,))
    assert _wait_for(pid) == (0, None)
    assert os.read(probe_r, 16) == b"closed"
    for fd in (r, w, probe_r, probe_w):
        os.close(fd)


def test_drain_wakeup_empties_the_pipe_after_a_burst_of_signals():
    # More signals than one 512-byte read takes: CPython's handler writes a
    # byte per signal, and a single read would leave the pipe readable.
    r, w = os.pipe2(os.O_NONBLOCK)
    old_handler = signal.signal(signal.SIGUSR1, lambda *_: None)
    old_wakeup = signal.set_wakeup_fd(w)
    try:
        for _ in range(1500):
            os.kill(os.getpid(), signal.SIGUSR1)
        readable, _, _ = select.select([r], [], [], 0)
        assert readable == [r]
        drain_wakeup(r)
        readable, _, _ = select.select([r], [], [], 0)
        assert readable == []
        drain_wakeup(r)  # an empty pipe: returns at once instead of blocking
    finally:
        signal.set_wakeup_fd(old_wakeup)
        signal.signal(signal.SIGUSR1, old_handler)
        os.close(r)
        os.close(w)


def test_drain_wakeup_stops_at_a_closed_write_end():
    r, w = os.pipe2(os.O_NONBLOCK)
    os.write(w, b"x" * 2000)
    os.close(w)
    drain_wakeup(r)
    assert os.read(r, 1) == b""
    os.close(r)
