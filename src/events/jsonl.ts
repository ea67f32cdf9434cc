// Append-only JSONL: one JSON value per line, on an fd opened with O_APPEND.
// Lines are batched per event-loop turn and written with one synchronous
// write(2) (events arriving together, as a worker's frames do, cost one
// syscall), so a run killed with SIGKILL loses at most the events of its last
// turn, and the file ends at worst in a torn line, which every reader skips.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

/** A batch larger than this is written at once instead of at the end of the turn. */
const MAX_PENDING = 256 * 1024;

export class JsonlAppender {
  private fd: number | undefined;
  private pending = "";
  private scheduled = false;
  /** Lines appended so far (the manifest lists them). */
  lines = 0;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, "a");
  }

  /** Queues the values as lines; they reach the file by the end of this turn. */
  append(values: readonly object[]): void {
    if (this.fd === undefined || values.length === 0) return;
    for (const value of values) this.pending += `${JSON.stringify(value)}\n`;
    this.lines += values.length;
    if (this.pending.length >= MAX_PENDING) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.fd === undefined || this.pending === "") return;
    const data = Buffer.from(this.pending, "utf8");
    this.pending = "";
    let offset = 0;
    while (offset < data.length) offset += writeSync(this.fd, data, offset);
    this.bytes += data.length;
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface ParsedJsonl<T> {
  values: T[];
  /** Lines that did not parse: a torn last line of a killed run, normally. */
  skipped: number;
}

/** Parses JSONL text, skipping blank and unparsable lines (a torn last line). */
export function parseJsonl<T>(text: string): ParsedJsonl<T> {
  const values: T[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      values.push(JSON.parse(line) as T);
    } catch {
      skipped++;
    }
  }
  return { values, skipped };
}

/** Reads a JSONL file; a missing file reads as empty. */
export function readJsonl<T>(path: string): ParsedJsonl<T> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { values: [], skipped: 0 };
    throw error;
  }
  return parseJsonl<T>(text);
}
