// Worker ↔ supervisor (the run's Unix socket): a worker's reports and its
// requests for work, and the supervisor's answers. Part of the one message
// schema (schema.ts).
import { z } from "zod";
import {
  importsRecorded,
  location,
  message,
  reportBodyFormat,
  reportMeta,
  runExit,
  warningRecorded,
} from "./schema-common.js";

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
