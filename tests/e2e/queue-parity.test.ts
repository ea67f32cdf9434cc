// Issue 15's "parity with plain pytest on every example project": each
// example project's runs (its parity.json, as the parity matrix runs them)
// through `kiln test --queue` with two real `kiln agent` processes on their
// own copies, against plain pytest on another, under every supported pytest:
// Debian's 7.2 and the 8.4 and 9.1 venvs. Outcomes, exit code, failure texts per phase,
// collection errors and the warnings summary must be equal (src/parity/).
//
// The agents are started per run: an agent takes its own pytest options (as
// `kiln test` does), so a run's kiln_args go to them as well as to the
// coordinator; Kiln's own `-n` is the agent's, not the run's, and stays 1.
// A project whose parity.json "requires" a plugin the interpreter lacks is
// skipped, as the parity matrix skips it (src/parity/projects.ts).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PROJECTS } from "../helpers/kiln.js";
import { type PytestVersion, pythonFor } from "../helpers/pythons.js";
import { killAgents, queueParity, startAgent } from "../helpers/queue-agents.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { copyProject } from "../helpers/temp.js";

interface Run {
  name: string;
  kiln_args: string[];
  pytest_args: string[];
  exit_code: number;
  text_exempt?: Record<string, string>;
}

interface ParityFile {
  requires?: string[];
  runs: Run[];
}

/**
 * Runs checked besides each project's first one: those that change what the
 * agents' pytest does (selection, collection errors, plugin modes). Runs
 * that differ only in Kiln's -n/-x/--maxfail scheduling are the local
 * parity matrix's concern; the queue replays the same reports.
 */
const EXTRA_RUNS: Record<string, string[]> = {
  collection_errors: ["continue"],
  selection: ["k_alpha"],
  plugin_asyncio: ["auto"],
};

/**
 * Runs that stop before any test runs (collection errors without
 * --continue-on-collection-errors: pytest's exit 2 after collection). The
 * coordinator ends there without a job; an agent's collection fails the
 * same way, so it refuses to start (agent-command.ts), and none is started.
 */
const NO_AGENTS = new Set(["collection_errors:default"]);

const VERSIONS: PytestVersion[] = ["7.2", "8.4", "9.1"];

function parityFile(project: string): ParityFile {
  return JSON.parse(readFileSync(join(PROJECTS, project, "parity.json"), "utf8")) as ParityFile;
}

/** The modules of `requires` that `python` can't import. */
function missingModules(python: string, modules: string[]): string[] {
  return modules.filter(
    (name) => spawnSync(python, ["-c", `import ${name}`], { stdio: "ignore" }).status !== 0,
  );
}

/** A run's kiln_args without Kiln's worker count (startAgent gives agents -n 1). */
function agentArgs(args: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-n") i++;
    else kept.push(args[i] as string);
  }
  return kept;
}

const projects = readdirSync(PROJECTS)
  .filter((name) => {
    try {
      return parityFile(name).runs.length > 0;
    } catch {
      return false;
    }
  })
  .sort();

// The baseline runs with -p no:cacheprovider (src/parity/run-pytest.ts); so
// do the agents, whose pytest makes the reports, and the coordinator.
const NO_CACHE = ["-p", "no:cacheprovider"];

for (const version of VERSIONS) {
  describe(`kiln test --queue equals plain pytest ${version} on every example project`, () => {
    const python = pythonFor(version);
    let redis: RedisServer | undefined;

    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterEach(killAgents);
    afterAll(async () => {
      await redis?.stop();
    });

    for (const project of projects) {
      const file = parityFile(project);
      const missing = missingModules(python, file.requires ?? []);
      const wanted = new Set([file.runs[0]?.name, ...(EXTRA_RUNS[project] ?? [])]);
      for (const run of file.runs.filter((r) => wanted.has(r.name))) {
        const title = `${project}:${run.name}${missing.length ? ` (no ${missing.join(", ")})` : ""}`;
        it.skipIf(missing.length > 0)(
          title,
          async () => {
            const url = (redis as RedisServer).url;
            const agents = NO_AGENTS.has(`${project}:${run.name}`)
              ? []
              : await Promise.all(
                  [1, 2].map(() =>
                    startAgent(url, copyProject(project), [
                      "--python",
                      python,
                      ...NO_CACHE,
                      ...agentArgs(run.kiln_args),
                    ]),
                  ),
                );
            const result = await queueParity({
              url,
              python,
              dir: copyProject(project),
              baselineDir: copyProject(project),
              kilnArgs: [...NO_CACHE, ...run.kiln_args],
              pytestArgs: run.pytest_args,
              textExempt: Object.keys(run.text_exempt ?? {}),
              extraDirs: agents.map((agent) => agent.dir),
            });
            expect(result.differences, `${result.stdout}\n${result.stderr}`).toEqual([]);
            expect(result.code).toBe(run.exit_code);
            if (agents.length > 0) {
              // The tests ran on the agents, not in the coordinator.
              expect(agents.reduce((sum, agent) => sum + agent.took(), 0)).toBeGreaterThan(0);
            }
            await killAgents();
          },
          120_000,
        );
      }
    }
  });
}
