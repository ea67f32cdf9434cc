"""An exec worker: forked from the exec zygote, serves one request, exits.

Right after the fork it enters its sandbox (exec_sandbox.py), leads its own
process group and connects to the supervisor three times (control, stdout,
stderr; each opens with exec:attach naming it with the nonce the zygote
forked it with). fds 1 and 2 become the output connections, so whatever the
code writes, from Python, C or a child process, streams to the supervisor as
it is written. Then it locks the sandbox, says exec:ready and waits for its
one exec:run; after exec:done it exits (no state crosses requests, DESIGN.md
section 7).
"""

import io
import os
import socket
import sys

from . import exec_run, exec_sandbox, exec_workspace
from .protocol import Channel, encode_frame, move_out_of_the_way


def _attach(socket_path, worker_id, nonce, stream):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    sock.sendall(encode_frame({"type": "exec:attach", "workerId": worker_id, "nonce": nonce, "stream": stream}))
    return sock.detach()


def _point_stdio(out_fd, err_fd):
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)

    def text(fd, line_buffering):
        raw = io.FileIO(fd, "w", closefd=False)
        return io.TextIOWrapper(
            io.BufferedWriter(raw), encoding="utf-8", errors="backslashreplace",
            line_buffering=line_buffering, write_through=not line_buffering,
        )  # fmt: skip

    # Like a terminal: stdout line-buffered, stderr unbuffered, so output
    # streams as the code runs (python's own -u is not needed).
    sys.stdout = sys.__stdout__ = text(1, True)
    sys.stderr = sys.__stderr__ = text(2, False)
    sys.stdin = sys.__stdin__ = io.StringIO("")


def run(worker_id, nonce, socket_path, box):
    """The worker's body (inside forking.fork_worker, which exits with what it returns)."""
    box.enter(worker_id)
    exec_sandbox.private_shm(box)
    exec_sandbox.own_process_group()
    control = move_out_of_the_way(_attach(socket_path, worker_id, nonce, "control"))
    out_fd = _attach(socket_path, worker_id, nonce, "stdout")
    err_fd = _attach(socket_path, worker_id, nonce, "stderr")
    _point_stdio(out_fd, err_fd)
    box.lock([control])
    chan = Channel(control, sends="execWorkerToSupervisor", receives="supervisorToExecWorker")
    chan.send({"type": "exec:ready", "workerId": worker_id})
    frame = chan.recv()
    if frame is None:
        return 0  # the supervisor retired this worker unused
    request, body = frame
    if request.get("type") != "exec:run":
        raise RuntimeError("this is a bug in kiln: exec worker got %r" % request.get("type"))
    outcome = serve(request, body)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    done = {"type": "exec:done", "exitCode": outcome.exit_code, "limitsHit": outcome.limits_hit}
    if outcome.has_result:
        done["result"], done["resultKind"] = exec_run.to_result(outcome.result)
    if outcome.error is not None:
        done["error"] = outcome.error
    chan.send(done)
    return 0


def serve(request, body):
    outcome = exec_run.Outcome()
    if request.get("env"):
        os.environ.update(request["env"])
    if request.get("stdin") is not None:
        sys.stdin = sys.__stdin__ = io.StringIO(request["stdin"])
    if request.get("workspace"):
        exec_workspace.install(request["workspace"], body)
    exec_sandbox.limit_memory(request.get("memoryMb"))
    if request.get("code") is not None:
        exec_run.run_code(request["code"], outcome, request.get("filename"))
    else:
        exec_run.run_function(request["module"], request["function"], request.get("args"), outcome)
    return outcome
