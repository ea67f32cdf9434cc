// The one definition of every message between Kiln's TypeScript and Python
// sides: the supervisor and the zygote (fd 3), the supervisor and workers
// (a Unix socket), and the registry's compile server (fd 3). The TypeScript
// types (messages.ts) are inferred from these schemas, the supervisor's
// runtime checks (decode.ts) parse with them, and the Python side gets the
// same table as JSON Schema (python/kiln_harness/protocol_schema.json,
// written by `npm run gen:protocol` and checked by protocol-schema.test.ts).
// Objects are strict: a field one side sends and the other does not know is
// a bug, caught the first time it is sent (both sides ship together).
import { z } from "zod";

/** Every header carries it; the first frame on a channel checks it (hello). */
export const PROTOCOL_VERSION = 1;
/** A larger frame is a protocol error, never a silent truncation (frame-codec.ts). */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024;

/** A message: its `type` literal, the protocol version, and its fields. */
function message<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), v: z.number().int().optional(), ...shape });
}

const when = z.enum(["setup", "call", "teardown"]);
const location = z.array(z.unknown());
const interrupt = z.tuple([z.string(), z.number().int()]);

/**
 * How a test:finished body packs pytest's serialized reports (a list of
 * pytest_report_to_serializable dicts): marshal normally, JSON when a report
 * holds values marshal can't take. Opaque to the supervisor, which forwards it.
 */
export const reportBodyFormat = z.enum(["marshal", "json"]);

/** What the supervisor reads of each report without unpacking the body. */
export const reportMeta = z.strictObject({
  when,
  outcome: z.enum(["passed", "failed", "skipped"]),
  duration: z.number(),
  wasxfail: z.boolean(),
  /** pytest's longreprtext, for failed reports only, clipped like `sections`. */
  longreprtext: z.string().optional(),
  /** The crash line's message (longrepr.reprcrash.message), when the failure has one. */
  message: z.string().optional(),
  /** A skipped report's longrepr: [path, lineno, reason]. */
  skip: z.tuple([z.string(), z.number().int().nullable(), z.string()]).optional(),
  /** report.wasxfail, the xfail reason ("" when none was given). */
  xfailReason: z.string().optional(),
  /** record_property values, as [name, str(value)]. */
  userProperties: z.array(z.tuple([z.string(), z.string()])).optional(),
  /**
   * The captured output and log sections this phase added, [title, text]
   * (pytest's report.sections repeat the earlier phases'; the worker sends
   * each once). Each text is clipped to RECORD_TEXT_LIMIT (python/kiln_harness/report_sender.py): the
   * zygote, which prints, gets it whole in the body.
   */
  sections: z.array(z.tuple([z.string(), z.string()])).optional(),
  /** Epoch seconds when the phase started and stopped (pytest's report.start/stop). */
  start: z.number().optional(),
  stop: z.number().optional(),
});

export const pythonInfo = z.strictObject({
  executable: z.string(),
  version: z.string(),
  implementation: z.string(),
});

/**
 * What pytest's cache plugins did to the order of `items` (kiln_harness/cache_order.py):
 * `first` leading items were put first on purpose (--ff: previous failures,
 * --nf: new tests); `keep`: the rest's order is deliberate too (--nf, --sw).
 */
export const runOrder = z.strictObject({
  first: z.number().int(),
  keep: z.boolean(),
  by: z.string().nullable(),
});

const warningRecorded = {
  /** warnings_codec.serialize_warning's dict. */
  warning: z.record(z.string(), z.unknown()),
  when: z.string(),
  nodeid: z.string(),
  location: location.nullable(),
};

/**
 * A worker's session ended with pytest's Exit (`q` in the debugger,
 * pytest.exit()), or a test raised KeyboardInterrupt (`interrupt`: where,
 * [file, line]); the zygote's session ends the same way.
 */
const runExit = {
  reason: z.string(),
  returncode: z.number().int().nullable(),
  interrupt: interrupt.optional(),
};

/** Supervisor → zygote, first frame: the run's configuration. */
/** Worker isolation (DESIGN.md section 4; src/sandbox/profiles.ts, python/kiln_harness/sandbox.py). */
export const isolationProfile = z.enum(["none", "hermetic", "strict"]);

