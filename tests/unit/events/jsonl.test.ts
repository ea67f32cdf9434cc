import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JsonlAppender, parseJsonl, readJsonl } from "../../../src/events/jsonl.js";
import { tempDir } from "../../helpers/temp.js";

describe("JSONL", () => {
  it("skips a torn last line (a run killed mid-write) and blank lines", () => {
    const parsed = parseJsonl<{ n: number }>('{"n":1}\n\n{"n":2}\n{"n":3, "tru');
    expect(parsed.values).toEqual([{ n: 1 }, { n: 2 }]);
    expect(parsed.skipped).toBe(1);
  });

  it("reads a missing file as empty", () => {
    expect(readJsonl(join(tmpdir(), "kiln-no-such-file.jsonl"))).toEqual({
      values: [],
      skipped: 0,
    });
  });

  it("appends queued values on flush and on close", () => {
    const path = join(tempDir("kiln-jsonl-"), "x.jsonl");
    writeFileSync(path, '{"old":true}\n');
    const out = new JsonlAppender(path);
    out.append([{ a: 1 }, { b: "two\nlines" }]);
    expect(readFileSync(path, "utf8")).toBe('{"old":true}\n');
    out.flush();
    expect(readJsonl(path).values).toEqual([{ old: true }, { a: 1 }, { b: "two\nlines" }]);
    out.append([{ c: 3 }]);
    out.close();
    expect(readJsonl(path).values).toHaveLength(4);
    expect(out.lines).toBe(3);
  });
});
