// `kiln watch`'s one compile server for the session
// (src/registry/shared-compiler.ts): the same process serves every run, a run
// whose interpreter facts differ (another bytecode magic or pytest version:
// the interpreter or pytest changed meanwhile) gets a fresh one, and close()
// ends it. A real compile server.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SharedCompiler } from "../../../src/registry/shared-compiler.js";
import { REPO } from "../../helpers/kiln.js";
import { processAlive } from "../../helpers/processes.js";
import { pythonFor } from "../../helpers/pythons.js";
import { tempDir } from "../../helpers/temp.js";

async function goneSoon(pid: number): Promise<boolean> {
  const until = Date.now() + 5000;
  while (processAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return !processAlive(pid);
}

describe("SharedCompiler", () => {
  it("keeps one server across runs, replaces it when the facts differ, and closes it", async () => {
    const shared = new SharedCompiler(pythonFor("7.2"), join(REPO, "python"));
    const dir = tempDir("kiln-shared-compiler-");
    const file = join(dir, "mod.py");
    try {
      const first = await shared.take();
      const facts = { magic: first.info.magic, pytest: first.info.pytest };
      await shared.give(first);
      // An edit between two runs: the same server compiles the new content.
      for (const text of ["A = 1\n", "A = 2\n"]) {
        writeFileSync(file, text);
        const server = await shared.take(facts);
        expect(server.pid).toBe(first.pid);
        const [result] = await server.compile([
          { path: file, module: "mod", isPackage: false, rewrite: false },
        ]);
        expect(result && "allNames" in result ? result.allNames : result).toEqual(["A"]);
        await shared.give(server);
      }
      const other = await shared.take({ magic: "00000000", pytest: facts.pytest });
      expect(other.pid).not.toBe(first.pid);
      expect(await goneSoon(first.pid as number)).toBe(true);
      await shared.give(other);
      await shared.close();
      expect(await goneSoon(other.pid as number)).toBe(true);
    } finally {
      await shared.close();
    }
  }, 60_000);
});
