// Issue 15's "parity with plain pytest on every example project": each
// example project's runs (its parity.json, as the parity matrix runs them)
// through `kiln test --queue` with two real `kiln agent` processes on their
// own copies, against plain pytest on another, under every supported pytest:
// Debian's 7.2 and the 8.4 and 9.1 venvs. Outcomes, exit code, failure texts per phase,
// collection errors and the warnings summary must be equal (src/parity/).
//
// Two agents are started per project and pytest version, without pytest
// arguments, and serve all of that project's runs: each run's options (its
// kiln_args: -p, -o, -k, --timeout, ...) reach them from the coordinator
// (src/queue/run-spec.ts), and an agent starts a zygote for options it has
// none for (plugin_asyncio's strict then auto, selection's -k). Kiln's own
// `-n` is the agent's, not the run's, and stays 1.
// A project whose parity.json "requires" a plugin the interpreter lacks is
// skipped, as the parity matrix skips it (src/parity/projects.ts).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECTS } from "../helpers/kiln.js";
import { type PytestVersion, pythonFor } from "../helpers/pythons.js";
import { type Agent, killAgents, queueParity, startAgent } from "../helpers/queue-agents.js";
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
 * agents' pytest does (selection, collection errors, plugin modes), and -x /
 * --maxfail, which the coordinator applies to reports that come in out of
 * pytest's order (src/queue/in-order.ts). Runs that differ only in Kiln's
 * -n scheduling are the local parity matrix's concern.
 */
const EXTRA_RUNS: Record<string, string[]> = {
  basic: ["exitfirst", "maxfail2"],
  collection_errors: ["continue"],
  selection: ["k_alpha"],
  plugin_asyncio: ["auto"],
};

/**
 * Runs that stop before any test runs (collection errors without
 * --continue-on-collection-errors: pytest's exit 2 after collection): the
 * coordinator ends there without a job.
 */
const NO_JOBS = new Set(["collection_errors:default"]);

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
    afterAll(async () => {
      await killAgents();
      await redis?.stop();
    });
    /** The project whose agents run now; started by its first run (killAgents ends them). */
    let current: { project: string; agents: Agent[] } | undefined;
    async function agentsFor(project: string): Promise<Agent[]> {
      if (current?.project !== project) {
        await killAgents();
        const url = (redis as RedisServer).url;
        // No pytest arguments: each run's come from its coordinator.
        const agents = await Promise.all(
          [1, 2].map(() => startAgent(url, copyProject(project), ["--python", python])),
        );
        current = { project, agents };
      }
      return current.agents;
    }

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
            const agents = await agentsFor(project);
            const before = agents.reduce((sum, agent) => sum + agent.took(), 0);
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
            const output = `${result.stdout}\n${result.stderr}`;
            expect(result.differences, output).toEqual([]);
            expect(result.code, output).toBe(run.exit_code);
            if (!NO_JOBS.has(`${project}:${run.name}`)) {
              // The tests ran on the agents, not in the coordinator.
              const took = agents.reduce((sum, agent) => sum + agent.took(), 0);
              expect(took, output).toBeGreaterThan(before);
            }
          },
          180_000,
        );
      }
    }
  });
}
