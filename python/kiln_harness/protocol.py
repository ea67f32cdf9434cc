# Kiln wire protocol, Python side. Mirror: src/protocol/frame-codec.ts.
#
# Frame layout (all integers little-endian):
#   u32 frame_length   bytes that follow this field (header_length field included)
#   u32 header_length  bytes of the JSON header
#   header             UTF-8 JSON object: {"v": 1, "type": "<domain:verb>", ...}
#   body               frame_length - 4 - header_length raw bytes (may be empty)
#
# The first frame on every channel is a "hello" handshake carrying "v"; a peer
# that sees another version refuses the channel. Frames larger than
# MAX_FRAME_BYTES are a protocol error, never a silent truncation.
"""Length-prefixed frames with a JSON header and an optional raw body."""

import _signal
import json
import os
import signal
import struct
import threading

from .message_schema import MAX_FRAME_BYTES, PROTOCOL_VERSION, validate

# KILN_PROTOCOL_CHECK=1: every channel checks each header it sends and
# receives against the shared table (message_schema.py); the contract test
# runs Kiln this way. Off by default: the supervisor checks what it receives.
_CHECK = bool(os.environ.get("KILN_PROTOCOL_CHECK"))
_U32 = struct.Struct("<I")


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid frame."""


def encode_frame(header, body=b""):
    if "type" not in header:
        raise ProtocolError("this is a bug in kiln: frame header without a type")
    head = dict(header)
    head.setdefault("v", PROTOCOL_VERSION)
    raw = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    length = 4 + len(raw) + len(body)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    return b"".join((_U32.pack(length), _U32.pack(len(raw)), raw, body))


class FrameDecoder:
    """Incremental decoder: feed() any chunking of the stream, get whole frames."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data):
        self._buf += data
        frames = []
        while True:
            if len(self._buf) < 4:
                return frames
            (length,) = _U32.unpack_from(self._buf, 0)
            if length < 4 or length > MAX_FRAME_BYTES:
                raise ProtocolError(f"invalid frame length {length}")
            if len(self._buf) < 4 + length:
                return frames
            (hlen,) = _U32.unpack_from(self._buf, 4)
            if hlen > length - 4:
                raise ProtocolError(f"header length {hlen} exceeds frame length {length}")
            raw = bytes(self._buf[8 : 8 + hlen])
            body = bytes(self._buf[8 + hlen : 4 + length])
            del self._buf[: 4 + length]
            try:
                header = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ProtocolError(f"frame header is not JSON: {exc}") from None
            if not isinstance(header, dict) or not isinstance(header.get("type"), str):
                raise ProtocolError("frame header is not an object with a string 'type'")
            frames.append((header, body))

    @property
    def pending(self):
        return len(self._buf)


def _hold_signals():
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread runs Python's signal handlers
    return _signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _check(direction, header):
    problems = validate(direction, dict(header, v=header.get("v", PROTOCOL_VERSION)))
    if problems:
        raise ProtocolError(
            f"this is a bug in kiln: {header.get('type')!r} does not match the message table "
            f"({direction}): " + "; ".join(problems)
        )


class Channel:
    """Blocking frame I/O over a file descriptor (a pipe or a socket)."""

    # Frames queued with queue() go out with the next flush() or send(): one
    # write(2) per test instead of one per report. Each write to a socket
    # whose reader sleeps in epoll costs a wake-up (~0.3 ms measured here in
    # nested virtualization), which dominated a trivial test's overhead.
    FLUSH_AT = 256 * 1024

    def __init__(self, fd, sends=None, receives=None):
        """`sends`, `receives`: the directions in the message table
        (message_schema.py), checked under KILN_PROTOCOL_CHECK."""
        self.fd = fd
        self.sends = sends if _CHECK else None
        self.receives = receives if _CHECK else None
        self._decoder = FrameDecoder()
        self._frames = []
        self._out = []
        self._out_bytes = 0

    def queue(self, header, body=b""):
        if self.sends is not None:
            _check(self.sends, header)
        frame = encode_frame(header, body)
        self._out.append(frame)
        self._out_bytes += len(frame)
        if self._out_bytes >= self.FLUSH_AT:
            self.flush()

    def flush(self):
        if not self._out:
            return
        data = memoryview(b"".join(self._out))
        self._out = []
        self._out_bytes = 0
        # A KeyboardInterrupt between two partial writes would cut a frame in
        # half and leave the peer a stream it can't decode. Hold SIGINT and
        # SIGTERM until the frames are out; Python raises the interrupt right
        # after (its handler runs once the signal is unblocked).
        held = _hold_signals()
        try:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        finally:
            if held is not None:
                # _signal's, not signal.py's wrapper: the held interrupt is
                # raised as this call returns, and a frame of signal.py would
                # then be what "!!! KeyboardInterrupt !!!" names.
                _signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def send(self, header, body=b""):
        self.queue(header, body)
        self.flush()

    def read_available(self):
        """Read once (blocks until some bytes arrive). Returns False at EOF."""
        # 64 KiB: a larger read buffer makes the allocator mmap/munmap a
        # fresh block on every wake-up (seen under strace as ~8 page faults
        # per read); frames larger than this simply take several reads.
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return False
        frames = self._decoder.feed(chunk)
        if self.receives is not None:
            for header, _ in frames:
                _check(self.receives, header)
        self._frames.extend(frames)
        return True

    def pop_frames(self):
        frames, self._frames = self._frames, []
        return frames

    def recv(self):
        """Block until one frame arrives; None at EOF."""
        while not self._frames:
            if not self.read_available():
                return None
        return self._frames.pop(0)


def move_out_of_the_way(fd):
    """Move a channel's descriptor to a high number, close-on-exec.

    Kiln's channels would otherwise sit on the lowest free numbers (fd 3 in
    both the zygote and a worker), where user code finds them: a test that
    closes or writes to fd 3 passes under plain pytest, where fd 3 is one of
    the capture plugin's saved descriptors, but would cut or corrupt Kiln's
    channel. fcntl(2) F_DUPFD_CLOEXEC takes the lowest free number at or
    above the base, within RLIMIT_NOFILE; with no room there, the channel
    stays where it is.
    """
    import fcntl
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    base = 512 if soft == resource.RLIM_INFINITY or soft > 1024 else max(fd + 1, soft // 2)
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base)
    except OSError:
        return fd
    os.close(fd)
    return high