/** Resource limits of a strict worker; absent keys are not limited. */
export const isolationLimits = z.strictObject({
  addressSpaceMb: z.number().int().positive().optional(),
  processes: z.number().int().positive().optional(),
  fileSizeMb: z.number().int().positive().optional(),
  openFiles: z.number().int().positive().optional(),
  cpuSeconds: z.number().int().positive().optional(),
  /** Size of the run's private /tmp and /dev/shm (tmpfs size=, shared by its workers). */
  tmpMb: z.number().int().positive().optional(),
  /** cgroup v2, only where a delegated cgroup exists. */
  memoryMb: z.number().int().positive().optional(),
  pids: z.number().int().positive().optional(),
});

export const isolation = z.strictObject({
  profile: isolationProfile,
  limits: isolationLimits,
  /** The project's directories (cwd, rootdir): kept under a private /tmp, read-only under strict. */
  projectPaths: z.array(z.string()),
});

export const helloToZygote = message("hello", {
  args: z.array(z.string()),
  socketPath: z.string(),
  /** With workersAuto, the most workers there may be (run:planned says how many). */
  workers: z.number().int(),
  workersAuto: z.boolean().optional(),
  dist: z.string(),
  timeout: z.number().nullable(),
  /** The run's scratch directory: stack dumps, spilled report bodies. */
  scratchDir: z.string(),
  interpreterNote: z.string(),
  /**
   * `--changed` / `--affected-by` (src/daemon/affected.ts): run only `files`
   * of the `candidates` test files (paths relative to `rootdir`); `note` is
   * the header line saying what was selected. Absent: no selection.
   * `nodeids` (`kiln watch`'s "failed only"): of the items collected from
   * `files`, only these run; the rest are deselected as pytest's --deselect does.
   */
  select: z
    .strictObject({
      rootdir: z.string(),
      files: z.array(z.string()),
      candidates: z.array(z.string()),
      note: z.string(),
      nodeids: z.array(z.string()).optional(),
    })
    .optional(),
  /** Absent: "none". */
  isolation: isolation.optional(),
  /** Where the zygote came from, when not a fresh interpreter (the daemon's level 0). */
  zygoteNote: z.string().optional(),
  /**
   * `--shard I/N` (1-based): after collection the zygote sends shard:items
   * and deselects what shard:keep leaves out (src/scheduler/shard.ts).
   */
  shard: z.strictObject({ index: z.number().int(), count: z.number().int() }).optional(),
});

/**
 * Project files (relative to pytest's rootdir) each test file loaded: at
 * collection (the zygote) or while running (a worker); `session`: loaded in
 * the zygote outside any test module (kiln_harness/affected.py).
 */
const importsRecorded = message("imports:recorded", {
  files: z.record(z.string(), z.array(z.string())),
  session: z.array(z.string()),
});

export const supervisorToZygote = z.discriminatedUnion("type", [
  helloToZygote,
  message("worker:spawn", {
    workerId: z.number().int(),
    /**
     * The worker's first group, handed over in the fork: it starts running
     * once set up instead of asking for work and waiting for the answer.
     */
    indices: z.array(z.number().int()).optional(),
  }),
  message("test:finished", {
    workerId: z.number().int(),
    nodeid: z.string(),
    location,
    format: reportBodyFormat,
    /** The test's protocol was cut short (Exit): no pytest_runtest_logfinish. */
    unfinished: z.boolean().optional(),
    /** The body is in this file, not the frame (see the worker's test:finished). */
    bodyFile: z.string().optional(),
  }),
  message("test:crashed", {
    workerId: z.number().int(),
    nodeid: z.string(),
    when,
    message: z.string(),
    duration: z.number(),
  }),
  message("warning:recorded", warningRecorded),
  message("run:finish", {}),
  /** --shard: the positions in shard:items' `nodeids` this shard runs. */
  message("shard:keep", { indices: z.array(z.number().int()), note: z.string() }),
  /** `-n auto` chose this many workers (sent before the first worker:spawn). */
  message("run:planned", { workers: z.number().int(), note: z.string() }),
  message("run:exit", runExit),
  /**
   * The pack the zygote's finder serves project modules from; null: none.
   * `rootdir`: the directory the pack was prepared for (pytest's rootdir as
   * src/config/rootdir.ts works it out); the zygote checks it against pytest's.
   */
  message("registry:ready", {
    packPath: z.string().nullable(),
    note: z.string(),
    rootdir: z.string().nullable(),
  }),
]);

