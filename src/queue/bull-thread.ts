// The coordinator's BullMQ side (bull.ts JobQueue) in a worker thread
// (bull-thread-client.ts starts it). Why a thread: loading BullMQ and
// node-redis (~700 CommonJS modules, 150-250 ms) and parsing the queue's
// event stream block the event loop that serves the zygote while it
// collects (its compiled-code requests) and replays reports; measured with
// KILN_DEBUG=1, hello -> run:ready took 475 ms with --queue against 167 ms
// locally (BENCHMARKS.md, issue 15). Here that work runs on another core.
import { parentPort, workerData } from "node:worker_threads";
import { JobQueue } from "./bull.js";
import type { ThreadReply, ThreadRequest } from "./bull-thread-protocol.js";

const port = parentPort;
if (port === null)
  throw new Error("this is a bug in kiln: bull-thread.js run outside a worker thread");
const post = (message: ThreadReply) => port.postMessage(message);
const url = String((workerData as { url: unknown }).url);

const opened = JobQueue.open(url, {
  progress: (jobId, batch) => post({ kind: "progress", jobId, batch }),
  completed: (jobId) => post({ kind: "completed", jobId }),
  failed: (jobId, reason) => post({ kind: "failed", jobId, reason }),
  connectionLost: (message) => post({ kind: "connectionLost", message }),
});
opened.then(
  () => post({ kind: "opened" }),
  (error: unknown) => post({ kind: "openFailed", message: messageOf(error) }),
);

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function answer(queue: JobQueue, request: ThreadRequest): Promise<unknown> {
  switch (request.op) {
    case "enqueue":
      return queue.enqueue(request.runId, request.jobs, request.settings);
    case "agentCount":
      return queue.agentCount();
    case "waitForAgent":
      return queue.waitForAgent(request.timeoutMs);
    case "withdraw":
      return queue.withdraw(request.jobIds);
    case "close":
      return queue.close(request.waitMs);
  }
}

port.on("message", (request: ThreadRequest) => {
  opened
    .then((queue) => answer(queue, request))
    .then(
      (value) => post({ kind: "reply", id: request.id, ok: true, value }),
      (error: unknown) =>
        post({ kind: "reply", id: request.id, ok: false, message: messageOf(error) }),
    );
});
