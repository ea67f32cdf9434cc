import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { durationsPath } from "../../../src/config/kiln-dir.js";
import {
  loadDurations,
  parseDurations,
  saveDurations,
} from "../../../src/events/durations-store.js";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "kiln-durations-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeRaw(text: string): Promise<void> {
  await mkdir(join(root, ".kiln"), { recursive: true });
  await writeFile(durationsPath(root), text);
}

describe("durationsPath", () => {
  it("lives under .kiln/", () => {
    expect(durationsPath("/proj")).toBe("/proj/.kiln/durations.json");
  });
});

describe("loadDurations", () => {
  it("loads a missing file as empty without a warning", async () => {
    const loaded = await loadDurations(root);
    expect(loaded.durations.size).toBe(0);
    expect(loaded.warning).toBeUndefined();
  });

  it("loads a valid file", async () => {
    await writeRaw(JSON.stringify({ version: 1, durations: { "t.py::a": 1.5, "t.py::b": 0 } }));
    const loaded = await loadDurations(root);
    expect([...loaded.durations]).toEqual([
      ["t.py::a", 1.5],
      ["t.py::b", 0],
    ]);
    expect(loaded.warning).toBeUndefined();
  });

  it.each([
    ["not JSON", "{oops", /not valid JSON/],
    ["truncated", '{"version": 1, "durations": {"a": 1', /not valid JSON/],
    ["empty", "", /not valid JSON/],
    ["an array", "[]", /not a JSON object/],
    ["a wrong version", '{"version": 2, "durations": {}}', /unsupported version 2/],
    ["no version", '{"durations": {}}', /unsupported version undefined/],
    [
      "durations not an object",
      '{"version": 1, "durations": [1, 2]}',
      /"durations" is not an object/,
    ],
  ])("loads a corrupt file (%s) as empty with a warning", async (_what, text, message) => {
    await writeRaw(text);
    const loaded = await loadDurations(root);
    expect(loaded.durations.size).toBe(0);
    expect(loaded.warning).toMatch(message);
    expect(loaded.warning).toContain(durationsPath(root));
  });

  it("drops invalid entries with a warning and keeps the valid ones", async () => {
    // 1e400 parses as Infinity.
    await writeRaw(
      '{"version":1,"durations":{"good":2,"neg":-1,"str":"3","nul":null,"big":1e400}}',
    );
    const loaded = await loadDurations(root);
    expect([...loaded.durations]).toEqual([["good", 2]]);
    expect(loaded.warning).toMatch(/ignoring 4 invalid entries/);
  });

  it("warns instead of throwing when the file cannot be read", async () => {
    await mkdir(durationsPath(root), { recursive: true });
    const loaded = await loadDurations(root);
    expect(loaded.durations.size).toBe(0);
    expect(loaded.warning).toMatch(/^ignoring .*durations\.json: /);
  });
});

function controls(text: string): string[] {
  return [...text].filter((c) => {
    const code = c.codePointAt(0) as number;
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
}

describe("a durations.json full of NULs or escape sequences", () => {
  it.each([
    ["NULs", "\0".repeat(4096)],
    ["an escape sequence", '\u001b[2J\u001b[31m{"version": 1, "durations": \n'],
    ["a control character in the version", '{"version": "\\u001b[2J\\u0000"}'],
  ])("is ignored with a warning of printable characters only (%s)", async (_, text) => {
    await writeRaw(text);
    const { durations, warning } = await loadDurations(root);
    expect(durations.size).toBe(0);
    expect(warning).toContain(`ignoring ${durationsPath(root)}: `);
    // Nothing a terminal would act on: no C0/C1 controls, no DEL.
    expect(controls(warning as string)).toEqual([]);
    expect((warning as string).length).toBeLessThan(600);
  });
});

describe("parseDurations", () => {
  it("treats __proto__ as an ordinary nodeid", () => {
    const loaded = parseDurations('{"version":1,"durations":{"__proto__":1}}', "f");
    expect(loaded.durations.get("__proto__")).toBe(1);
  });
});

describe("saveDurations", () => {
  it("creates .kiln/ with a .gitignore and writes the documented format", async () => {
    await saveDurations(
      root,
      new Map([
        ["t.py::b", 2],
        ["t.py::a", 0.25],
      ]),
    );
    expect(await readFile(join(root, ".kiln", ".gitignore"), "utf8")).toBe("*\n");
    const data = JSON.parse(await readFile(durationsPath(root), "utf8"));
    expect(data).toEqual({ version: 1, durations: { "t.py::a": 0.25, "t.py::b": 2 } });
    // Sorted keys keep the file stable.
    expect(Object.keys(data.durations)).toEqual(["t.py::a", "t.py::b"]);
  });

  it("merges new durations into old ones, new values winning", async () => {
    await saveDurations(
      root,
      new Map([
        ["a", 1],
        ["b", 2],
      ]),
    );
    await saveDurations(
      root,
      new Map([
        ["b", 5],
        ["c", 3],
      ]),
    );
    const loaded = await loadDurations(root);
    expect(Object.fromEntries(loaded.durations)).toEqual({ a: 1, b: 5, c: 3 });
  });

  it("roundtrips through loadDurations, including odd nodeids", async () => {
    const durations = new Map([
      ["t.py::test[a::b]", 0.5],
      ["tëst/ünï.py::test_日本", 1],
      ["__proto__", 3],
    ]);
    await saveDurations(root, durations);
    const loaded = await loadDurations(root);
    expect(loaded.durations).toEqual(durations);
    expect(loaded.warning).toBeUndefined();
  });

  it("replaces a corrupt file and passes its warning back", async () => {
    await writeRaw("garbage");
    const warning = await saveDurations(root, new Map([["a", 1]]));
    expect(warning).toMatch(/not valid JSON/);
    const loaded = await loadDurations(root);
    expect(Object.fromEntries(loaded.durations)).toEqual({ a: 1 });
    expect(loaded.warning).toBeUndefined();
  });

  it("does not record invalid durations", async () => {
    await saveDurations(
      root,
      new Map([
        ["ok", 1],
        ["nan", Number.NaN],
        ["neg", -1],
      ]),
    );
    expect(Object.fromEntries((await loadDurations(root)).durations)).toEqual({ ok: 1 });
  });

  it("leaves no temp files behind", async () => {
    await saveDurations(root, new Map([["a", 1]]));
    await saveDurations(root, new Map([["b", 1]]));
    expect((await readdir(join(root, ".kiln"))).sort()).toEqual([".gitignore", "durations.json"]);
  });

  it("survives concurrent saves with a complete, valid file", async () => {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => saveDurations(root, new Map([[`t${i}`, i]]))),
    );
    const loaded = await loadDurations(root);
    expect(loaded.warning).toBeUndefined();
    expect(loaded.durations.size).toBeGreaterThan(0);
    expect((await readdir(join(root, ".kiln"))).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("cleans up its temp file and rethrows when the rename fails", async () => {
    // A directory where the file should be makes rename() fail.
    await mkdir(durationsPath(root), { recursive: true });
    await expect(saveDurations(root, new Map([["a", 1]]))).rejects.toThrow();
    expect((await readdir(join(root, ".kiln"))).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
