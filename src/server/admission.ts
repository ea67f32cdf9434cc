// The bounded queue in front of the pools (Judge0-style): at most
// `concurrency` requests run at once, at most `queue` more wait; past that
// the server answers 429 with Retry-After instead of holding connections
// it can't serve soon.

export class Admission {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {
    if (concurrency < 1 || queue < 0) {
      throw new Error(`this is a bug in kiln: admission ${concurrency}/${queue}`);
    }
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A release function once admitted, or null: the queue is full (429). */
  enter(): Promise<() => void> | null {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queue) return null;
    return new Promise((resolve) => {
      this.waiting.push(() => resolve(this.releaser()));
    });
  }

  /** Seconds a refused client should wait: the queue's depth in rough service times. */
  retryAfterSeconds(meanServiceMs: number): number {
    const backlog = (this.waiting.length + this.running) / this.concurrency;
    return Math.max(1, Math.ceil((backlog * Math.max(meanServiceMs, 1)) / 1000));
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}
