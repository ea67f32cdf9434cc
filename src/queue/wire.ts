// What an agent sends the coordinator for each test of a job (the `report`
// of bull.ts's TestProgress): the worker's own test:finished message and its
// body (pytest's serialized reports, as the zygote replays them locally), or
// the crash the agent's run machine reported for a test whose worker died
// (a segfault, a --timeout kill), or a worker's pytest.exit(). The
// coordinator replays each into its zygote's pytest hooks exactly as a local
// worker's would be (run-machine.ts testFinished / failTest). It crosses
// Redis, so the coordinator checks its shape before believing it.
import { z } from "zod";
import { reportBodyFormat, reportMeta } from "../protocol/schema.js";
import { warningRecorded } from "../protocol/schema-common.js";

/** Which agent sent it (host:pid), for the run record's worker column. */
const agent = z.string();

/** A warning:recorded message of the test's worker, without its type. */
const warning = z.strictObject(warningRecorded);

export type RecordedWarning = z.infer<typeof warning>;

const finished = z.strictObject({
  kind: z.literal("finished"),
  agent,
  location: z.array(z.unknown()),
  reports: z.array(reportMeta),
  format: reportBodyFormat,
  unfinished: z.boolean().optional(),
  /** The body, base64 (a spilled body file is read in by the agent). */
  body: z.string(),
  warnings: z.array(warning).optional(),
});

const crashed = z.strictObject({
  kind: z.literal("crashed"),
  agent,
  when: z.enum(["setup", "call", "teardown"]),
  message: z.string(),
  duration: z.number(),
  warnings: z.array(warning).optional(),
});

const exited = z.strictObject({
  kind: z.literal("exit"),
  agent,
  reason: z.string(),
  returncode: z.number().int().nullable(),
  interrupt: z.tuple([z.string(), z.number().int()]).optional(),
});

export const agentReport = z.discriminatedUnion("kind", [finished, crashed, exited]);

export type AgentReport = z.infer<typeof agentReport>;

/** The report, or a description of what is wrong with it. */
export function readAgentReport(value: unknown): AgentReport | string {
  const parsed = agentReport.safeParse(value);
  return parsed.success ? parsed.data : parsed.error.message;
}
