// --runtime: a named runtime is taken as given; a wrong one is a usage
// error naming the choices; without one, native only where strict applies.
import { describe, expect, it } from "vitest";
import { chooseRuntime, RuntimeUsageError } from "../../../src/pool/runtime-choice.js";
import { detectPlatformFeatures } from "../../../src/sandbox/features.js";

describe("chooseRuntime", () => {
  it("takes native or pyodide as asked, with no note", () => {
    expect(chooseRuntime("native")).toEqual({ runtime: "native" });
    expect(chooseRuntime("pyodide")).toEqual({ runtime: "pyodide" });
  });

  it("refuses another name, saying which there are", () => {
    expect(() => chooseRuntime("wasm")).toThrow(RuntimeUsageError);
    expect(() => chooseRuntime("wasm")).toThrow("--runtime wasm: one of native, pyodide");
  });

  it("defaults to native where strict's kernel features are here, else pyodide with a one-line note", () => {
    const features = detectPlatformFeatures();
    const strictApplies =
      process.platform === "linux" &&
      features
        .filter((f) => f.name === "user namespaces" || f.name === "seccomp")
        .every((f) => f.available);
    const choice = chooseRuntime(undefined);
    if (strictApplies) expect(choice).toEqual({ runtime: "native" });
    else {
      expect(choice.runtime).toBe("pyodide");
      expect(choice.note).toMatch(/^kiln: runtime pyodide \(the strict profile needs [^\n]+\)$/);
    }
  });
});
