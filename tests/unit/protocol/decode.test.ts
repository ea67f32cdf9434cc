import { describe, expect, it } from "vitest";
import { decodeWorkerMessage, decodeZygoteMessage } from "../../../src/protocol/decode.js";
import { ProtocolError } from "../../../src/protocol/frame-codec.js";

describe("message guards", () => {
  it("accepts well-formed messages", () => {
    const msg = decodeWorkerMessage({ type: "worker:hello", workerId: 1, pid: 9, v: 1 });
    expect(msg.type).toBe("worker:hello");
    expect(decodeZygoteMessage({ type: "run:ready", items: ["a"], v: 1 }).type).toBe("run:ready");
  });

  it("rejects unknown types and missing or mistyped fields, naming the peer", () => {
    expect(() => decodeWorkerMessage({ type: "test:exploded", v: 1 })).toThrow(ProtocolError);
    expect(() =>
      decodeWorkerMessage({ type: "worker:hello", workerId: "1", pid: 9, v: 1 }),
    ).toThrow(/a worker sent worker:hello with a bad or missing "workerId"/);
    expect(() => decodeZygoteMessage({ type: "collection:finished", rootdir: "/", v: 1 })).toThrow(
      /the zygote sent collection:finished/,
    );
  });
});
