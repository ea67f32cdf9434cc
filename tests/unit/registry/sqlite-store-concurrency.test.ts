// Two real processes on one registry.sqlite at once, as two `kiln` runs in
// one project would be. Worker threads would share one process's locks, so
// this compiles SqliteStore and its local imports to plain ESM (TypeScript's
// transpileModule, no type check) and runs a small script in two children.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../../src/registry/sqlite-store.js";

const REPO = resolve(import.meta.dirname, "../../..");
const ROUNDS = 150;
const PER_ROUND = 4;

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "kiln-sqlite-concurrency-"));
  transpileClosure(join(REPO, "src/registry/sqlite-store.ts"), join(scratch, "build"));
  writeFileSync(join(scratch, "build", "package.json"), '{"type": "module"}\n');
  // Bare imports (better-sqlite3) resolve from the repository's node_modules.
  symlinkSync(join(REPO, "node_modules"), join(scratch, "build", "node_modules"));
  writeFileSync(join(scratch, "build", "child.mjs"), CHILD);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

// Each child writes its own keys in small batches and reads back both its
// own and the other child's; any warning (SQLITE_BUSY included) is a failure.
const CHILD = `
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "./src/registry/sqlite-store.js";
const [root, id, other] = process.argv.slice(2);
const warnings = [];
const store = await SqliteStore.open(root, { warn: (m) => warnings.push(m) });
// Barrier: neither starts writing until both have the database open.
writeFileSync(join(root, id + ".ready"), "");
while (!existsSync(join(root, other + ".ready"))) await new Promise((r) => setTimeout(r, 5));
const entry = (text) => ({ code: Buffer.from(text), imports: [], names: [], dynamicNames: false });
let ownMisses = 0;
let otherSeen = 0;
for (let round = 0; round < ${ROUNDS}; round++) {
  const batch = new Map();
  for (let j = 0; j < ${PER_ROUND}; j++) batch.set(id + ":" + round + ":" + j, entry(id + round + j));
  await store.putMany(batch);
  const keys = [...batch.keys()];
  for (let j = 0; j < ${PER_ROUND}; j++) keys.push(other + ":" + round + ":" + j);
  const got = await store.getMany(keys);
  for (const key of keys) {
    if (batch.has(key)) ownMisses += got.has(key) ? 0 : 1;
    else otherSeen += got.has(key) ? 1 : 0;
  }
}
const stats = await store.stats();
await store.close();
process.stdout.write(JSON.stringify({ warnings, ownMisses, otherSeen, corrupted: stats.corrupted }));
`;

interface ChildReport {
  warnings: string[];
  ownMisses: number;
  otherSeen: number;
  corrupted: number;
}

function runChild(root: string, id: string, other: string): Promise<ChildReport> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["child.mjs", root, id, other], {
      cwd: join(scratch, "build"),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("close", (code) => {
      if (code !== 0) fail(new Error(`child ${id} exited ${code}:\n${stderr}`));
      else done(JSON.parse(stdout) as ChildReport);
    });
  });
}

describe("SqliteStore under two concurrent processes", () => {
  it("creates, writes and reads one file without SQLITE_BUSY or lost entries", async () => {
    const root = join(scratch, "project");
    mkdirSync(root);
    const [a, b] = await Promise.all([runChild(root, "A", "B"), runChild(root, "B", "A")]);
    for (const report of [a, b]) {
      expect(report.warnings).toEqual([]);
      expect(report.ownMisses).toBe(0);
      expect(report.corrupted).toBe(0);
    }
    // In every round the later of the two reads follows both writes, so each
    // round shows at least one child the other's batch.
    expect(a.otherSeen + b.otherSeen).toBeGreaterThanOrEqual(ROUNDS * PER_ROUND);
    const store = await SqliteStore.open(root);
    try {
      const keys = ["A", "B"].flatMap((id) =>
        Array.from({ length: ROUNDS * PER_ROUND }, (_, n) => {
          return `${id}:${Math.floor(n / PER_ROUND)}:${n % PER_ROUND}`;
        }),
      );
      const got = await store.getMany(keys);
      expect(got.size).toBe(keys.length);
      expect(got.get("B:7:3")?.code.toString()).toBe("B73");
    } finally {
      await store.close();
    }
  });
});

/** Transpiles `entry` and every module it imports by relative path into `outDir`. */
function transpileClosure(entry: string, outDir: string): void {
  const pending = [entry];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, "utf8");
    const output = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    }).outputText;
    const target = join(outDir, relative(REPO, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output);
    for (const match of output.matchAll(/from\s+"(\.{1,2}\/[^"]+)\.js"/g)) {
      pending.push(resolve(dirname(file), `${match[1]}.ts`));
    }
  }
}
