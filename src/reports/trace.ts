// What each process did, as Chrome trace-event JSON (opens in ui.perfetto.dev
// or chrome://tracing): track 0 is the supervisor and zygote (zygote start,
// collection), then one track per worker with its fork and, per test, a span
// holding its setup/call/teardown phases. Times are microseconds since the
// run started; phases use pytest's own start/stop stamps.
import type { WorkerRecord } from "../events/records.js";
import type { ReportContext, ReportModule } from "./module.js";
import { phaseSpans } from "./test-model.js";

interface TraceEvent {
  name: string;
  cat?: string;
  ph: "X" | "i" | "M";
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  s?: "t";
  args?: Record<string, unknown>;
}

const PID = 1;

function round(us: number): number {
  return Math.round(us * 1000) / 1000;
}

export function buildTrace(
  context: ReportContext,
): { traceEvents: TraceEvent[] } & Record<string, unknown> {
  const t0 = context.manifest.startedAt;
  const us = (ms: number) => round((ms - t0) * 1000);
  const events: TraceEvent[] = [];
  const span = (
    tid: number,
    name: string,
    from: number,
    to: number,
    cat: string,
    args?: Record<string, unknown>,
  ) => {
    const event: TraceEvent = {
      name,
      cat,
      ph: "X",
      pid: PID,
      tid,
      ts: us(from),
      dur: round(Math.max(0, to - from) * 1000),
    };
    if (args) event.args = args;
    events.push(event);
  };
  const instant = (tid: number, name: string, at: number, args?: Record<string, unknown>) => {
    const event: TraceEvent = {
      name,
      cat: "lifecycle",
      ph: "i",
      s: "t",
      pid: PID,
      tid,
      ts: us(at),
    };
    if (args) event.args = args;
    events.push(event);
  };
  events.push({
    name: "process_name",
    ph: "M",
    pid: PID,
    tid: 0,
    args: { name: `kiln run ${context.manifest.runId}` },
  });
  events.push({
    name: "thread_name",
    ph: "M",
    pid: PID,
    tid: 0,
    args: { name: "supervisor + zygote" },
  });

  const at = new Map<string, number>();
  const workerIds = new Set<number>();
  const forkStart = new Map<number, number>();
  for (const record of context.records.workers) lifecycle(record);
  function lifecycle(record: WorkerRecord): void {
    switch (record.event) {
      case "zygote:spawned":
      case "zygote:ready":
      case "run:finished":
        at.set(record.event, record.at);
        break;
      case "zygote:exited":
        instant(0, "zygote exited", record.at, {
          exitCode: record.exitCode,
          signal: record.signal,
        });
        break;
      case "worker:spawn-requested":
        workerIds.add(record.workerId);
        forkStart.set(record.workerId, record.at);
        break;
      case "worker:connected": {
        const from = forkStart.get(record.workerId) ?? record.at;
        span(record.workerId, "fork + connect", from, record.at, "lifecycle", { pid: record.pid });
        break;
      }
      case "worker:exited":
        workerIds.add(record.workerId);
        instant(record.workerId, "worker exited", record.at, {
          exitCode: record.exitCode,
          signal: record.signal,
        });
        break;
      case "run:stop-requested":
        instant(0, "stop requested", record.at, { reason: record.reason });
        break;
      default:
        break;
    }
  }
  const spawned = at.get("zygote:spawned");
  const ready = at.get("zygote:ready");
  const collected = context.records.collect.find((r) => r.type === "collection");
  span(0, "run", t0, context.manifest.finishedAt, "run", { exitCode: context.manifest.exitCode });
  if (spawned !== undefined && ready !== undefined)
    span(0, "zygote start", spawned, ready, "zygote");
  if (ready !== undefined && collected?.type === "collection") {
    span(0, "collection", ready, collected.at, "zygote", { items: collected.items });
  }

  for (const test of context.tests) {
    workerIds.add(test.workerId);
    const spans = phaseSpans(test.phases);
    const from = Math.min(...spans.map(([s]) => s));
    const to = Math.max(...spans.map(([, e]) => e));
    span(test.workerId, test.nodeid, from, to, "test", {
      outcome: test.outcome,
      crashed: test.crashed,
    });
    test.phases.forEach((phase, i) => {
      const [s, e] = spans[i] ?? [from, to];
      span(test.workerId, phase.when, s, e, "phase", { outcome: phase.outcome });
    });
  }
  for (const id of [...workerIds].sort((a, b) => a - b)) {
    if (id === 0) continue;
    events.push({
      name: "thread_name",
      ph: "M",
      pid: PID,
      tid: id,
      args: { name: `worker kw${id}` },
    });
    events.push({
      name: "thread_sort_index",
      ph: "M",
      pid: PID,
      tid: id,
      args: { sort_index: id },
    });
  }
  return {
    traceEvents: events,
    displayTimeUnit: "ms",
    otherData: { runId: context.manifest.runId, startedAt: new Date(t0).toISOString() },
  };
}

export const traceModule: ReportModule = {
  id: "trace",
  name: "Perfetto trace",
  subscribes: ["collect", "results", "workers"],
  render(context) {
    return {
      files: [{ path: "trace.json", content: `${JSON.stringify(buildTrace(context))}\n` }],
      index: [
        {
          title: "Perfetto trace",
          html: '<p><a href="trace.json">trace.json</a> — open it in <code>ui.perfetto.dev</code> or <code>chrome://tracing</code>: one track per worker, a span per test phase.</p>',
        },
      ],
    };
  },
};
