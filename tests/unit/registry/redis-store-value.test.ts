// The Redis store's value envelope and the checksum it shares with SQLite:
// every truncation and every single-byte flip must be detected.
import { describe, expect, it } from "vitest";
import { entryChecksum } from "../../../src/registry/checksum.js";
import { decodeRedisValue, encodeRedisValue } from "../../../src/registry/redis-value.js";
import type { StoredEntry } from "../../../src/registry/types.js";

const ENTRY: StoredEntry = {
  code: Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13, 0x80]),
  imports: [{ module: "pkg.mod", names: ["*"], line: 4, level: 2, conditional: false }],
  names: [{ name: "ünïcode", kind: "variable", line: 9 }],
  dynamicNames: false,
};

describe("redis value envelope", () => {
  it("round-trips", () => {
    expect(decodeRedisValue(encodeRedisValue(ENTRY))).toEqual(ENTRY);
  });

  it("rejects every truncation", () => {
    const value = encodeRedisValue(ENTRY);
    for (let length = 0; length < value.length; length++) {
      expect(decodeRedisValue(value.subarray(0, length)), `length ${length}`).toBeUndefined();
    }
  });

  it("rejects every single flipped byte", () => {
    const value = encodeRedisValue(ENTRY);
    for (let i = 0; i < value.length; i++) {
      const bad = Buffer.from(value);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      expect(decodeRedisValue(bad), `byte ${i}`).toBeUndefined();
    }
  });

  it("rejects a value with extra bytes appended", () => {
    expect(decodeRedisValue(Buffer.concat([encodeRedisValue(ENTRY), Buffer.from([0])]))).toBe(
      undefined,
    );
  });
});

describe("entryChecksum", () => {
  it("depends on where the code ends and the meta begins", () => {
    expect(entryChecksum(Buffer.from("ab"), "c")).not.toBe(entryChecksum(Buffer.from("a"), "bc"));
  });
});
