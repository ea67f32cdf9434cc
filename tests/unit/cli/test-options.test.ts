import { describe, expect, it } from "vitest";
import { parseTestOptions, parseWorkers, UsageError } from "../../../src/cli/test-options.js";

describe("kiln test flags", () => {
  it("reads -n as a count, auto as the cores, and 0 as one serial worker", () => {
    expect(parseWorkers("3", 8)).toBe(3);
    expect(parseWorkers("auto", 8)).toBe(8);
    expect(parseWorkers(undefined, 2)).toBe(2);
    expect(parseWorkers("0", 8)).toBe(1);
    expect(() => parseWorkers("-2", 8)).toThrow(UsageError);
    expect(() => parseWorkers("two", 8)).toThrow(/-n expects/);
    // auto (and xdist's logical) is a ceiling the run refines after collection.
    expect(parseTestOptions({ numprocesses: "logical" }, 4)).toMatchObject({
      workers: 4,
      workersAuto: true,
    });
    expect(parseTestOptions({ numprocesses: "2" }, 4).workersAuto).toBe(false);
  });

  it("defaults to module grouping, no timeout, the registry on with the local store", () => {
    expect(parseTestOptions({}, 2)).toEqual({
      workers: 2,
      workersAuto: true,
      dist: "module",
      timeout: null,
      python: undefined,
      registry: { store: undefined },
      daemon: true,
    });
  });

  it("asks the project's daemon unless --no-daemon", () => {
    expect(parseTestOptions({ daemon: false }, 2).daemon).toBe(false);
  });

  it("turns the registry off with --no-registry and validates --store", () => {
    expect(parseTestOptions({ registry: false }, 2).registry).toBeNull();
    expect(parseTestOptions({ store: "redis://127.0.0.1:6379" }, 2).registry).toEqual({
      store: "redis://127.0.0.1:6379",
    });
    expect(() => parseTestOptions({ store: "memcached://x" }, 2)).toThrow(/unsupported scheme/);
    // The same spec `kiln cache stats` refuses (issue 9): a port out of range.
    expect(() => parseTestOptions({ store: "redis://127.0.0.1:99999" }, 2)).toThrow(
      /not a store name or URL/,
    );
  });

  it("validates --dist and --timeout; --timeout 0 disables it as in pytest-timeout", () => {
    expect(parseTestOptions({ dist: "class", timeout: "1.5" }, 2)).toMatchObject({
      dist: "class",
      timeout: 1.5,
    });
    expect(parseTestOptions({ timeout: "0" }, 2).timeout).toBeNull();
    expect(() => parseTestOptions({ dist: "loadscope" }, 2)).toThrow(/--dist must be one of/);
    expect(() => parseTestOptions({ timeout: "-1" }, 2)).toThrow(/--timeout expects seconds/);
  });

  it("rejects a --timeout Node's timers would clamp to 1 ms (issue 9, item 2)", () => {
    expect(parseTestOptions({ timeout: "2147483" }, 2).timeout).toBe(2147483);
    expect(() => parseTestOptions({ timeout: "2147480.5e0" }, 2)).not.toThrow();
    expect(() => parseTestOptions({ timeout: "2147484" }, 2)).toThrow(
      /--timeout is at most 2147483 seconds/,
    );
    expect(() => parseTestOptions({ timeout: "1e300" }, 2)).toThrow(/at most 2147483/);
  });
});
