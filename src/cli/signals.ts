// SIGINT and SIGTERM, from the moment the executable starts (main.ts) until a
// command takes them over. A signal that arrives before then is kept and
// handed to the command, so `kiln test` stops its run whatever the moment.
type SignalListener = (signal: NodeJS.Signals) => void;

const pending: NodeJS.Signals[] = [];
let listener: SignalListener | undefined;

function route(signal: NodeJS.Signals): void {
  if (listener) listener(signal);
  else pending.push(signal);
}

export function catchSignals(): void {
  process.on("SIGINT", route);
  process.on("SIGTERM", route);
}

/**
 * A command takes the signals, first those that arrived before it started.
 * The returned function gives Node's default behaviour back.
 */
export function takeSignals(take: SignalListener): () => void {
  listener = take;
  for (const signal of pending.splice(0)) take(signal);
  return restoreDefaultSignals;
}

/**
 * Node's default behaviour again (for commands with nothing to wind down);
 * a signal that already arrived acts now, as it would have.
 */
export function restoreDefaultSignals(): void {
  listener = undefined;
  process.off("SIGINT", route);
  process.off("SIGTERM", route);
  const first = pending.shift();
  if (first !== undefined) process.kill(process.pid, first);
}
