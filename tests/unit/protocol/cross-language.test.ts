import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, type Frame, FrameDecoder } from "../../../src/protocol/frame-codec.js";

const HARNESS_DIR = fileURLToPath(new URL("../../../python", import.meta.url));

// The codec needs only the standard library, so any Python 3 will do; prefer
// the system one so a broken project venv cannot fail this test.
function findPython(): string | undefined {
  if (existsSync("/usr/bin/python3")) return "/usr/bin/python3";
  try {
    execFileSync("python3", ["-c", "pass"], { stdio: "ignore" });
    return "python3";
  } catch {
    return undefined;
  }
}

const python = findPython();

// Reads frames from stdin in deliberately awkward chunk sizes, reports what it
// decoded, echoes each frame, then appends frames of its own.
const ECHO_SCRIPT = `
import hashlib, os, sys
from kiln_harness.protocol import FrameDecoder, ProtocolError, encode_frame

decoder = FrameDecoder()
frames = []
sizes = [1, 2, 3, 5, 7, 11, 4096]
i = 0
try:
    while True:
        chunk = os.read(0, sizes[i % len(sizes)])
        i += 1
        if not chunk:
            break
        frames.extend(decoder.feed(chunk))
except ProtocolError as exc:
    sys.stderr.write("ProtocolError: %s\\n" % exc)
    sys.exit(3)

out = sys.stdout.buffer
for header, body in frames:
    out.write(encode_frame({
        "type": "py:decoded",
        "original": header,
        "body_len": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }))
    out.write(encode_frame(header, body))
out.write(encode_frame({"type": "py:unicode", "text": "naïve café — 日本語 🐍", "ключ": "значение"}))
out.write(encode_frame({"type": "py:binary"}, bytes(range(256)) * 3))
out.write(encode_frame({"type": "py:empty"}))
out.write(encode_frame({"type": "py:done", "count": len(frames), "pending": decoder.pending}))
out.flush()
`;

function runPython(input: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const result = spawnSync(python as string, ["-c", ECHO_SCRIPT], {
    input,
    env: { ...process.env, PYTHONPATH: HARNESS_DIR, PYTHONDONTWRITEBYTECODE: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString("utf8") };
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

describe.skipIf(python === undefined)("cross-language frame codec (TypeScript ⇄ Python)", () => {
  const sent = [
    { header: { type: "hello", pid: 42, argv: ["-n", "2"] }, body: Buffer.alloc(0) },
    {
      header: { type: "unicode:sent", text: "Grüße, 世界 🌍", "clé ünï": ["é", "ß"] },
      body: Buffer.from("ünïcødé body", "utf8"),
    },
    {
      header: { type: "binary:sent", id: 3 },
      body: Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) % 256)),
    },
    {
      header: { type: "test:finished", nodeid: "t.py::test[a::b]", duration: 0.25, ok: false },
      body: Buffer.alloc(0),
    },
    { header: { type: "big:sent" }, body: Buffer.alloc(300_000, 0xab) },
  ];

  // One Python round trip serves all assertions: spawning costs ~100 ms.
  let stdout: Buffer = Buffer.alloc(0);
  const frames: Frame[] = [];

  beforeAll(() => {
    const input = Buffer.concat(sent.map((f) => encodeFrame(f.header, f.body)));
    const result = runPython(input);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    stdout = result.stdout;
    const decoder = new FrameDecoder();
    // Feed Python's output in odd-sized pieces, too.
    for (let i = 0; i < stdout.length; i += 777) {
      frames.push(...decoder.push(stdout.subarray(i, i + 777)));
    }
    expect(decoder.pendingBytes).toBe(0);
  });

  it("Python decodes what TypeScript encodes", () => {
    const reports = frames.filter((f) => f.header.type === "py:decoded");
    expect(reports).toHaveLength(sent.length);
    for (const [i, report] of reports.entries()) {
      const original = sent[i];
      expect(report.header.original).toEqual({ ...original?.header, v: 1 });
      expect(report.header.body_len).toBe(original?.body.length);
      expect(report.header.body_sha256).toBe(sha256(original?.body ?? Buffer.alloc(0)));
    }
    const done = frames.at(-1);
    expect(done?.header).toEqual({ type: "py:done", count: sent.length, pending: 0, v: 1 });
  });

  it("TypeScript decodes what Python encodes, echoed frames intact", () => {
    const echoes = frames.filter((_, i) => i < sent.length * 2 && i % 2 === 1);
    expect(echoes.map((f) => f.header)).toEqual(sent.map((f) => ({ ...f.header, v: 1 })));
    for (const [i, echo] of echoes.entries()) {
      expect(echo.body.equals(sent[i]?.body ?? Buffer.alloc(0))).toBe(true);
    }
  });

  it("TypeScript decodes Python's own non-ASCII and binary frames", () => {
    const byType = new Map(frames.map((f) => [f.header.type, f]));
    expect(byType.get("py:unicode")?.header).toEqual({
      type: "py:unicode",
      text: "naïve café — 日本語 🐍",
      ключ: "значение",
      v: 1,
    });
    const binary = byType.get("py:binary")?.body;
    const expectedBinary = Buffer.concat(
      [0, 1, 2].map(() => Buffer.from(Array.from({ length: 256 }, (_, i) => i))),
    );
    expect(binary?.equals(expectedBinary)).toBe(true);
    expect(byType.get("py:empty")?.body.length).toBe(0);
  });

  it("both encoders produce identical bytes for the same frames", () => {
    // Re-encoding the decoded headers (v included, in Python's position)
    // must reproduce Python's output byte for byte.
    const reencoded = frames.map((f) => encodeFrame(f.header, f.body));
    expect(Buffer.concat(reencoded).equals(stdout)).toBe(true);
    // Python's raw bytes per frame, cut at the boundaries just verified.
    const raw: Buffer[] = [];
    let offset = 0;
    for (const frame of reencoded) {
      raw.push(stdout.subarray(offset, offset + frame.length));
      offset += frame.length;
    }
    // Python echoed TypeScript's frames unchanged.
    for (const [i, f] of sent.entries()) {
      expect(raw[2 * i + 1]?.equals(encodeFrame(f.header, f.body)), f.header.type).toBe(true);
    }
    // A header without "v" gets it in the same place from both encoders.
    const at = frames.findIndex((f) => f.header.type === "py:unicode");
    const { v: _v, ...withoutV } = frames[at]?.header ?? { type: "" };
    expect(encodeFrame(withoutV, frames[at]?.body).equals(raw[at] ?? Buffer.alloc(0))).toBe(true);
  });

  it("Python rejects garbage from TypeScript with a ProtocolError", () => {
    const garbage = Buffer.alloc(8);
    garbage.writeUInt32LE(2, 0);
    const { status, stderr } = runPython(garbage);
    expect(status).toBe(3);
    expect(stderr).toMatch(/ProtocolError: invalid frame length 2/);
  });
});
