// What `kiln watch` says between and during runs (pure text), and the one
// live line it keeps at the bottom of a terminal while pytest's output
// scrolls above it.
import { countsLine, type OutcomeCounts } from "../events/outcomes.js";
import type { Filters } from "./watch-machine.js";

export const KEYS_HINT = "kiln: watch: keys: a all, f failed, p file, t name, Enter rerun, q quit";

/** The line shown while waiting: the keys, and the filters in force. */
export function idleLine(filters: Filters): string {
  const set = [
    filters.file === null ? "" : `file ~ ${filters.file}`,
    filters.name === null ? "" : `-k ${filters.name}`,
  ].filter((f) => f !== "");
  if (set.length === 0) return KEYS_HINT;
  return `kiln: watch: filters: ${set.join(", ")}; keys: a f p t Enter q`;
}

/** `kiln: watch: running (changed: src/x.py) · 3 passed · 0.4s` */
export function runningLine(what: string, counts: OutcomeCounts, seconds: number): string {
  const sofar = countsLine(counts);
  return `kiln: watch: running (${what})${sofar === "no tests ran" ? "" : ` · ${sofar}`} · ${seconds.toFixed(1)}s`;
}

/** `kiln: watch: 1 failed, 3 passed in 0.42s (changed: src/x.py)` */
export function finishedLine(what: string, counts: OutcomeCounts, seconds: number): string {
  return `kiln: watch: ${countsLine(counts)} in ${seconds.toFixed(2)}s (${what})`;
}

/** Enter applies the pattern, an empty one clears the filter, Esc cancels (README). */
export function promptLine(filter: "file" | "name", text: string): string {
  return `kiln: watch: ${filter === "file" ? "file name regex" : "test name -k"} › ${text}`;
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
    // A prompt keeps its end in view: that is where the typing is.
    const text =
      this.status.length <= width
        ? this.status
        : this.status.includes(" › ")
          ? `…${this.status.slice(-(width - 1))}`
          : `${this.status.slice(0, width - 1)}…`;
    this.write(`${CLEAR_LINE}${text}`);
    this.drawn = true;
  }
}
