// The coordinator's watch over its agents mid-run: every agent gone (killed,
// its machine lost) and none back within --queue-wait, the run's jobs would
// sit in Redis for ever. Said (coordinator-run.ts ends the run), not waited on.

export class AgentWatch {
  private lastHeard = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly waitMs: number,
    /** The agents connected to the queue now (bull.ts agentCount). */
    private readonly agentCount: () => Promise<number> | undefined,
    /** None for waitMs: called once per check that finds none. */
    private readonly gone: () => void,
  ) {}

  /** An agent was heard from (a report): the wait starts again. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  start(): void {
    this.heard();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard < this.waitMs) return;
      void this.agentCount()
        ?.then((count) => {
          if (count > 0) this.heard();
          else this.gone();
        })
        .catch(() => undefined);
    }, 500);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
