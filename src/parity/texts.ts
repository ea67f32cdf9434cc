// Pure comparison of the texts a run printed, beside its outcomes: failure
// text per test phase, collection errors, the warnings summary, and an initial
// conftest's import error, as kiln_harness/outcome_recorder.py records them.
// They must be byte-identical to pytest's apart from what legitimately
// varies between two runs: durations, the `[kwN] ` worker prefix Kiln adds
// (as xdist's `[gwN]`), object addresses in default reprs, and temp paths
// when the two runs used different dirs.

export interface WarningEntry {
  /** What the summary prints above the message: a node id, or path:lineno. */
  location: string;
  /** warning_record_to_str: "path:lineno: Category: message\n  source line\n". */
  message: string;
}

export interface RunTexts {
  /** nodeid -> phase (setup, call, teardown, ???) -> longreprtext. */
  failures: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** collector nodeid -> longreprtext. */
  collectErrors: Readonly<Record<string, string>>;
  /** null when the run had no terminal reporter to summarize warnings. */
  warnings: readonly WarningEntry[] | null;
  /** Set only when an initial conftest failed to import (exit 4). */
  conftestError: string | undefined;
}

export type TextDifference =
  | {
      kind: "failure-text";
      nodeid: string;
      phase: string;
      pytest: string | undefined;
      kiln: string | undefined;
    }
  | {
      kind: "collect-error-text";
      nodeid: string;
      pytest: string | undefined;
      kiln: string | undefined;
    }
  | { kind: "conftest-error"; pytest: string | undefined; kiln: string | undefined }
  | { kind: "warnings"; onlyPytest: string[]; onlyKiln: string[] };

export interface NormalizeOptions {
  /** [from, to] pairs replaced literally (longest first), e.g. each run's temp dir -> "<tmp>". */
  paths?: ReadonlyArray<readonly [string, string]>;
}

// pytest's durations: "0.52s", "(>1.0s)", "250.00ms"; hypothesis's
// "took 1,234.56ms". Only a number glued to ms/s counts, so source lines and
// messages that merely mention a number are left alone.
const DURATION = /\b\d[\d,]*(?:\.\d+)?(?:ms|s)\b/g;
// object.__repr__ shows id(), which differs between any two runs, two plain
// pytest runs included ("<test_m.TestX object at 0x7f5abc39c850>").
const OBJECT_ADDRESS = / at 0x[0-9a-fA-F]+\b/g;
// unittest.mock's repr shows id() in decimal ("<MagicMock name='x' id='1401...'>").
const MOCK_ID = / id='\d+'>/g;
// Kiln's -v prefix with several workers, like xdist's "[gw0] ".
const WORKER_PREFIX = /\[kw\d+\] /g;

export function normalizeText(text: string, options: NormalizeOptions = {}): string {
  let out = text;
  const paths = [...(options.paths ?? [])].sort((a, b) => b[0].length - a[0].length);
  for (const [from, to] of paths) {
    if (from !== "") out = out.split(from).join(to);
  }
  return out
    .replace(WORKER_PREFIX, "")
    .replace(DURATION, "<duration>")
    .replace(OBJECT_ADDRESS, " at 0x<address>")
    .replace(MOCK_ID, " id='<id>'>");
}

export function compareTexts(
  pytest: RunTexts,
  kiln: RunTexts,
  options: NormalizeOptions = {},
): TextDifference[] {
  const norm = (text: string | undefined) =>
    text === undefined ? undefined : normalizeText(text, options);
  const diffs: TextDifference[] = [];

  const p = norm(pytest.conftestError);
  const k = norm(kiln.conftestError);
  if (p !== k) diffs.push({ kind: "conftest-error", pytest: p, kiln: k });

  for (const nodeid of unionKeys(pytest.collectErrors, kiln.collectErrors)) {
    const pc = norm(own(pytest.collectErrors, nodeid));
    const kc = norm(own(kiln.collectErrors, nodeid));
    if (pc !== kc) diffs.push({ kind: "collect-error-text", nodeid, pytest: pc, kiln: kc });
  }

  for (const nodeid of unionKeys(pytest.failures, kiln.failures)) {
    const pp = own(pytest.failures, nodeid) ?? {};
    const kp = own(kiln.failures, nodeid) ?? {};
    for (const phase of unionKeys(pp, kp)) {
      const pt = norm(own(pp, phase));
      const kt = norm(own(kp, phase));
      if (pt !== kt) diffs.push({ kind: "failure-text", nodeid, phase, pytest: pt, kiln: kt });
    }
  }

  // The summary's order follows completion order, which several workers
  // change (as with xdist): compare the entries as multisets.
  if (pytest.warnings !== null || kiln.warnings !== null) {
    const entry = (w: WarningEntry) => normalizeText(`${w.location}\n${w.message}`, options);
    const { onlyA, onlyB } = multisetDifference(
      (pytest.warnings ?? []).map(entry),
      (kiln.warnings ?? []).map(entry),
    );
    if (onlyA.length > 0 || onlyB.length > 0) {
      diffs.push({ kind: "warnings", onlyPytest: onlyA, onlyKiln: onlyB });
    }
  }
  return diffs;
}

