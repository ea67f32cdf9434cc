"""One JSON object per line over a stream socket: what the daemon and the
processes it keeps (level 1, held collections) say to each other. Their
messages are small and few (a fork request and its answer), so a line is
enough; the run's own channel (protocol.py) is framed for reports."""

import json


class JsonLines:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, message):
        self.sock.sendall((json.dumps(message) + "\n").encode())

    def pop(self):
        """The next whole message already read, or None."""
        if b"\n" not in self.buf:
            return None
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def fill(self):
        """Read what is there; False at EOF."""
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def recv(self):
        """The next message, waiting for it; None at EOF or a socket error."""
        while True:
            message = self.pop()
            if message is not None:
                return message
            try:
                if not self.fill():
                    return None
            except OSError:
                return None
