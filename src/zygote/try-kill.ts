// Signal a process Kiln started; one that has already exited (ESRCH) is not
// an error: its exit is reported by whoever reaps it.
export function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