/**
 * Drop failure-text differences of tests whose text is Kiln's own by design
 * (parity.json's text_exempt: a crash or a --timeout, where the baseline is
 * xdist's or pytest-timeout's report). Their outcomes are still compared.
 */
export function withoutExemptTexts<T extends { kind: string }>(
  diffs: readonly T[],
  exempt: ReadonlySet<string>,
): T[] {
  return diffs.filter(
    (d) => !(d.kind === "failure-text" && "nodeid" in d && exempt.has(String(d.nodeid))),
  );
}

/** A few lines that show where two texts part: the first differing line, with context. */
export function describeTextDifference(
  pytest: string | undefined,
  kiln: string | undefined,
  labels: { pytest: string; kiln: string } = { pytest: "pytest", kiln: "kiln" },
): string[] {
  if (pytest === undefined)
    return [`${labels.pytest}: (none)`, `${labels.kiln}: ${firstLine(kiln)}`];
  if (kiln === undefined)
    return [`${labels.pytest}: ${firstLine(pytest)}`, `${labels.kiln}: (none)`];
  const a = pytest.split("\n");
  const b = kiln.split("\n");
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const lines = [`first difference at line ${i + 1}:`];
  if (i > 0) lines.push(`    ${a[i - 1]}`);
  if (i < a.length) lines.push(`  - ${a[i]}`);
  else lines.push(`  - (${labels.pytest}'s text ends)`);
  if (i < b.length) lines.push(`  + ${b[i]}`);
  else lines.push(`  + (${labels.kiln}'s text ends)`);
  return lines;
}

/** Parse the recorder's text fields; undefined when the file predates them (expected/*.json). */
export function parseTexts(data: Record<string, unknown>): RunTexts | undefined {
  if (!("failures" in data) && !("conftest_error" in data)) return undefined;
  const failures: Record<string, Record<string, string>> = {};
  for (const [nodeid, phases] of Object.entries(objectField(data, "failures"))) {
    if (!isPlainObject(phases))
      throw new Error(`failures of ${JSON.stringify(nodeid)} is not an object`);
    failures[nodeid] = stringRecord(phases, `failures of ${JSON.stringify(nodeid)}`);
  }
  const collectErrors = stringRecord(objectField(data, "collect_errors"), "collect_errors");
  let warnings: WarningEntry[] | null = null;
  const rawWarnings = data.warnings;
  if (Array.isArray(rawWarnings)) {
    warnings = rawWarnings.map((w: unknown, i: number) => {
      if (!isPlainObject(w) || typeof w.location !== "string" || typeof w.message !== "string") {
        throw new Error(`warnings[${i}] needs string location and message`);
      }
      return { location: w.location, message: w.message };
    });
  } else if (rawWarnings !== undefined && rawWarnings !== null) {
    throw new Error("warnings is neither a list nor null");
  }
  const conftestError = data.conftest_error;
  if (conftestError !== undefined && typeof conftestError !== "string") {
    throw new Error("conftest_error is not a string");
  }
  return { failures, collectErrors, warnings, conftestError };
}

function objectField(data: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = data[key];
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new Error(`${key} is not an object`);
  return value;
}

function stringRecord(value: Record<string, unknown>, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== "string")
      throw new Error(`${what}: ${JSON.stringify(key)} is not a string`);
    out[key] = text;
  }
  return out;
}

function multisetDifference(a: string[], b: string[]): { onlyA: string[]; onlyB: string[] } {
  const counts = new Map<string, number>();
  for (const x of a) counts.set(x, (counts.get(x) ?? 0) + 1);
  const onlyB: string[] = [];
  for (const x of b) {
    const n = counts.get(x) ?? 0;
    if (n > 0) counts.set(x, n - 1);
    else onlyB.push(x);
  }
  const onlyA: string[] = [];
  for (const [x, n] of counts) for (let i = 0; i < n; i++) onlyA.push(x);
  return { onlyA: onlyA.sort(compareStrings), onlyB: onlyB.sort(compareStrings) };
}

function unionKeys(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(compareStrings);
}

function own<T>(map: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n")[0] ?? "";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
