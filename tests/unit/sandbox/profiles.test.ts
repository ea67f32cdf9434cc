import { describe, expect, it } from "vitest";
import { parseTestOptions, UsageError } from "../../../src/cli/test-options.js";
import {
  PROFILES,
  ProfileError,
  parseProfile,
  profileLines,
  resolveIsolation,
  STRICT_DEFAULT_LIMITS,
} from "../../../src/sandbox/profiles.js";

describe("isolation profiles", () => {
  it("knows none, hermetic and strict, and names the choices when refusing another", () => {
    expect(PROFILES).toEqual(["none", "hermetic", "strict"]);
    expect(parseProfile("strict", "--isolate")).toBe("strict");
    expect(() => parseProfile("sealed", "--isolate")).toThrow(ProfileError);
    expect(() => parseProfile("sealed", "--isolate")).toThrow(
      '--isolate: unknown isolation profile "sealed"; choose one of none, hermetic, strict',
    );
  });

  it("--isolate is validated with the other flags (a usage error)", () => {
    expect(parseTestOptions({ isolate: "hermetic" }, 2).isolate).toBe("hermetic");
    expect(parseTestOptions({}, 2).isolate).toBeUndefined();
    expect(() => parseTestOptions({ isolate: "Strict" }, 2)).toThrow(UsageError);
  });

  it("the flag wins over the config, none is the default", () => {
    expect(resolveIsolation(undefined, undefined, {}).profile).toBe("none");
    expect(resolveIsolation(undefined, "hermetic", {}).profile).toBe("hermetic");
    expect(resolveIsolation("none", "strict", {}).profile).toBe("none");
    expect(resolveIsolation("strict", "hermetic", {}).profile).toBe("strict");
  });

  it("strict gets the defaults, overridden key by key; other profiles have no limits", () => {
    expect(resolveIsolation("strict", undefined, {}).limits).toEqual(STRICT_DEFAULT_LIMITS);
    expect(resolveIsolation("strict", undefined, { cpuSeconds: 30 }).limits).toEqual({
      ...STRICT_DEFAULT_LIMITS,
      cpuSeconds: 30,
    });
    expect(resolveIsolation("hermetic", undefined, { cpuSeconds: 30 }).limits).toEqual({});
  });

  it("strict defaults are at least as strict as Judge0's where the measures compare", () => {
    // Judge0: CPU 5 s, 60 processes, 1 MiB files (its 128 MB is resident
    // memory, a cgroup limit; RLIMIT_AS is documented in profiles.ts).
    expect(STRICT_DEFAULT_LIMITS.cpuSeconds).toBeLessThanOrEqual(5);
    expect(STRICT_DEFAULT_LIMITS.processes).toBeLessThanOrEqual(60);
    expect(STRICT_DEFAULT_LIMITS.fileSizeMb).toBeLessThanOrEqual(1);
  });

  it("doctor lines say which profiles work and why not", () => {
    const lines = profileLines({ hermetic: [], strict: ["landlock: not available"] });
    expect(lines[0]).toMatch(/^ {2}none: yes/);
    expect(lines[1]).toMatch(/^ {2}hermetic: yes/);
    expect(lines[2]).toBe("  strict: no: landlock: not available");
    expect(profileLines(undefined)[1]).toMatch(/hermetic: unknown/);
  });
});
