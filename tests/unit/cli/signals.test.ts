// cli/signals.ts in a child Node process: real signals, sent to itself.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../../helpers/kiln.js";

const SIGNALS = join(REPO, "dist/cli/signals.js");

function node(script: string) {
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
}

describe("signals before a command takes them", () => {
  it("are kept and handed to the command that takes them", () => {
    const r = node(`
      import { catchSignals, takeSignals } from ${JSON.stringify(SIGNALS)};
      catchSignals();
      process.kill(process.pid, "SIGTERM");
      process.kill(process.pid, "SIGINT");
      setTimeout(() => {
        const got = [];
        takeSignals((s) => got.push(s));
        process.kill(process.pid, "SIGINT");
        setTimeout(() => { console.log(got.join(",")); }, 50);
      }, 50);
    `);
    expect(r.stdout.trim()).toBe("SIGTERM,SIGINT,SIGINT");
    expect(r.status).toBe(0);
  });

  it("act as Node's default once given back, including one that already came", () => {
    const r = node(`
      import { catchSignals, restoreDefaultSignals } from ${JSON.stringify(SIGNALS)};
      catchSignals();
      process.kill(process.pid, "SIGTERM");
      setTimeout(() => {
        console.log("still here");
        restoreDefaultSignals();
        setTimeout(() => console.log("not reached"), 500);
      }, 50);
    `);
    expect(r.stdout).toBe("still here\n");
    expect(r.signal).toBe("SIGTERM");
  });
});
