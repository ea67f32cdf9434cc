// What `kiln test --queue` and `kiln agent` check before BullMQ is loaded
// (loading it costs ~100 ms of CPU, kept off the start of a run).

export class QueueUrlError extends Error {}

/** `redis://[user:password@]host[:port][/db]`, checked; anything else is a usage error. */
export function parseQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueUrlError(`--queue expects redis://HOST:PORT, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "redis:" || parsed.hostname === "") {
    throw new QueueUrlError(`--queue expects redis://HOST:PORT, got ${JSON.stringify(url)}`);
  }
  const dbText = parsed.pathname.replace(/^\//, "");
  if (dbText !== "" && !/^\d+$/.test(dbText)) {
    throw new QueueUrlError(`--queue ${url}: the database must be a number, got ${dbText}`);
  }
  return url;
}

/** How an agent's refusal starts (a failed job's reason), so the coordinator tells it from a stall. */
export const REFUSAL_PREFIX = "kiln agent refused the job: ";
