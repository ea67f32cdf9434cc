// "issue 16 targets: target vs now": every row of the table, with
// the figure this bench run measured next to the goal. A row whose suite was
// not run says so.
import { markdownTable, mib, ratio, seconds } from "./format.js";
import { microFigures, ms, workerUssKb } from "./profile-tables.js";
import { REAL_SPECS } from "./real-suites.js";
import type { SuiteRecord } from "./results.js";
import { median } from "./stats.js";
import type { CommandOutcome } from "./suite-runner.js";

function outcome(
  suites: readonly SuiteRecord[],
  suite: string,
  label: string,
): CommandOutcome | undefined {
  const found = suites.find((s) => s.name === suite)?.commands.find((c) => c.label === label);
  return found?.status === "ok" && found.runs.length > 0 ? found : undefined;
}

const wall = (o: CommandOutcome | undefined) =>
  o === undefined ? Number.NaN : median(o.runs.map((r) => r.wallMs));

interface Row {
  caseText: string;
  target: string;
  now: string;
  met: boolean | undefined;
}

/** `value` against an upper bound: "met", or by how much it is missed. */
function verdict(row: Row): string {
  if (row.met === undefined) return "–";
  return row.met ? "met" : "missed";
}

function ratioRow(
  suites: readonly SuiteRecord[],
  caseText: string,
  suite: string,
  label: string,
  reference: string,
  bound: number,
): Row {
  const mine = wall(outcome(suites, suite, label));
  const theirs = wall(outcome(suites, suite, reference));
  const known = Number.isFinite(mine) && Number.isFinite(theirs);
  return {
    caseText,
    target: `≤ ${bound.toFixed(1)}× \`${reference}\``,
    now: known ? `${ratio(mine, theirs)} (${seconds(mine)} s vs ${seconds(theirs)} s)` : "not run",
    met: known ? mine / theirs <= bound : undefined,
  };
}

export function targetsTable(suites: readonly SuiteRecord[]): string {
  const rows: Row[] = [];
  // Small real suites: 16-280 tests, under a second in pytest on a quiet
  // machine (the definition, fixed per suite in real-suites.ts); the
  // others are listed too, but not judged.
  const real = REAL_SPECS.map((spec) => ({
    spec,
    pytest: wall(outcome(suites, spec.name, "pytest")),
    kiln: wall(outcome(suites, spec.name, "kiln")),
  })).filter((s) => Number.isFinite(s.pytest) && Number.isFinite(s.kiln));
  const small = real.filter((s) => s.spec.small);
  const worst = Math.max(...small.map((s) => s.kiln / s.pytest));
  rows.push({
    caseText: "small real suites (16–280 tests), `kiln` default",
    target: "≤ 1.0× `pytest` on every one",
    now:
      real.length === 0
        ? "not run"
        : real
            .map(
              (s) =>
                `${s.spec.package} ${ratio(s.kiln, s.pytest)} (${seconds(s.kiln)} vs ${seconds(s.pytest)} s${s.spec.small ? "" : "; not small"})`,
            )
            .join(", "),
    met: small.length === 0 ? undefined : worst <= 1.0,
  });
  rows.push(
    ratioRow(suites, "tiny suite (10 tests), `kiln` default", "tiny", "kiln", "pytest", 1.1),
  );
  rows.push(
    ratioRow(suites, "2,000 trivial tests, `kiln -n 1`", "trivial", "kiln -n 1", "pytest", 1.0),
  );
  rows.push(
    ratioRow(
      suites,
      "import-heavy generated suite, `kiln -n 2`",
      "import-heavy",
      "kiln -n 2",
      "pytest -n 2",
      0.6,
    ),
  );
  // Worker USS: slow-tests samples it in every round (20 tests per worker);
  // trivial's warm-up shows it after 1,000 tests per worker.
  const slow = outcome(suites, "slow-tests", "kiln -n 2");
  const slowUss = slow ? workerUssKb(slow) : [];
  const trivialRun = suites
    .find((s) => s.name === "trivial")
    ?.commands.find((c) => c.label === "kiln -n 2");
  const trivialUss = trivialRun ? workerUssKb(trivialRun) : [];
  const trivialNote =
    trivialUss.length === 0
      ? ""
      : `; ${mib(median(trivialUss))} MiB after 1,000 trivial tests each (trivial's warm-up)`;
  rows.push({
    caseText: "worker private memory (USS), peak per forked worker",
    target: "≤ 2 MiB",
    now:
      slowUss.length === 0
        ? "not sampled"
        : `${mib(median(slowUss))} MiB (slow-tests, \`kiln -n 2\`, ${slowUss.length} workers)${trivialNote}`,
    met: slowUss.length === 0 ? undefined : median(slowUss) <= 2 * 1024,
  });
  const trivial = outcome(suites, "trivial", "kiln -n 2");
  const micro = trivial ? microFigures(trivial) : undefined;
  rows.push({
    caseText: "fork requested → first test started (2,000 trivial tests, `kiln -n 2`)",
    target: "≤ 5 ms p50",
    now: micro ? `p50 ${ms(micro.forkP50)} ms, p99 ${ms(micro.forkP99)} ms` : "not run",
    met: micro && Number.isFinite(micro.forkP50) ? micro.forkP50 <= 5 : undefined,
  });
  rows.push({
    caseText: "time a worker spends between two tests (same run)",
    target: "≤ 0.15 ms p50",
    now: micro
      ? `p50 ${ms(micro.gapP50)} ms, p99 ${ms(micro.gapP99)} ms; ${(micro.outsideShare * 100).toFixed(0)}% of a worker's life outside tests`
      : "not run",
    met: micro && Number.isFinite(micro.gapP50) ? micro.gapP50 <= 0.15 : undefined,
  });
  return markdownTable(
    ["case", "target", "now", ""],
    rows.map((r) => [r.caseText, r.target, r.now, verdict(r)]),
  );
}
