// `kiln test --queue -x` / `--maxfail N`: the agents' reports replayed in
// pytest's run order, and none after the Nth failure. pytest runs the items
// one after another and stops once session.testsfailed reaches maxfail
// (_pytest/main.py Session.pytest_runtest_logreport), so exactly the tests
// up to that failure have reports. Agents run jobs side by side and report
// out of that order; replaying each as it came would count tests pytest
// never ran (a later test reported before the failure was) in the summary
// and the exit code. So such a run's reports wait here until every test
// before them is in, and the run stops at the same test pytest stops at.
import type { AgentReport } from "./wire.js";

type TestReport = Exclude<AgentReport, { kind: "exit" }>;

/** pytest counts each report that failed and was no xfail (a crash is one failed report). */
function failures(report: TestReport): number {
  if (report.kind === "crashed") return 1;
  return report.reports.filter((meta) => meta.outcome === "failed" && !meta.wasxfail).length;
}

export class InOrder {
  private readonly waiting = new Map<string, TestReport>();
  private next = 0;
  private failures = 0;
  private stopped = false;

  constructor(
    /** The collected items, in the order pytest runs them. */
    private readonly items: readonly string[],
    private readonly maxfail: number,
    private readonly deliver: (nodeid: string, report: TestReport) => void,
  ) {}

  /** A test's report; true once the run reached maxfail (nothing more is delivered). */
  add(nodeid: string, report: TestReport): boolean {
    if (this.stopped) return true;
    this.waiting.set(nodeid, report);
    for (;;) {
      const head = this.items[this.next];
      const ready = head === undefined ? undefined : this.waiting.get(head);
      if (head === undefined || ready === undefined) return false;
      this.waiting.delete(head);
      this.next++;
      this.deliver(head, ready);
      this.failures += failures(ready);
      if (this.failures >= this.maxfail) {
        this.stopped = true;
        return true;
      }
    }
  }
}
