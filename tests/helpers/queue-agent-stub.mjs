// A stand-in agent for the queue's fault tests (tests/e2e/queue-faults.test.ts):
// Kiln's own BullMQ consumer (dist/queue/bull.js) running fake tests, so the
// lock, stall and attempt semantics are tested with real processes and a
// real redis-server. A node id containing "slow" takes 400 ms; one
// containing "killer" SIGKILLs this process, as a test that kills its agent.
import { consumeJobs, parseQueueUrl, queueTimings } from "../../dist/queue/bull.js";

const connection = parseQueueUrl(process.argv[2] ?? "");
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const worker = consumeJobs(connection, queueTimings(process.env), 1, async (job) => {
  process.stdout.write(`took ${job.id} ${job.attempt}\n`);
  for (const nodeid of job.data.nodeids) {
    if (nodeid.includes("killer")) process.kill(process.pid, "SIGKILL");
    await sleep(nodeid.includes("slow") ? 400 : 20);
    await job.report({ nodeid, report: { pid: process.pid, outcome: "passed" } });
  }
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
