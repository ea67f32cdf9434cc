// The pieces of the message schema (schema.ts) that more than one channel
// direction uses: the message() helper, the protocol constants, what the
// supervisor reads of a test report, and the events both the zygote and a
// worker send.
import { z } from "zod";

/** Every header carries it; the first frame on a channel checks it (hello). */
export const PROTOCOL_VERSION = 1;
/** A larger frame is a protocol error, never a silent truncation (frame-codec.ts). */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024;

/** A message: its `type` literal, the protocol version, and its fields. */
export function message<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), v: z.number().int().optional(), ...shape });
}

export const when = z.enum(["setup", "call", "teardown"]);
export const location = z.array(z.unknown());
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

export const warningRecorded = {
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
export const runExit = {
  reason: z.string(),
  returncode: z.number().int().nullable(),
  interrupt: interrupt.optional(),
};

/**
 * Project files (relative to pytest's rootdir) each test file loaded: at
 * collection (the zygote) or while running (a worker); `session`: loaded in
 * the zygote outside any test module (kiln_harness/affected.py).
 */
export const importsRecorded = message("imports:recorded", {
  files: z.record(z.string(), z.array(z.string())),
  session: z.array(z.string()),
});
