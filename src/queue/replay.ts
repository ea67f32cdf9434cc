// One test's report from an agent, replayed on the coordinator exactly as
// the run machine replays a local worker's (run-machine.ts testFinished and
// failTest): counted in the run's summary, recorded as a run event, and sent
// to the zygote, whose pytest hooks print and report it.
import type { RunPorts, RunSummary } from "../zygote/run-ports.js";
import type { AgentReport } from "./wire.js";

export function replayReport(
  ports: RunPorts,
  summary: RunSummary,
  workerId: number,
  nodeid: string,
  report: Exclude<AgentReport, { kind: "exit" }>,
): void {
  // Before the test's reports, in the order a local worker sends them
  // (report_sender.py sends a test after the warnings its protocol recorded).
  for (const warning of report.warnings ?? []) {
    ports.toZygote({ type: "warning:recorded", ...warning });
  }
  if (report.kind === "crashed") {
    summary.outcomes.add(nodeid, "failed");
    const crash = {
      workerId,
      nodeid,
      when: report.when,
      message: report.message,
      duration: report.duration,
    };
    ports.events.emit({ event: "test:crashed", at: ports.now(), ...crash });
    ports.toZygote({ type: "test:crashed", ...crash });
    return;
  }
  let total = 0;
  for (const phase of report.reports) {
    total += phase.duration;
    summary.outcomes.addPhase(nodeid, phase);
  }
  summary.durations.set(nodeid, total);
  ports.events.emit({
    event: "test:finished",
    at: ports.now(),
    workerId,
    nodeid,
    location: report.location,
    reports: report.reports,
  });
  ports.toZygote(
    {
      type: "test:finished",
      workerId,
      nodeid,
      location: report.location,
      format: report.format,
      ...(report.unfinished === undefined ? {} : { unfinished: report.unfinished }),
    },
    Buffer.from(report.body, "base64"),
  );
}
