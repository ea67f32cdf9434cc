// The one message definition (schema.ts) and its Python copy agree, and both
// sides judge a message the same way.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeWorkerMessage, decodeZygoteMessage } from "../../../src/protocol/decode.js";
import type { FrameHeader } from "../../../src/protocol/frame-codec.js";
import { PYTHON_TABLE_PATH, pythonTable } from "../../../src/protocol/python-table.js";
import { DIRECTIONS, type Direction } from "../../../src/protocol/schema.js";
import { HARNESS, pythonWithPytest } from "../../helpers/kiln.js";

/** Python's verdict on each line: [] when valid, else its problems. */
function pythonVerdicts(direction: Direction, headers: object[]): string[] {
  const r = spawnSync(pythonWithPytest(), ["-m", "kiln_harness.message_schema", direction], {
    cwd: HARNESS,
    input: headers.map((h) => JSON.stringify(h)).join("\n"),
    encoding: "utf8",
  });
  return r.stdout.split("\n").filter(Boolean);
}

const good = {
  type: "test:finished",
  v: 1,
  nodeid: "t.py::x",
  location: ["t.py", 0, "x"],
  reports: [{ when: "call", outcome: "passed", duration: 0.1, wasxfail: false }],
  format: "marshal",
};

describe("the message table", () => {
  it("committed for Python is the one schema.ts makes (run `npm run gen:protocol`)", () => {
    const committed: unknown = JSON.parse(readFileSync(PYTHON_TABLE_PATH, "utf8"));
    expect(committed).toEqual(pythonTable());
  });

  it("accepts the same message on both sides", () => {
    expect(DIRECTIONS.workerToSupervisor.safeParse(good).success).toBe(true);
    expect(decodeWorkerMessage(good as unknown as FrameHeader).type).toBe("test:finished");
    expect(pythonVerdicts("workerToSupervisor", [good])).toEqual([]);
  });

  it.each([
    ["a missing field", { ...good, nodeid: undefined }, "nodeid"],
    ["a field of the wrong type", { ...good, format: "pickle" }, "format"],
    ["a field nobody defined", { ...good, extra: 1 }, "extra"],
    ["a bad nested report", { ...good, reports: [{ when: "call" }] }, "reports"],
  ])("refuses %s on both sides", (_what, header, field) => {
    const json = JSON.parse(JSON.stringify(header)) as FrameHeader;
    expect(() => decodeWorkerMessage(json)).toThrow(new RegExp(`test:finished.*${field}`));
    const verdict = pythonVerdicts("workerToSupervisor", [json]);
    expect(verdict.length).toBeGreaterThan(0);
    expect(verdict.join("\n")).toContain(field);
  });

  it("names an unknown message type", () => {
    expect(() => decodeZygoteMessage({ type: "nope", v: 1 } as FrameHeader)).toThrow(
      'unknown message type "nope" from the zygote',
    );
    expect(pythonVerdicts("zygoteToSupervisor", [{ type: "nope", v: 1 }])).not.toEqual([]);
  });
});
