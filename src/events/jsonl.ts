// Append-only JSONL: one JSON value per line, on an fd opened with O_APPEND.
// append() queues values, flush() serializes them and writes them with one
// synchronous write(2), so the caller decides how to batch (the run recorder
// flushes every few milliseconds). A run killed with SIGKILL leaves every
// flushed line, and at worst a torn last line, which every reader skips.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

export class JsonlAppender {
  private fd: number | undefined;
  private pending: object[] = [];
  /** Lines appended so far (the manifest lists them). */
  lines = 0;
  bytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, "a");
  }

  /** Queues the values as lines, until flush(); they must not change meanwhile. */
  append(values: readonly object[]): void {
    if (this.fd === undefined) return;
    for (const value of values) this.pending.push(value);
    this.lines += values.length;
  }

  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    let text = "";
    for (const value of this.pending) text += `${JSON.stringify(value)}\n`;
    this.pending = [];
    const data = Buffer.from(text, "utf8");
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