export const zygoteToSupervisor = z.discriminatedUnion("type", [
  message("hello", {
    python: pythonInfo,
    pytest: z.string(),
    pid: z.number().int(),
    /** importlib.util.MAGIC_NUMBER hex, cache tag and -O level: registry keys. */
    magic: z.string(),
    cacheTag: z.string(),
    optimize: z.number().int(),
  }),
  message("hello:refused", {
    reason: z.string().optional(),
    message: z.string(),
    python: pythonInfo.optional(),
  }),
  message("registry:stats", {
    served: z.number().int(),
    fallbacks: z.number().int(),
    errors: z.array(z.string()),
    /** [module, path, "registry" | "fallback" | "level1"]; no load time: see kiln_harness/loader.py */
    loads: z.array(z.tuple([z.string(), z.string(), z.string()])).optional(),
  }),
  /**
   * --shard: every item pytest collected and did not deselect, for the
   * supervisor's split; the zygote waits for shard:keep.
   */
  message("shard:items", { rootdir: z.string(), nodeids: z.array(z.string()) }),
  message("collection:finished", {
    rootdir: z.string(),
    items: z.array(z.strictObject({ nodeid: z.string(), location })),
    errors: z.array(z.strictObject({ nodeid: z.string(), longreprtext: z.string() })),
    /** Collectors skipped as a whole (module-level skip): str(report.longrepr). */
    skipped: z.array(z.strictObject({ nodeid: z.string(), longrepr: z.string() })).optional(),
    deselected: z.number().int().optional(),
  }),
  /**
   * Collection succeeded (or errors are tolerated): schedule these items.
   * `serial` names the option (--pdb, --trace) that needs one worker owning
   * the terminal, whatever -n says; `order`: what pytest's cache plugins did.
   * `timeoutOwner`: who applies --timeout: "pytest-timeout" when that plugin
   * is active (python/kiln_harness/plugin_compat.py); the worker's own
   * watchdog then backs up each test's pytest-timeout value, so the
   * supervisor's no-progress watchdog (sized on --timeout alone) stays off.
   */
  message("run:ready", {
    items: z.array(z.string()),
    serial: z.string().optional(),
    order: runOrder.optional(),
    timeoutOwner: z.enum(["kiln", "pytest-timeout"]).optional(),
  }),
  importsRecorded,
  /** pytest's rootdir is not the one the registry was prepared for: plain imports from here on. */
  message("registry:rootdir-mismatch", { prepared: z.string(), rootdir: z.string() }),
  message("worker:spawned", { workerId: z.number().int(), pid: z.number().int() }),
  message("worker:exited", {
    workerId: z.number().int(),
    pid: z.number().int(),
    exitCode: z.number().int().nullable(),
    signal: z.number().int().nullable(),
  }),
  message("run:stop-requested", { reason: z.string() }),
  /**
   * pytest's session is over: its exit status, and the duration pytest's
   * terminal summary printed ("in 1.23s"), for the run record.
   */
  /**
   * [name, file] of the modules pytest.main imported from outside the
   * project, in import order: what the daemon's level 0 imports next time.
   */
  message("modules:imported", { modules: z.array(z.tuple([z.string(), z.string()])) }),
  message("session:finished", {
    exitCode: z.number().int(),
    seconds: z.number().nullable(),
  }),
]);

