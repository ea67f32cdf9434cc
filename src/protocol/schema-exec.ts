// Exec service (issue 13): src/pool/ ↔ python/kiln_harness/exec_zygote.py
// (fd 3) and each exec worker (a Unix socket). A worker connects twice
// (control, output); each connection opens with exec:attach, and the output
// connection carries stdout and stderr after it, each chunk framed with its
// stream (exec_output.py, src/pool/output-frames.ts).
// Part of the one message schema (schema.ts).
import { z } from "zod";
import { message, pythonInfo } from "./schema-common.js";

export const execLimits = z.strictObject({
  /** RLIMIT_NPROC for the whole pool (strict only: it counts in the pool's user namespace). */
  processes: z.number().int().optional(),
  openFiles: z.number().int().optional(),
  /** RLIMIT_FSIZE per worker (strict). */
  fileSizeMb: z.number().int().positive().optional(),
  /** The size of the pool's private /tmp tmpfs (strict; shared by its workers). */
  tmpMb: z.number().int().positive().optional(),
  /**
   * RLIMIT_NPROC per worker (strict), counted in a user namespace of the
   * worker's own, so one request's fork bomb leaves the rest of `processes`
   * to the others (exec_sandbox.own_user_namespace).
   */
  workerProcesses: z.number().int().positive().optional(),
  /** The size of a strict worker's own tmpfs on its temp dir ($TMPDIR). */
  workerTmpMb: z.number().int().positive().optional(),
});

export const supervisorToExecZygote = z.discriminatedUnion("type", [
  message("exec:hello", {
    profile: z.enum(["none", "hermetic", "strict"]),
    /** Modules the profile imports once in its zygote (numpy, ...). */
    preload: z.array(z.string()),
    /** Where workers connect (a Unix socket in scratchDir). */
    socketPath: z.string(),
    scratchDir: z.string(),
    limits: execLimits,
  }),
  /** Fork one worker; `nonce` lets only it attach as `workerId`. */
  message("exec:fork", { workerId: z.number().int(), nonce: z.string() }),
  /** SIGKILL the worker's process group (time limit, drain). */
  message("exec:kill", { workerId: z.number().int() }),
  message("shutdown", {}),
]);

export const execZygoteToSupervisor = z.discriminatedUnion("type", [
  message("exec:zygote-ready", {
    python: pythonInfo,
    pid: z.number().int(),
    profile: z.string(),
    /** Seconds spent importing the preload modules and preparing the sandbox. */
    warmSeconds: z.number(),
  }),
  /** The profile can't be applied, or a preload module failed to import. */
  message("exec:zygote-refused", { message: z.string() }),
  message("exec:forked", { workerId: z.number().int(), pid: z.number().int() }),
  message("exec:exited", {
    workerId: z.number().int(),
    pid: z.number().int(),
    exitCode: z.number().int().nullable(),
    signal: z.number().int().nullable(),
  }),
]);

export const execWorkerToSupervisor = z.discriminatedUnion("type", [
  message("exec:attach", {
    workerId: z.number().int(),
    nonce: z.string(),
    stream: z.enum(["control", "output"]),
  }),
  /** Attached and sandboxed: the worker waits for its one request. */
  message("exec:ready", { workerId: z.number().int() }),
  message("exec:done", {
    exitCode: z.number().int(),
    /** The last expression's (or the function's) value: JSON, else its repr. */
    result: z.unknown().optional(),
    resultKind: z.enum(["json", "repr"]).optional(),
    error: z
      .strictObject({ type: z.string(), message: z.string(), traceback: z.string() })
      .optional(),
    limitsHit: z.array(z.enum(["time", "memory", "output"])),
  }),
]);

/** One workspace module inside exec:run's body (source, then marshalled code). */
export const execWorkspaceModule = z.strictObject({
  name: z.string(),
  isPackage: z.boolean(),
  /** Relative path inside the workspace ("pkg/mod.py"); null for a namespace package. */
  path: z.string().nullable(),
  sourceOffset: z.number().int().nonnegative(),
  sourceLength: z.number().int().nonnegative(),
  codeOffset: z.number().int().nonnegative(),
  codeLength: z.number().int().nonnegative(),
});

export const supervisorToExecWorker = z.discriminatedUnion("type", [
  message("exec:run", {
    code: z.string().optional(),
    /** The code's file name (co_filename, __file__): `kiln exec FILE` runs it as python FILE would. */
    filename: z.string().optional(),
    module: z.string().optional(),
    function: z.string().optional(),
    args: z.array(z.unknown()).optional(),
    stdin: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    memoryMb: z.number().int().optional(),
    workspace: z
      .strictObject({
        name: z.string(),
        version: z.number().int(),
        modules: z.array(execWorkspaceModule),
      })
      .optional(),
  }),
]);
