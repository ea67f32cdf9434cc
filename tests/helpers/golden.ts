// Golden runs: an example project's run recorded once by the real CLI, then
// normalized (paths, pids, run ids, host, clock, memory addresses, huge
// captured output) so the record committed under tests/golden/runs/ is
// stable and small, and the report goldens rendered from it are exact.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Manifest } from "../../src/events/manifest.js";
import { REPO, runKiln } from "./kiln.js";
import { latestRun } from "./reports.js";
import { copyProject } from "./temp.js";

export const GOLDEN = join(REPO, "tests", "golden");
export const GOLDEN_RUNS = join(GOLDEN, "runs");
export const GOLDEN_REPORTS = join(GOLDEN, "reports");
export const UPDATE_GOLDEN = process.env.KILN_UPDATE_GOLDEN === "1";

/** Every recorded run starts here (2024-01-01T00:00:00Z). */
const BASE_MS = 1_704_067_200_000;
/** Longer captured sections are cut: the goldens test rendering, not volume. */
const MAX_TEXT = 4_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Normalizer {
  startedAt: number;
  pids: Map<number, number>;
  replacements: [string, string][];
}

function pid(n: Normalizer, value: number): number {
  if (value <= 0) return value;
  let mapped = n.pids.get(value);
  if (mapped === undefined) {
    mapped = 1000 + n.pids.size;
    n.pids.set(value, mapped);
  }
  return mapped;
}

function text(n: Normalizer, value: string): string {
  let out = value;
  for (const [from, to] of n.replacements) out = out.split(from).join(to);
  out = out.replace(/0x[0-9a-f]{6,}/g, "0x0000");
  out = out.replace(/\(pid (\d+)\)/g, (_, p: string) => `(pid ${pid(n, Number(p))})`);
  if (out.length > MAX_TEXT) out = `${out.slice(0, MAX_TEXT)}\n…[cut by the golden normalizer]\n`;
  return out;
}

function normalize(n: Normalizer, value: Json, key = ""): Json {
  if (typeof value === "string") return text(n, value);
  if (typeof value === "number") {
    if (key === "at" || key === "startedAt" || key === "finishedAt")
      return value - n.startedAt + BASE_MS;
    if (key === "start" || key === "stop") return (value * 1000 - n.startedAt + BASE_MS) / 1000;
    if (key === "pid") return pid(n, value);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => normalize(n, v));
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "runId") out[k] = "golden";
      else if (k === "hostname") out[k] = "golden-host";
      else if (k === "utcOffsetMinutes") out[k] = 0;
      else if (k === "kilnVersion") out[k] = "0.0.0";
      else out[k] = normalize(n, v, k);
    }
    return out;
  }
  return value;
}

/** Copies a recorded run into `target`, normalized. */
export function normalizeRun(
  runDir: string,
  projectDir: string,
  name: string,
  target: string,
): void {
  const manifest = JSON.parse(readFileSync(join(runDir, "manifest.json"), "utf8")) as Manifest;
  const n: Normalizer = {
    startedAt: manifest.startedAt,
    pids: new Map(),
    replacements: [
      [projectDir, `/projects/${name}`],
      [REPO, "/kiln"],
    ],
  };
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const file of manifest.files) {
    const lines = readFileSync(join(runDir, file.name), "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.stringify(normalize(n, JSON.parse(line) as Json)));
    const content = lines.map((l) => `${l}\n`).join("");
    writeFileSync(join(target, file.name), content);
    file.lines = lines.length;
    file.bytes = Buffer.byteLength(content);
  }
  const normalized = normalize(n, manifest as unknown as Json);
  writeFileSync(join(target, "manifest.json"), `${JSON.stringify(normalized, null, 2)}\n`);
}

/** Runs kiln on a copy of the project and stores the normalized record. */
export async function recordGoldenRun(name: string, kilnArgs: readonly string[]): Promise<string> {
  const dir = copyProject(name);
  try {
    await runKiln(["test", "-p", "no:cacheprovider", "-q", ...kilnArgs], {
      cwd: dir,
      timeoutMs: 120_000,
    });
    const target = join(GOLDEN_RUNS, name);
    normalizeRun(latestRun(dir), dir, name, target);
    return target;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function goldenProjects(): string[] {
  return readdirSync(GOLDEN_RUNS).sort();
}
