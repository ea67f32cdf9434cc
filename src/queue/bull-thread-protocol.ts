// Messages between the coordinator and its BullMQ thread (bull-thread.ts).
import type { EnqueueSettings, TestProgress } from "./bull.js";

type Jobs = { id: string; nodeids: string[] }[];

export type ThreadRequest = { id: number } & (
  | { op: "enqueue"; runId: string; jobs: Jobs; settings: EnqueueSettings }
  | { op: "agentCount" }
  | { op: "waitForAgent"; timeoutMs: number }
  | { op: "withdraw"; jobIds: string[] }
  | { op: "close"; waitMs: number }
);

export type ThreadReply =
  | { kind: "opened" }
  | { kind: "openFailed"; message: string }
  | { kind: "progress"; jobId: string; batch: TestProgress[] }
  | { kind: "completed"; jobId: string }
  | { kind: "failed"; jobId: string; reason: string }
  | { kind: "connectionLost"; message: string }
  | { kind: "reply"; id: number; ok: true; value: unknown }
  | { kind: "reply"; id: number; ok: false; message: string };
