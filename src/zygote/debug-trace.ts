// KILN_DEBUG=1 traces every message the supervisor receives (and the work it
// hands out) on stderr: "kiln debug <ms>: <peer> -> <message>". The cache
// order and protocol contract tests read these lines.
export const DEBUG = Boolean(process.env.KILN_DEBUG);

export function debug(line: string): void {
  process.stderr.write(`kiln debug ${Date.now() % 100000}: ${line}\n`);
}

/** One received message; the two with every node id in them are named only. */
export function traceReceived(peer: string, message: { type: string }): void {
  const brief = message.type === "collection:finished" || message.type === "run:ready";
  debug(`${peer} -> ${brief ? message.type : JSON.stringify(message)}`);
}
