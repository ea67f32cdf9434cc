"""One exec request inside a Pyodide instance (the Wasm runtime, issue 14).

The same steps as exec_worker.serve, without the process parts (no fork, no
sockets, no rlimits: the instance is a worker thread the supervisor
terminates, and its memory cap is on the Wasm heap). The request comes as
JSON and the workspace body as bytes; stdout and stderr go to the
instance's write handlers, which post them to the supervisor as they come.
"""

import io
import json
import os
import sys

from . import exec_run, exec_workspace


def serve(request_json, body):
    request = json.loads(request_json)
    outcome = exec_run.Outcome()
    if request.get("env"):
        os.environ.update(request["env"])
    sys.stdin = sys.__stdin__ = io.StringIO(request.get("stdin") or "")
    if request.get("workspace"):
        exec_workspace.install(request["workspace"], bytes(body))
    if request.get("code") is not None:
        exec_run.run_code(request["code"], outcome, request.get("filename"))
    else:
        exec_run.run_function(request["module"], request["function"], request.get("args"), outcome)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    done = {"exitCode": outcome.exit_code, "limitsHit": outcome.limits_hit}
    if outcome.has_result:
        done["result"], done["resultKind"] = exec_run.to_result(outcome.result)
    if outcome.error is not None:
        done["error"] = outcome.error
    return json.dumps(done)
