// `kiln test --queue URL` starts the coordinator's queue thread (BullMQ and
// node-redis, loaded and connected in a worker thread: bull-thread.ts) from
// main.ts, next to the early zygote, rather than once the rest of the CLI
// has loaded and parsed its options (~90 ms later). The thread needs ~250 ms
// of CPU to load BullMQ and connect; started with the command it was still
// connecting 30-45 ms after the zygote had collected, and the jobs waited
// for it (measured with KILN_DEBUG=1, BENCHMARKS.md issue 15).
//
// As for the early zygote, the URL is a guess from a plain scan of the
// arguments: the run takes the thread only for the URL its real parse
// gives, and otherwise ends it and starts its own. The thread does not keep
// the process alive until a run takes it (a usage error just exits).
import { QueueThread } from "../queue/bull-thread-client.js";
import { parseQueueUrl } from "../queue/queue-url.js";
import { flagValue } from "./early-zygote.js";

let early: { url: string; thread: QueueThread } | undefined;

/** Starts the queue thread `kiln test <args>` will most likely want, if it names a queue. */
export function startEarlyQueue(args: readonly string[]): void {
  const flag = flagValue(args, "--queue");
  if (flag === undefined) return;
  let url: string;
  try {
    url = parseQueueUrl(flag);
  } catch {
    // The command says what is wrong with it, in its own words.
    return;
  }
  early = { url, thread: QueueThread.start(url) };
}

/** The early thread, if it was started for this URL (ownership passes); any other is ended. */
export function takeEarlyQueue(url: string): QueueThread | undefined {
  const taken = early;
  early = undefined;
  if (taken === undefined) return undefined;
  if (taken.url === url) return taken.thread;
  taken.thread.discard();
  return undefined;
}
