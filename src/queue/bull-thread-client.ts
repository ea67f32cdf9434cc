// The coordinator's handle on its BullMQ thread (bull-thread.ts): the same
// calls as bull.ts JobQueue, each a message to the thread and its answer.
// The thread is started at once; BullMQ loads there, not on the event loop
// that serves the zygote.
import { Worker } from "node:worker_threads";
import type { CoordinatorHandlers, EnqueueSettings } from "./bull.js";
import type { ThreadReply, ThreadRequest } from "./bull-thread-protocol.js";

type Request = ThreadRequest extends infer R ? (R extends unknown ? Omit<R, "id"> : never) : never;

/** dist/queue/bull-thread.js, from dist/cli (bundled) or dist/queue (tsc's output). */
const THREAD = new URL("../queue/bull-thread.js", import.meta.url);

export class QueueThread {
  private nextId = 1;
  private readonly pending = new Map<number, { done(v: unknown): void; fail(e: Error): void }>();
  private exited = false;
  private handlers: CoordinatorHandlers | undefined;
  /** The thread's events before a coordinator listens (start()'s early thread). */
  private readonly early: ThreadReply[] = [];
  /** Connected, or rejected with the first connection error (as JobQueue.open). */
  readonly opened: Promise<QueueThread>;

  private constructor(private readonly worker: Worker) {
    this.opened = new Promise((resolve, reject) => {
      let opened = false;
      worker.on("message", (reply: ThreadReply) => {
        switch (reply.kind) {
          case "opened":
            opened = true;
            resolve(this);
            return;
          case "openFailed":
            reject(new Error(reply.message));
            void worker.terminate();
            return;
          case "reply": {
            const waiting = this.pending.get(reply.id);
            this.pending.delete(reply.id);
            if (reply.ok) waiting?.done(reply.value);
            else waiting?.fail(new Error(reply.message));
            return;
          }
          default:
            if (this.handlers === undefined) this.early.push(reply);
            else this.dispatch(reply, this.handlers);
        }
      });
      // The thread itself failed (a bug, or BullMQ not loadable): the run
      // ends with that error rather than wait on a thread that is gone.
      const gone = (why: string) => {
        if (this.exited) return;
        this.exited = true;
        const error = new Error(`the queue's thread ${why}`);
        for (const waiting of this.pending.values()) waiting.fail(error);
        this.pending.clear();
        if (!opened) reject(error);
        else if (this.handlers === undefined)
          this.early.push({ kind: "connectionLost", message: error.message });
        else this.handlers.connectionLost(error.message);
      };
      worker.on("error", (error) => gone(`failed: ${error.message}`));
      worker.on("exit", (code) => gone(`exited (${code})`));
    });
    // Said to the coordinator that listens, if any (open()).
    this.opened.catch(() => undefined);
  }

  /**
   * The thread, started now and connecting; its events wait for listen().
   * It does not keep the process alive until listen(): `kiln test --queue`
   * starts it from main.ts before the rest of the CLI loads (early-queue.ts),
   * and a command that ends before its run (a usage error) just exits.
   */
  static start(url: string): QueueThread {
    const worker = new Worker(THREAD, { workerData: { url } });
    const thread = new QueueThread(worker);
    // After the listeners: a 'message' listener added refs the worker again.
    worker.unref();
    return thread;
  }

  /** Connected, or rejected with the first connection error (as JobQueue.open). */
  static open(url: string, handlers: CoordinatorHandlers): Promise<QueueThread> {
    return QueueThread.start(url).listen(handlers);
  }

  /** The coordinator's handlers get the thread's events from now on (and those before). */
  listen(handlers: CoordinatorHandlers): Promise<QueueThread> {
    this.handlers = handlers;
    // close() must follow: the thread keeps the process alive until then.
    this.worker.ref();
    for (const reply of this.early.splice(0)) this.dispatch(reply, handlers);
    return this.opened;
  }

  /** Ends a thread no coordinator took (early-queue.ts, another queue URL). */
  discard(): void {
    this.exited = true;
    void this.worker.terminate();
  }

  private dispatch(reply: ThreadReply, handlers: CoordinatorHandlers): void {
    switch (reply.kind) {
      case "progress":
        handlers.progress(reply.jobId, reply.batch);
        return;
      case "completed":
        handlers.completed(reply.jobId);
        return;
      case "failed":
        handlers.failed(reply.jobId, reply.reason);
        return;
      case "connectionLost":
        handlers.connectionLost(reply.message);
        return;
      default:
        throw new Error(`this is a bug in kiln: the queue's thread sent ${reply.kind} as an event`);
    }
  }

  private call<T>(request: Request): Promise<T> {
    if (this.exited) return Promise.reject(new Error("the queue's thread has exited"));
    const id = this.nextId++;
    return new Promise<T>((done, fail) => {
      this.pending.set(id, { done: (v) => done(v as T), fail });
      this.worker.postMessage({ ...request, id } satisfies ThreadRequest);
    });
  }

  enqueue(
    runId: string,
    jobs: readonly { id: string; nodeids: string[] }[],
    settings: EnqueueSettings = {},
  ): Promise<void> {
    const plain = jobs.map((job) => ({ id: job.id, nodeids: job.nodeids }));
    return this.call({ op: "enqueue", runId, jobs: plain, settings });
  }

  agentCount(): Promise<number> {
    return this.call({ op: "agentCount" });
  }

  waitForAgent(timeoutMs: number): Promise<boolean> {
    return this.call({ op: "waitForAgent", timeoutMs });
  }

  withdraw(jobIds: readonly string[]): Promise<void> {
    return this.call({ op: "withdraw", jobIds: [...jobIds] });
  }

  /** The connections closed (JobQueue.close), then the thread ends. */
  async close(waitMs: number): Promise<void> {
    await this.call({ op: "close", waitMs }).catch(() => undefined);
    this.exited = true;
    await this.worker.terminate();
  }
}
