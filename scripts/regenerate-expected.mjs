#!/usr/bin/env node
// Regenerate tests/fixtures/projects/<name>/expected/<run>.json from the
// baseline: plain `python -m pytest` with the outcome recorder plugin, run in
// the project directory with each run's pytest_args from parity.json.
//
// usage: node scripts/regenerate-expected.mjs [--python PY] [project ...]
//
// A project whose parity.json has "requires" (plugin modules, e.g.
// ["pytest_cov"]) is recorded with the pytest 9.1 venv instead, the one the
// e2e tests run it with: $KILN_VENVS/pytest-9.1 or <repo>/.venvs/pytest-9.1.
//
// Fails (exit 1) when a baseline's exit code differs from parity.json's
// exit_code, or when the recorder wrote nothing.

import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const projectsDir = join(repo, "tests", "fixtures", "projects");

function parseArgs(argv) {
  let python = process.env.KILN_PYTHON || "/usr/bin/python3";
  const projects = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--python") {
      python = argv[++i];
      if (!python) throw new Error("--python needs a value");
    } else if (arg === "-h" || arg === "--help") {
      console.log("usage: node scripts/regenerate-expected.mjs [--python PY] [project ...]");
      process.exit(0);
    } else {
      projects.push(arg);
    }
  }
  return { python, projects };
}

// tests/helpers/pythons.ts's pythonFor("9.1"), for a plain script.
function pluginPython(requires) {
  const roots = [process.env.KILN_VENVS, join(repo, ".venvs")].filter(Boolean);
  for (const root of roots) {
    const python = join(root, "pytest-9.1", "bin", "python");
    if (existsSync(python)) {
      const code = requires.map((m) => `import ${m}`).join("; ");
      const probe = spawnSync(python, ["-c", code], { stdio: "ignore" });
      if (probe.status !== 0) throw new Error(`${python} cannot import ${requires.join(", ")}`);
      return python;
    }
  }
  throw new Error(`no pytest 9.1 venv under ${roots.join(" or ")}: run scripts/setup.sh`);
}

function listProjects() {
  return readdirSync(projectsDir)
    .filter((name) => existsSync(join(projectsDir, name, "parity.json")))
    .sort();
}

function sortedOutcomes(outcomes) {
  const out = {};
  for (const key of Object.keys(outcomes).sort()) out[key] = outcomes[key];
  return out;
}

function countOutcomes(outcomes) {
  const counts = {};
  for (const value of Object.values(outcomes)) counts[value] = (counts[value] ?? 0) + 1;
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
}

// Remove __pycache__ / .pytest_cache a run may have left despite the flags.
function cleanCaches(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === ".coverage" || entry.startsWith(".coverage.")) {
      rmSync(path, { force: true }); // pytest-cov's data files
      continue;
    }
    if (!statSync(path).isDirectory()) continue;
    if (entry === "__pycache__" || entry === ".pytest_cache" || entry === ".hypothesis") {
      rmSync(path, { recursive: true, force: true });
    } else if (entry !== "expected") {
      cleanCaches(path);
    }
  }
}

function tail(buf, n = 4000) {
  const text = buf ? buf.toString("utf8") : "";
  return text.length > n ? `...${text.slice(-n)}` : text;
}

function runBaseline(python, projectDir, pytestArgs, outcomesFile) {
  const env = { ...process.env };
  env.KILN_OUTCOMES_FILE = outcomesFile;
  env.PYTHONDONTWRITEBYTECODE = "1";
  const pythonDir = join(repo, "python");
  env.PYTHONPATH = env.PYTHONPATH ? `${pythonDir}${delimiter}${env.PYTHONPATH}` : pythonDir;
  const args = [
    "-m",
    "pytest",
    "-p",
    "kiln_harness.outcome_recorder",
    "-p",
    "no:cacheprovider",
    ...pytestArgs,
  ];
  return spawnSync(python, args, {
    cwd: projectDir,
    env,
    maxBuffer: 512 * 1024 * 1024,
    timeout: 300_000,
  });
}

function main() {
  const { python, projects } = parseArgs(process.argv.slice(2));
  const names = projects.length > 0 ? projects : listProjects();
  const scratch = mkdtempSync(join(tmpdir(), "kiln-expected-"));
  let failures = 0;
  try {
    for (const name of names) {
      const projectDir = join(projectsDir, name);
      const parity = JSON.parse(readFileSync(join(projectDir, "parity.json"), "utf8"));
      const projectPython = parity.requires?.length ? pluginPython(parity.requires) : python;
      const expectedDir = join(projectDir, "expected");
      mkdirSync(expectedDir, { recursive: true });
      for (const run of parity.runs) {
        const label = `${name}:${run.name}`;
        const outcomesFile = join(scratch, `${name}-${run.name}.json`);
        const started = Date.now();
        const result = runBaseline(projectPython, projectDir, run.pytest_args, outcomesFile);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (result.error) {
          console.error(`FAIL ${label}: ${result.error.message}`);
          failures++;
          continue;
        }
        if (!existsSync(outcomesFile)) {
          console.error(`FAIL ${label}: the recorder wrote no outcomes (exit ${result.status})`);
          console.error(tail(result.stdout));
          console.error(tail(result.stderr));
          failures++;
          continue;
        }
        const recorded = JSON.parse(readFileSync(outcomesFile, "utf8"));
        const problems = [];
        if (result.status !== run.exit_code) {
          problems.push(`pytest exited ${result.status}, parity.json says ${run.exit_code}`);
        }
        if (recorded.exit_code !== result.status) {
          problems.push(`recorder saw exit ${recorded.exit_code}, process exited ${result.status}`);
        }
        const expected = {
          exit_code: recorded.exit_code,
          outcomes: sortedOutcomes(recorded.outcomes),
        };
        writeFileSync(
          join(expectedDir, `${run.name}.json`),
          `${JSON.stringify(expected, null, 2)}\n`,
        );
        const summary = `${Object.keys(expected.outcomes).length} nodes: ${countOutcomes(expected.outcomes) || "none"}`;
        if (problems.length > 0) {
          failures++;
          console.error(`FAIL ${label} (${summary}; ${seconds}s)`);
          for (const p of problems) console.error(`  ${p}`);
          console.error(tail(result.stdout));
        } else {
          console.log(`ok   ${label} exit ${result.status} (${summary}; ${seconds}s)`);
        }
      }
      cleanCaches(projectDir);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.error(`${failures} run(s) failed`);
    process.exit(1);
  }
}

main();
