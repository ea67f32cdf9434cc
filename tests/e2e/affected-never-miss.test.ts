// Never miss a test (issue 11): random edits to a generated project; after
// each, every test whose outcome changed between a full run before and a full
// run after the edit must be in `kiln test --changed`'s selection, with the
// outcome the full run gives it. The selection runs before the full run
// after the edit, so it knows only what earlier runs recorded.
// KILN_NEVER_MISS_SEED=N replays a sequence; the seed is printed either way.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import {
  AFFECTED_PROJECT,
  commitAll,
  gitProject,
  writeFiles,
} from "../helpers/affected-project.js";
import { runKiln } from "../helpers/kiln.js";
import { tempDir } from "../helpers/temp.js";

const EDITS = 20;

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Edit = { name: string; apply(dir: string): void };

function editsFor(random: () => number): Edit[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const value = () => 1 + Math.floor(random() * 3);
  let added = 0;
  const modules = ["lib/consts.py", "lib/mid.py", "lib/top.py", "lib/plugins/p0.py", "lib/data.py"];
  return [
    {
      name: "change a constant in a module",
      apply: (dir) => {
        const [file, text] = pick([
          ["lib/consts.py", `A = ${value()}\nB = ${value()}\n`],
          ["lib/plugins/p0.py", `VALUE = ${value() + 1}\n`],
          ["tests/helpers.py", `EXPECTED = ${99 + value()}\n`],
        ] as const);
        writeFileSync(join(dir, file), text);
      },
    },
    {
      name: "change a conftest fixture's value",
      apply: (dir) => {
        const [file, fixture, v] = pick([
          ["tests/conftest.py", "base", 99 + value()],
          ["tests/unit/conftest.py", "factor", value()],
        ] as const);
        writeFileSync(
          join(dir, file),
          `import pytest\n\n\n@pytest.fixture\ndef ${fixture}():\n    return ${v}\n`,
        );
      },
    },
    {
      name: "add a test file",
      apply: (dir) => {
        added++;
        const body = pick([
          `from lib import consts\n\n\ndef test_a():\n    assert consts.A == ${value()}\n`,
          `from lib.top import value\n\n\ndef test_top():\n    assert value() == ${10 * value()}\n`,
          `def test_factor_free(base):\n    assert base == ${99 + value()}\n`,
        ]);
        writeFileSync(join(dir, `tests/unit/test_added_${added}.py`), body);
      },
    },
    {
      name: "delete or restore a module",
      apply: (dir) => {
        const file = pick(modules);
        if (existsSync(join(dir, file))) rmSync(join(dir, file));
        else writeFiles(dir, { [file]: AFFECTED_PROJECT[file] as string });
      },
    },
    {
      name: "edit a data file a test reads",
      apply: (dir) => {
        const path = join(dir, "data/values.txt");
        writeFileSync(path, readFileSync(path, "utf8").trim() === "5" ? "6\n" : "5\n");
      },
    },
  ];
}

/** Each node id's outcome in `kiln test ARGS` (none when nothing ran). */
async function outcomes(dir: string, args: string[]): Promise<Record<string, string>> {
  const file = join(tempDir("kiln-outcomes-"), "outcomes.json");
  const result = await runKiln(
    ["test", "-p", "kiln_harness.outcome_recorder", ...args, "--continue-on-collection-errors"],
    { cwd: dir, env: { KILN_OUTCOMES_FILE: file } },
  );
  if (process.env.KILN_NEVER_MISS_DEBUG)
    process.stdout.write(`${args.join(" ")}: ${result.stdout}\n`);
  if (result.code === 3 || result.code === 4) {
    throw new Error(`kiln test ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  }
  if (!existsSync(file)) {
    if (result.stdout.includes("nothing to run")) return {};
    throw new Error(`kiln test ${args.join(" ")} recorded nothing:\n${result.stdout}`);
  }
  return (JSON.parse(readFileSync(file, "utf8")) as { outcomes: Record<string, string> }).outcomes;
}

it("--changed selects every test whose outcome an edit changed", { timeout: 240_000 }, async () => {
  const seed = Number(process.env.KILN_NEVER_MISS_SEED ?? Date.now() % 2 ** 31);
  // Printed so that a failure can be replayed with KILN_NEVER_MISS_SEED.
  process.stdout.write(`never-miss: seed ${seed} (KILN_NEVER_MISS_SEED=${seed} replays it)\n`);
  const random = rng(seed);
  const edits = editsFor(random);
  const dir = tempDir("kiln-never-miss-");
  gitProject(dir);
  let before = await outcomes(dir, []);
  let changedSeen = 0;
  for (let step = 1; step <= EDITS; step++) {
    const edit = edits[Math.floor(random() * edits.length)] as Edit;
    edit.apply(dir);
    const selected = await outcomes(dir, ["--changed"]);
    const after = await outcomes(dir, []);
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
      (nodeid) => before[nodeid] !== after[nodeid] && after[nodeid] !== undefined,
    );
    changedSeen += changed.length;
    const label = `seed ${seed}, edit ${step} (${edit.name})`;
    for (const nodeid of changed) {
      expect(selected[nodeid], `${label}: ${nodeid} changed but was not selected`).toBe(
        after[nodeid],
      );
    }
    commitAll(dir);
    before = after;
  }
  process.stdout.write(`never-miss: ${EDITS} edits changed ${changedSeen} outcomes\n`);
});
