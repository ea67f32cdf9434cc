// A harness that speaks another protocol version is refused at the first
// frame, on every channel, with a message that says so. The harness here is a
// copy of python/ whose message table (protocol_schema.json) says version 2.
import { spawn } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { harnessArgs } from "../../src/config/harness.js";
import { FrameChannel } from "../../src/protocol/channel.js";
import { decodeZygoteMessage } from "../../src/protocol/decode.js";
import type { SupervisorToZygote, ZygoteToSupervisor } from "../../src/protocol/messages.js";
import { CompileServer } from "../../src/registry/compile-client.js";
import { HARNESS, pythonWithPytest } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

function harnessSpeaking(version: number): string {
  const dir = tempDir("kiln-harness-v2-");
  cpSync(HARNESS, dir, {
    recursive: true,
    filter: (path) => !path.includes("__pycache__") && !path.endsWith("/tests"),
  });
  const table = join(dir, "kiln_harness", "protocol_schema.json");
  const parsed = JSON.parse(readFileSync(table, "utf8")) as { version: number };
  writeFileSync(table, JSON.stringify({ ...parsed, version }));
  return dir;
}

describe("a protocol version mismatch", () => {
  it("makes the zygote refuse the supervisor's hello, naming both versions", async () => {
    const harness = harnessSpeaking(2);
    const child = spawn(pythonWithPytest(), harnessArgs("zygote", harness), {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    const received: ZygoteToSupervisor[] = [];
    const channel = new FrameChannel<ZygoteToSupervisor, SupervisorToZygote>(
      child.stdio[3] as Duplex,
      decodeZygoteMessage,
      { message: (m) => received.push(m), error: () => {}, closed: () => {} },
    );
    channel.send({
      type: "hello",
      args: [],
      socketPath: "/nonexistent",
      workers: 1,
      dist: "module",
      timeout: null,
      scratchDir: harness,
      interpreterNote: "",
    });
    const code = await new Promise<number | null>((done) => child.on("close", done));
    expect(code).toBe(3);
    expect(received).toEqual([
      expect.objectContaining({
        type: "hello:refused",
        message: "protocol mismatch: supervisor speaks v1, harness speaks v2",
      }),
    ]);
  });

  it("makes the supervisor refuse the compile server's hello", async () => {
    const harness = harnessSpeaking(2);
    await expect(CompileServer.start(pythonWithPytest(), harness)).rejects.toThrow(
      "the compile server spoke hello v2 first; kiln expects hello v1",
    );
  });
});
