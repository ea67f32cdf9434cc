// What `kiln watch` says between and during runs (pure text), and the one
// live line it keeps at the bottom of a terminal while pytest's output
// scrolls above it.
import { countsLine, type OutcomeCounts } from "../events/outcomes.js";

export const KEYS_HINT =
  "kiln: watch: a all · f failed · p file filter · t name filter · Enter rerun · q quit";

/** `kiln: watch: running (changed: src/x.py) · 3 passed · 0.4s` */
export function runningLine(what: string, counts: OutcomeCounts, seconds: number): string {
  const sofar = countsLine(counts);
  return `kiln: watch: running (${what})${sofar === "no tests ran" ? "" : ` · ${sofar}`} · ${seconds.toFixed(1)}s`;
}

/** `kiln: watch: 1 failed, 3 passed in 0.42s (changed: src/x.py)` */
export function finishedLine(what: string, counts: OutcomeCounts, seconds: number): string {
  return `kiln: watch: ${countsLine(counts)} in ${seconds.toFixed(2)}s (${what})`;
}

export function promptLine(filter: "file" | "name", text: string): string {
  const what = filter === "file" ? "test file pattern (regex)" : "test name expression (-k)";
  return `kiln: watch: ${what}, Enter to apply, empty to clear, Esc to cancel › ${text}`;
}

const CLEAR_LINE = "\r\x1b[2K";

/**
 * A status line drawn in place under the output on a terminal. Output that
 * passes through here first clears the line and, once the output is back at
 * the start of a line, the status is drawn again below it; pytest's progress
 * dots never get a status line in the middle of them.
 */
export class LiveLine {
  private status: string | null = null;
  private drawn = false;
  private atLineStart = true;

  constructor(
    private readonly write: (text: string) => void,
    private readonly columns: () => number,
  ) {}

  /** Output (pytest's) written above the status line. */
  output(text: string, write = this.write): void {
    if (text === "") return;
    this.clear();
    write(text);
    this.atLineStart = text.endsWith("\n");
    this.draw();
  }

  /** A line that stays (a result, a note). */
  line(text: string): void {
    this.output(`${this.atLineStart ? "" : "\n"}${text}\n`);
  }

  /** The live line's text; null removes it. */
  set(status: string | null): void {
    this.clear();
    this.status = status;
    this.draw();
  }

  private clear(): void {
    if (this.drawn) this.write(CLEAR_LINE);
    this.drawn = false;
  }

  private draw(): void {
    if (this.status === null || !this.atLineStart) return;
    // Cut to the terminal's width: a wrapped line cannot be cleared with \r.
    const width = Math.max(20, this.columns() - 1);
    const text = this.status.length > width ? `${this.status.slice(0, width - 1)}…` : this.status;
    this.write(`${CLEAR_LINE}${text}`);
    this.drawn = true;
  }
}
