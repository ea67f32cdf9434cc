// The coordinator's record of which test has been reported, so that each is
// reported exactly once whatever the queue does (ci-queue's guarantee). A
// job is re-run when its agent dies (BullMQ's stalled-job check moves it
// back to the queue once its lock expires): the new attempt runs the whole
// group again, and re-reports the tests the dead attempt already reported.
// The first report of a test wins; later ones, from any attempt, are
// dropped. A job whose every attempt died (a test that kills its agent) is
// "exhausted": its first unreported test is the one that was running each
// time, reported as crashed (the local run's "worker crashed" rule), and the
// rest of the group goes back to the queue as a new job.
import type { JobSpec } from "./plan.js";

export type Acceptance = "first" | "duplicate" | "foreign";

export interface Exhausted {
  /** The test that was running when the job's last attempt died. */
  crashed: string | undefined;
  /** The group's tests after it, never reported: to run again. */
  requeue: string[];
}

export class ResultLedger {
  private readonly jobs = new Map<string, JobSpec>();
  private readonly reported = new Set<string>();
  private readonly pending = new Set<string>();
  /** Per job, the attempts seen (for the run's record and the warning). */
  private readonly attempts = new Map<string, Set<number>>();

  constructor(jobs: readonly JobSpec[]) {
    for (const job of jobs) this.add(job);
  }

  /** A job enqueued later (the rest of an exhausted job). */
  add(job: JobSpec): void {
    if (this.jobs.has(job.id))
      throw new Error(`this is a bug in kiln: job ${job.id} planned twice`);
    this.jobs.set(job.id, job);
    for (const nodeid of job.nodeids) if (!this.reported.has(nodeid)) this.pending.add(nodeid);
  }

  /**
   * A test's report from attempt `attempt` of job `jobId`. "first": feed it
   * to pytest's reporting; "duplicate": already reported (by an earlier
   * attempt, or twice by one); "foreign": not a test of this job (an agent
   * of another run sharing the queue, or a bug): dropped, and said.
   */
  accept(jobId: string, attempt: number, nodeid: string): Acceptance {
    const job = this.jobs.get(jobId);
    if (job === undefined || !job.nodeids.includes(nodeid)) return "foreign";
    const seen = this.attempts.get(jobId) ?? new Set<number>();
    this.attempts.set(jobId, seen);
    seen.add(attempt);
    if (this.reported.has(nodeid)) return "duplicate";
    this.reported.add(nodeid);
    this.pending.delete(nodeid);
    return "first";
  }

  /** The job failed for good: what to report as crashed and what to run again. */
  exhausted(jobId: string): Exhausted {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new Error(`this is a bug in kiln: unknown job ${jobId} exhausted`);
    const unreported = job.nodeids.filter((nodeid) => !this.reported.has(nodeid));
    const [crashed, ...requeue] = unreported;
    if (crashed !== undefined) {
      this.reported.add(crashed);
      this.pending.delete(crashed);
    }
    return { crashed, requeue };
  }

  /** This job's tests nobody reported yet (a completed job should have none). */
  unreportedOf(jobId: string): string[] {
    return (this.jobs.get(jobId)?.nodeids ?? []).filter((nodeid) => !this.reported.has(nodeid));
  }

  /** The jobs holding any of these tests (to withdraw them from the queue). */
  jobIdsWith(nodeids: readonly string[]): string[] {
    const wanted = new Set(nodeids);
    return [...this.jobs.values()]
      .filter((job) => job.nodeids.some((nodeid) => wanted.has(nodeid)))
      .map((job) => job.id);
  }

  /** A job of this run (the queue's events carry every run's jobs). */
  owns(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  attemptsOf(jobId: string): number {
    return this.attempts.get(jobId)?.size ?? 0;
  }

  /** Every planned test has been reported (or reported crashed). */
  get done(): boolean {
    return this.pending.size === 0;
  }

  /** The tests nobody reported yet, for the "no agent" and "Redis went away" messages. */
  unreported(): string[] {
    return [...this.pending];
  }
}
