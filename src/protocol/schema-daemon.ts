// `kiln` ↔ the daemon (its Unix socket). Part of the one message schema
// (schema.ts).
import { z } from "zod";
import { message } from "./schema-common.js";

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
    /**
     * What the run's hello will carry besides its per-run fields (socketPath,
     * scratchDir, zygoteNote), and whether the registry is on: with the
     * rest of the request, the key of a held collection
     * (kiln_harness/held_server.py). Absent: never held.
     */
    hold: z.record(z.string(), z.unknown()).optional(),
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
    /**
     * Forked from a held collection (kiln_harness/held.py): pytest's
     * configuration and collection of an earlier run with the same inputs,
     * this many items. Absent: the run configures and collects.
     */
    collected: z.number().int().optional(),
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
    /** Held collections (kiln_harness/held.py): a process each, with the items it holds. */
    held: z
      .array(
        z.strictObject({ pid: z.number().int(), rssKb: z.number().int(), items: z.number().int() }),
      )
      .optional(),
  }),
  message("daemon:stopping", {}),
]);
