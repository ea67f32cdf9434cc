// cli/early-zygote.ts: the --python guess made before commander parses, and
// what happens to an early zygote the run cannot use.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pythonFlag } from "../../../src/cli/early-zygote.js";
import { pythonWithPytest, REPO } from "../../helpers/kiln.js";

describe("pythonFlag", () => {
  it.each([
    [["-q"], undefined],
    [["--python", "/a/python"], "/a/python"],
    [["--python=/a/python", "-x"], "/a/python"],
    [["--python", "/a", "-k", "x", "--python", "/b"], "/b"],
    [["-x", "--", "--python", "/a"], undefined],
    [["--python"], undefined],
  ] as const)("%j -> %s", (args, expected) => {
    expect(pythonFlag(args)).toBe(expected);
  });
});

describe("an early zygote for another interpreter than the run's", () => {
  it("is ended when the run asks for its own", () => {
    const module = join(REPO, "dist/cli/early-zygote.js");
    // Its debug line names the pid; it is read back before Node exits (whose
    // "exit" hook would end an early zygote anyway).
    const script = `
      import { readFileSync } from "node:fs";
      import { startEarlyZygote, takeEarlyZygote } from ${JSON.stringify(module)};
      let said = "";
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = (chunk) => { said += String(chunk); return write(chunk); };
      startEarlyZygote(["--python", ${JSON.stringify(pythonWithPytest())}]);
      const pid = Number(/pid (\\d+)/.exec(said)?.[1]);
      const taken = takeEarlyZygote("/elsewhere/bin/python", process.cwd());
      const alive = () => {
        try {
          const stat = readFileSync("/proc/" + pid + "/stat", "utf8");
          return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
        } catch { return false; }
      };
      setTimeout(() => console.log(pid > 0, String(taken), alive()), 300);
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, KILN_DEBUG: "1" },
    });
    expect(r.stdout.trim(), r.stderr).toBe("true undefined false");
  });
});