export const workerToSupervisor = z.discriminatedUnion("type", [
  /**
   * pid: the worker's own getpid(), or null inside a PID namespace (hermetic,
   * strict), where it is not a pid the supervisor can signal; the zygote's
   * worker:spawned pid is then the only one used.
   */
  message("worker:hello", { workerId: z.number().int(), pid: z.number().int().nullable() }),
  message("work:wanted", {}),
  message("test:finished", {
    nodeid: z.string(),
    location,
    reports: z.array(reportMeta),
    format: reportBodyFormat,
    unfinished: z.boolean().optional(),
    /**
     * A body larger than SPILL_BODY_AT (report_sender.py) (a test that printed
     * hundreds of MB) is written to this file in the run's scratch
     * directory; the zygote reads and deletes it. A frame size is never a
     * test failure.
     */
    bodyFile: z.string().optional(),
  }),
  message("warning:recorded", warningRecorded),
  /** The debugger stopped the running test: no timeout applies to it any more. */
  message("debugger:entered", {}),
  message("run:exit", runExit),
  importsRecorded,
  message("worker:done", {}),
]);

export const supervisorToWorker = z.discriminatedUnion("type", [
  message("work", { indices: z.array(z.number().int()) }),
  message("work:none", {}),
  /**
   * `kiln agent`: no work now, more may come. The worker finishes what it
   * holds as if it were its last (nextitem None: every fixture torn down,
   * as at the end of a session), then waits for `work` instead of exiting.
   */
  message("work:later", {}),
  message("stop", {}),
]);

const compileFile = z.strictObject({
  /** Absolute path: it becomes the code object's co_filename. */
  path: z.string(),
  /** Dotted module name (relative imports are resolved against it). */
  module: z.string(),
  /** The file is a package's __init__.py. */
  isPackage: z.boolean(),
  /** Apply pytest's assertion rewriting (test modules and conftests). */
  rewrite: z.boolean(),
  /** co_filename when it is not `path`: a workspace module's virtual path (issue 13). */
  filename: z.string().optional(),
});

export const supervisorToCompileServer = z.discriminatedUnion("type", [
  message("compile:batch", {
    id: z.number().int(),
    optimize: z.number().int(),
    files: z.array(compileFile),
  }),
  message("shutdown", {}),
]);

/** module_info.py's ImportRef; registry/types.ts's plus `guarded`. */
const importRef = z.strictObject({
  module: z.string(),
  names: z.array(z.string()).optional(),
  line: z.number().int(),
  level: z.number().int(),
  conditional: z.boolean(),
  guarded: z.boolean(),
});

const publicName = z.strictObject({
  name: z.string(),
  kind: z.enum(["function", "class", "variable", "import", "submodule"]),
  line: z.number().int(),
  signature: z.string().optional(),
});

/** One file of a compile:result: its code is at codeOffset in the frame body. */
const compileResult = z.union([
  z.strictObject({
    path: z.string(),
    ok: z.literal(true),
    sourceHash: z.string(),
    magic: z.string(),
    cacheTag: z.string(),
    optimize: z.number().int(),
    rewrittenBy: z.string().nullable(),
    codeOffset: z.number().int().nonnegative(),
    codeLength: z.number().int().nonnegative(),
    imports: z.array(importRef),
    names: z.array(publicName),
    allNames: z.array(z.string()),
    dynamicNames: z.boolean(),
    namesOpaque: z.boolean(),
    /** import_module(x) / __import__(x) with a non-literal name (module_info.py). */
    computedImports: z.boolean(),
  }),
  z.strictObject({
    path: z.string(),
    ok: z.literal(false),
    error: z.strictObject({ path: z.string(), line: z.number().int(), message: z.string() }),
  }),
]);

export const compileServerToSupervisor = z.discriminatedUnion("type", [
  message("hello", {
    /** importlib.util.MAGIC_NUMBER as hex. */
    magic: z.string(),
    cacheTag: z.string(),
    /** pytest's version, or null when pytest is not installed. */
    pytest: z.string().nullable(),
    python: z.string(),
  }),
  message("compile:result", { id: z.number().int(), results: z.array(compileResult) }),
  /** A malformed request (id null when it had none). */
  message("compile:error", { id: z.number().int().nullable(), message: z.string() }),
]);

// ---- Exec service (issue 13): src/pool/ ↔ python/kiln_harness/exec_zygote.py
// (fd 3) and each exec worker (a Unix socket). A worker connects three times
// (control, stdout, stderr); each connection opens with exec:attach, and the
// output connections carry raw bytes after it (the worker's fds 1 and 2).

