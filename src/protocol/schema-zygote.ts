// Zygote → supervisor (fd 3): the zygote's hello, collection, the workers it
// forked and reaped, and the end of pytest's session. Part of the one message
// schema (schema.ts).
import { z } from "zod";
import { importsRecorded, location, message, pythonInfo, runOrder } from "./schema-common.js";

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
