// Supervisor → zygote (fd 3): the run's configuration (hello), then the
// commands and forwarded worker events of the run. Part of the one message
// schema (schema.ts).
import { z } from "zod";
import {
  location,
  message,
  reportBodyFormat,
  runExit,
  warningRecorded,
  when,
} from "./schema-common.js";

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

/** Supervisor → zygote, first frame: the run's configuration. */
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
  /** Who runs the tests, when not workers forked here (`kiln test --queue`: agents). */
  workersNote: z.string().optional(),
  /**
   * `--shard I/N` (1-based): after collection the zygote sends shard:items
   * and deselects what shard:keep leaves out (src/scheduler/shard.ts).
   */
  shard: z.strictObject({ index: z.number().int(), count: z.number().int() }).optional(),
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
