"""An exec worker: forked from the exec zygote, serves one request, exits.

Right after the fork it enters its sandbox (exec_sandbox.py), leads its own
process group and connects to the supervisor twice (control and output;
each opens with exec:attach naming it with the nonce the zygote forked it
with). stdout and stderr share the output connection, framed by stream
(exec_output.py says which order is kept), so whatever the code writes,
from Python, C or a child process, streams to the supervisor as it is
written. Then it locks the sandbox, says exec:ready and waits for its one
exec:run; after exec:done it exits (no state crosses requests, DESIGN.md
section 7).
"""

import io
import os
import socket
import sys

from . import exec_output, exec_run, exec_sandbox, exec_workspace
from .protocol import Channel, encode_frame, move_out_of_the_way


def _attach(socket_path, worker_id, nonce, stream):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    sock.sendall(encode_frame({"type": "exec:attach", "workerId": worker_id, "nonce": nonce, "stream": stream}))
    return sock.detach()


def _point_stdio(relay):
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout, sys.stderr = exec_output.text_streams(relay)
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr
    sys.stdin = sys.__stdin__ = io.StringIO("")


def run(worker_id, nonce, socket_path, box):
    """The worker's body (inside forking.fork_worker, which exits with what it returns)."""
    box.enter(worker_id)
    exec_sandbox.private_shm(box)
    exec_sandbox.private_temp(box)
    exec_sandbox.own_user_namespace(box)
    exec_sandbox.own_process_group()
    control = move_out_of_the_way(_attach(socket_path, worker_id, nonce, "control"))
    relay = exec_output.OutputRelay(move_out_of_the_way(_attach(socket_path, worker_id, nonce, "output")))
    _point_stdio(relay)
    box.lock([control, *relay.fds()])
    relay.start()
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
    relay.finish()
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
