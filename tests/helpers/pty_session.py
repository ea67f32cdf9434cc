"""Drive a command on a real pseudo-terminal, for the interactive e2e tests.

Reads a JSON spec on stdin:
  {"argv": [...], "cwd": "...", "env": {...}, "timeoutSeconds": 60,
   "steps": [{"expect": "<regex>", "delaySeconds": 0, "send": "<text>",
              "write": {"path": "<relative to cwd>", "text": "..."}, "signal": N}, ...]}
runs argv under pty.fork() (so its stdin, stdout and stderr are the terminal,
and it is the session leader of that terminal, as under a shell), waits for
each step's regex in the output that follows the previous match, waits its
delay if any (still reading), writes the step's file, types the step's text,
sends the step's signal to the command, then reads to the end. Writes one JSON
object on stdout:
  {"transcript": "...", "exitCode": N|null, "signal": N|null, "error": "..."|null, "pid": N}
with the transcript as _plain() shows it. Standard library only.
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def _plain(out):
    """The text as a reader sees it: LF line ends, no colour codes. Steps'
    regexes match this, and it is the transcript returned."""
    text = out.decode("utf-8", "replace").replace("\r\n", "\n")
    # Colours, and the cursor moves of a status line drawn in place (\x1b[2K).
    return re.sub("\x1b\\[[0-9;?]*[A-Za-z]", "", text)


def main():
    spec = json.load(sys.stdin)
    deadline = time.monotonic() + float(spec.get("timeoutSeconds", 60))
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.chdir(spec["cwd"])
            os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
        finally:
            os._exit(127)
    # A fixed size, so pytest's separator lines do not depend on the caller.
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = bytearray()
    error = None
    eof = False

    def read_some(timeout):
        nonlocal eof
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every holder of the terminal's other end closed it
            chunk = b""
        if not chunk:
            eof = True
        out.extend(chunk)

    cursor = 0
    for step in spec.get("steps", []):
        pattern = re.compile(step["expect"])
        match = None
        while match is None:
            match = pattern.search(_plain(out), cursor)
            if match is not None:
                break
            if eof or time.monotonic() > deadline:
                error = f"never saw {step['expect']!r}"
                break
            read_some(0.2)
        if match is None:
            break
        cursor = match.end()
        pause_until = time.monotonic() + float(step.get("delaySeconds", 0))
        while not eof and time.monotonic() < pause_until:
            read_some(max(0.0, pause_until - time.monotonic()))
        if "write" in step:
            path = os.path.join(spec["cwd"], step["write"]["path"])
            with open(path, "w") as f:
                f.write(step["write"]["text"])
        if "send" in step:
            os.write(master, step["send"].encode("utf-8"))
        if "signal" in step:
            os.kill(pid, int(step["signal"]))
    while not eof and time.monotonic() < deadline and error is None:
        read_some(0.2)
    if not eof and error is None:
        error = "the command did not finish in time"
    if not eof:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    json.dump(
        {
            "transcript": _plain(out),
            "exitCode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "error": error,
            "pid": pid,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
