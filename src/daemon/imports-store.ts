// `.kiln/imports.json`: what each test file really imported, over every run
// (runs are pruned to the last 10, and a `--changed` run records only the
// test files it ran). Folded after each run from its imports.jsonl. Entries
// are a union over runs: an import seen once stays (a test may import a
// module only on some paths, or a worker may have died before reporting);
// when in doubt, select more. An entry goes when its test file does.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { importsPath } from "../config/kiln-dir.js";
import { readJsonl } from "../events/jsonl.js";
import type { ImportRecord } from "../events/records.js";
import type { RecordedImports } from "./affected.js";

const STORE_VERSION = 1;

interface StoreFile {
  version: number;
  files: Record<string, string[]>;
  session: string[];
}

/** The recorded imports, or null when no run recorded any (or the file is unusable). */
export function loadRecordedImports(rootdir: string): RecordedImports | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(importsPath(rootdir), "utf8"));
  } catch {
    return null;
  }
  const data = raw as Partial<StoreFile>;
  if (
    data.version !== STORE_VERSION ||
    typeof data.files !== "object" ||
    data.files === null ||
    !Array.isArray(data.session)
  ) {
    return null;
  }
  return { files: data.files, session: data.session };
}

/** Folds one run's imports.jsonl into `.kiln/imports.json`. */
export function foldRunImports(runDir: string, rootdir: string): void {
  const { values } = readJsonl<ImportRecord>(join(runDir, "imports.jsonl"));
  if (values.length === 0) return;
  const previous = loadRecordedImports(rootdir);
  const files = new Map<string, Set<string>>();
  for (const [test, loaded] of Object.entries(previous?.files ?? {})) {
    files.set(test, new Set(loaded));
  }
  const session = new Set(previous?.session ?? []);
  for (const record of values) {
    if (record.test === "") {
      for (const file of record.files) session.add(file);
      continue;
    }
    let known = files.get(record.test);
    if (known === undefined) {
      known = new Set();
      files.set(record.test, known);
    }
    for (const file of record.files) known.add(file);
  }
  const out: StoreFile = { version: STORE_VERSION, files: {}, session: [...session].sort() };
  for (const test of [...files.keys()].sort()) {
    if (!existsSync(join(rootdir, test))) continue;
    out.files[test] = [...(files.get(test) as Set<string>)].sort();
  }
  const path = importsPath(rootdir);
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(out)}\n`);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** foldRunImports for a finished run, its rootdir read from its manifest; a warning or "". */
export function foldRunImportsOf(runDir: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(runDir, "manifest.json"), "utf8")) as {
      rootdir?: string | null;
    };
    if (typeof manifest.rootdir !== "string") return "";
    foldRunImports(runDir, manifest.rootdir);
    return "";
  } catch (error) {
    return `could not record the tests' imports: ${error instanceof Error ? error.message : String(error)}`;
  }
}
