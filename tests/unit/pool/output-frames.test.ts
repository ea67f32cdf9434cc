// The output connection's framing (src/pool/output-frames.ts, written by
// python/kiln_harness/exec_output.py): chunks in order across streams,
// frames split over reads, neighbours of one stream joined, and a frame no
// worker of ours sends refused.
import { describe, expect, it } from "vitest";
import { MAX_OUTPUT_CHUNK, OutputFrames } from "../../../src/pool/output-frames.js";

function frame(id: number, text: string): Buffer {
  const data = Buffer.from(text);
  const header = Buffer.alloc(5);
  header.writeUInt8(id, 0);
  header.writeUInt32LE(data.length, 1);
  return Buffer.concat([header, data]);
}

const strings = (chunks: [string, Buffer][]) => chunks.map(([s, d]) => `${s}:${d.toString()}`);

describe("OutputFrames", () => {
  it("gives the chunks in the order sent, across both streams", () => {
    const frames = new OutputFrames();
    const data = Buffer.concat([frame(1, "a\n"), frame(2, "b\n"), frame(1, "c\n")]);
    expect(strings(frames.push(data))).toEqual(["stdout:a\n", "stderr:b\n", "stdout:c\n"]);
  });

  it("joins neighbouring chunks of one stream", () => {
    const frames = new OutputFrames();
    const data = Buffer.concat([frame(2, "err"), frame(2, " 1"), frame(2, "\n"), frame(1, "x")]);
    expect(strings(frames.push(data))).toEqual(["stderr:err 1\n", "stdout:x"]);
  });

  it("waits for a frame split over several reads", () => {
    const frames = new OutputFrames();
    const data = Buffer.concat([frame(1, "hello"), frame(2, "world")]);
    const seen: string[] = [];
    for (let i = 0; i < data.length; i++)
      seen.push(...strings(frames.push(data.subarray(i, i + 1))));
    expect(seen).toEqual(["stdout:hello", "stderr:world"]);
    expect(frames.leftover).toBe(0);
  });

  it("refuses an unknown stream or an oversized frame", () => {
    expect(() => new OutputFrames().push(frame(3, "x"))).toThrow("stream 3");
    const big = Buffer.alloc(5);
    big.writeUInt8(1, 0);
    big.writeUInt32LE(MAX_OUTPUT_CHUNK + 1, 1);
    expect(() => new OutputFrames().push(big)).toThrow("length");
  });
});
