import { describe, expect, it } from "vitest";
import { Admission } from "../../../src/server/admission.js";
import { parseTokens, TokenCheck } from "../../../src/server/auth.js";

describe("TokenCheck", () => {
  const check = new TokenCheck(parseTokens("# comment\nalpha\n\n  beta  \n"));

  it("accepts any listed token as a bearer token, nothing else", () => {
    expect(check.allows("Bearer alpha")).toBe(true);
    expect(check.allows("bearer beta")).toBe(true);
    expect(check.allows("Bearer alph")).toBe(false);
    expect(check.allows("Bearer alphaa")).toBe(false);
    expect(check.allows("alpha")).toBe(false);
    expect(check.allows(undefined)).toBe(false);
    expect(check.allows("Bearer # comment")).toBe(false);
  });

  it("lets everything through when no token is configured (loopback only)", () => {
    expect(new TokenCheck([]).allows(undefined)).toBe(true);
  });
});

describe("Admission", () => {
  it("runs `concurrency` at once, queues `queue` more, refuses the rest", async () => {
    const gate = new Admission(1, 1);
    const first = gate.enter();
    const second = gate.enter();
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect(gate.enter()).toBeNull();
    const release = await first;
    let secondIn = false;
    void second?.then(() => {
      secondIn = true;
    });
    release?.();
    await Promise.resolve();
    await Promise.resolve();
    expect(secondIn).toBe(true);
    expect(gate.inFlight).toBe(1);
    expect(gate.retryAfterSeconds(2_500)).toBeGreaterThanOrEqual(3);
  });
});