export const execLimits = z.strictObject({
  /** RLIMIT_NPROC for the whole pool (strict only: it counts in the pool's user namespace). */
  processes: z.number().int().optional(),
  openFiles: z.number().int().optional(),
  /** RLIMIT_FSIZE per worker (strict). */
  fileSizeMb: z.number().int().positive().optional(),
  /** The size of the pool's private /tmp tmpfs (strict; shared by its workers). */
  tmpMb: z.number().int().positive().optional(),
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
    stream: z.enum(["control", "stdout", "stderr"]),
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

/**
 * `kiln` → the daemon (kiln_harness/daemon.py, level 0 of the zygote tree),
 * on its Unix socket; the daemon answers each request on the same connection.
 */
export const clientToDaemon = z.discriminatedUnion("type", [
  /**
   * Fork a zygote for this run. The daemon checks that the fork would be what
   * a cold start gives (same interpreter path, environment, modules unchanged
   * on disk), takes the client's stdin/stdout/stderr (pidfd_getfd(2)), and the
   * child connects to `channelPath`, the run's fd 3 channel.
   */
  message("daemon:fork", {
    python: z.string(),
    cwd: z.string(),
    env: z.record(z.string(), z.string()),
    pid: z.number().int(),
    channelPath: z.string(),
  }),
  message("daemon:status", {}),
  message("daemon:stop", {}),
]);

export const daemonToClient = z.discriminatedUnion("type", [
  /** The run's zygote: its pid (its own session and process group). */
  message("daemon:forked", {
    pid: z.number().int(),
    /** Level 0's pid and when it became warm (epoch ms). */
    level0Pid: z.number().int(),
    warmSince: z.number(),
    /** How many modules level 0 imported ahead, learned from the last run. */
    preloaded: z.number().int(),
    /** The level that forked it: 1 when the project's modules it held still match the files. */
    level: z.number().int(),
    /** How many project modules level 1 held for it (0 from level 0). */
    held: z.number().int(),
  }),
  /** Not forked: the run starts cold and says why. */
  message("daemon:refused", { reason: z.string() }),
  /** The forked zygote's wait status, once level 0 reaped it. */
  message("daemon:exited", {
    pid: z.number().int(),
    exitCode: z.number().int().nullable(),
    /** The signal's number (os.WTERMSIG), or null. */
    signal: z.number().int().nullable(),
  }),
  message("daemon:status", {
    pid: z.number().int(),
    socket: z.string(),
    rootdir: z.string(),
    python: z.string(),
    pythonVersion: z.string(),
    pytest: z.string(),
    fingerprint: z.string(),
    startedAt: z.number(),
    warmSince: z.number(),
    idleSeconds: z.number(),
    lastUsedAt: z.number(),
    runsServed: z.number().int(),
    running: z.array(z.number().int()),
    preloaded: z.number().int(),
    /** Learned modules left out of level 0, with the reason (a warning on import, ...). */
    excluded: z.array(z.tuple([z.string(), z.string()])),
    /** Resident memory per level of the zygote tree (kB, /proc/<pid>/status VmRSS). */
    levels: z.array(
      z.strictObject({
        level: z.number().int(),
        pid: z.number().int(),
        rssKb: z.number().int(),
        /** Level 1: the project modules it holds; from its fork of level 0 to warm, and its imports' share. */
        modules: z.number().int().optional(),
        buildMs: z.number().optional(),
        importMs: z.number().optional(),
      }),
    ),
    /** Level 1's state: warm, building, or why there is none. */
    level1: z.string(),
  }),
  message("daemon:stopping", {}),
]);

/** Each channel direction, by the name the Python table uses. */
export const DIRECTIONS = {
  supervisorToZygote,
  zygoteToSupervisor,
  workerToSupervisor,
  supervisorToWorker,
  supervisorToCompileServer,
  compileServerToSupervisor,
  supervisorToExecZygote,
  execZygoteToSupervisor,
  execWorkerToSupervisor,
  supervisorToExecWorker,
  clientToDaemon,
  daemonToClient,
} as const;

export type Direction = keyof typeof DIRECTIONS;
