"""An exec worker's output: stdout and stderr on one connection, in order.

Two connections (one per stream) kept each stream's order but not their
order relative to each other: the supervisor reads two sockets, and bytes
written to one after the other can be read first. Here both streams share
one connection, each chunk framed with its stream (OUTPUT_HEADER: one byte,
1 stdout or 2 stderr, then the length, little-endian u32; read by
src/pool/output-frames.ts), so the supervisor sees them in the order they
were sent.

What keeps which order:
- Python-level writes (print, sys.stdout/sys.stderr.write, tracebacks,
  logging to a stream handler) are framed by the writing thread itself,
  under one lock: their order is exactly the order of the writes. stdout
  is line-buffered (as on a terminal) and stderr unbuffered, but a write to
  stderr first flushes what sys.stdout holds, so a partial stdout line
  written before a stderr message comes before it.
- fds 1 and 2 are pipes whose read ends a relay thread here forwards
  (from C code, os.write, child processes). Before each Python-level write
  the pipes are drained, so a raw write that finished before a print comes
  before it. Raw writes to fd 1 and fd 2 that both wait in the pipes at
  once are not ordered relative to each other (two pipes, like the two
  connections before); each stream's own order is always kept.
"""

import errno
import io
import os
import select
import struct
import threading
import warnings

from .protocol import move_out_of_the_way

OUTPUT_HEADER = struct.Struct("<BI")
STREAM_IDS = {"stdout": 1, "stderr": 2}
# One frame's most data: large writes are split so a frame never needs a
# large buffer on either side (src/pool/output-frames.ts refuses more).
MAX_CHUNK = 64 * 1024


class OutputRelay:
    def __init__(self, out_fd):
        """out_fd: the output connection (a socket, blocking)."""
        self.out_fd = out_fd
        self.lock = threading.RLock()
        self.sending = False
        self.pending = []
        self.forked = False
        self.stdout_text = None
        self.pipes = {}  # read end -> stream
        for stream, target in (("stdout", 1), ("stderr", 2)):
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.dup2(w, target)
            os.close(w)
            self.pipes[move_out_of_the_way(r)] = stream
        self.wake_r, self.wake_w = map(move_out_of_the_way, os.pipe())
        self.thread = None
        # A child forked by the code (os.fork, multiprocessing) has no relay
        # thread and shares the connection: it writes to fds 1 and 2 as any
        # process would, and this process forwards that.
        os.register_at_fork(after_in_child=self._in_child)

    def fds(self):
        """The descriptors the sandbox must leave open (sandbox.lock keep_fds)."""
        return [self.out_fd, self.wake_r, self.wake_w, *self.pipes]

    def start(self):
        """After the sandbox is locked: the thread inherits its Landlock and
        seccomp rules, which bind only the threads that exist or are made after."""
        # Python 3.12 warns on fork in a multi-threaded process; this thread
        # holds no lock a forked child needs (_in_child resets them).
        warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
        self.thread = threading.Thread(target=self._pump, name="kiln-output", daemon=True)
        self.thread.start()

    def write(self, stream, data):
        """A Python-level write: whatever waits in the pipes first, then this."""
        if self.forked:
            _send_all(STREAM_IDS[stream], data)
            return
        if stream == "stderr" and self.stdout_text is not None:
            # A partial stdout line goes first. Flushed before taking the
            # lock: the flush takes sys.stdout's buffer lock and then this
            # one, as a print to stdout does (the other order could deadlock
            # two threads printing to the two streams).
            try:
                self.stdout_text.flush()
            except (OSError, ValueError, RuntimeError):
                pass
        with self.lock:
            self._drain()
            self._send(stream, data)

    def finish(self):
        """The code is done: forward what the pipes still hold."""
        with self.lock:
            self._drain()
        if self.thread is not None:
            os.write(self.wake_w, b"x")

    def _pump(self):
        watched = [*self.pipes, self.wake_r]
        while True:
            try:
                ready, _, _ = select.select(watched, [], [])
            except InterruptedError:
                continue
            if self.wake_r in ready:
                return
            try:
                with self.lock:
                    self._drain()
            except MemoryError:  # the code took all memory: try again shortly
                select.select([], [], [], 0.01)
            except OSError:  # the connection is gone: the worker is ending
                return

    def _drain(self):
        for r, stream in self.pipes.items():
            while True:
                try:
                    data = os.read(r, MAX_CHUNK)
                except BlockingIOError:
                    break
                if not data:
                    break
                self._send(stream, data)

    def _send(self, stream, data):
        frames = [
            OUTPUT_HEADER.pack(STREAM_IDS[stream], len(part)) + part
            for part in (data[i : i + MAX_CHUNK] for i in range(0, len(data), MAX_CHUNK))
        ]
        if self.sending:
            # A signal handler that printed in the middle of a send: its
            # frames go after the one being sent, never inside it.
            self.pending.extend(frames)
            return
        self.sending = True
        try:
            for frame in frames:
                _send_all(self.out_fd, frame)
            while self.pending:
                _send_all(self.out_fd, self.pending.pop(0))
        finally:
            self.sending = False

    def _in_child(self):
        self.forked = True
        self.lock = threading.RLock()
        self.sending = False
        self.pending = []


def _send_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except InterruptedError:
            continue
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                select.select([], [fd], [])
                continue
            raise


class _RelayedStream(io.RawIOBase):
    def __init__(self, relay, stream):
        self.relay = relay
        self.stream = stream

    def writable(self):
        return True

    def write(self, data):
        data = bytes(data)
        self.relay.write(self.stream, data)
        return len(data)

    def fileno(self):
        # The fd the stream's raw writes go to: code that writes to
        # sys.stdout.fileno() (faulthandler, subprocess's stdout=sys.stdout)
        # reaches the same stream, through the pipe.
        return STREAM_IDS[self.stream]


def text_streams(relay):
    """sys.stdout and sys.stderr over the relay: stdout line-buffered, stderr
    unbuffered (as on a terminal): each write to stderr is sent at once, so
    it has no BufferedWriter (whose buffer write_through does not skip)."""
    out = io.TextIOWrapper(
        io.BufferedWriter(_RelayedStream(relay, "stdout")), encoding="utf-8", errors="backslashreplace",
        line_buffering=True,
    )  # fmt: skip
    err = io.TextIOWrapper(
        _RelayedStream(relay, "stderr"), encoding="utf-8", errors="backslashreplace", write_through=True,
    )  # fmt: skip
    relay.stdout_text = out
    return out, err
