// What a `kiln test --queue` run tells its agents (DESIGN.md section 9): the
// pytest arguments its agents run with, its --timeout, and the node ids it
// collected. The coordinator writes it to Redis once per run (bull.ts
// JobQueue.enqueue, key runSpecKey, which every job names); an agent reads it before its first job
// of the run, starts (or reuses) a zygote for those options, and refuses the
// run if its own collection differs (agent-pool.ts). It crosses Redis, so
// the agent checks its shape before believing it.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { OPTIONAL_VALUE_OPTIONS, VALUE_OPTIONS } from "../config/rootdir.js";

export const runSpec = z.strictObject({
  /** pytest's arguments for the agents, paths relative to the coordinator's rootdir. */
  args: z.array(z.string()),
  /** The run's --timeout in seconds (null: none); Kiln's own, not pytest's. */
  timeout: z.number().nullable(),
  /**
   * The coordinator's collection was narrowed by what an agent cannot repeat
   * (--lf and --sw read the coordinator's own cache; --changed its git tree):
   * an agent's collection then has to include the run's tests, not equal them.
   */
  narrowed: z.boolean(),
  /** sha256 of the sorted node ids, one per line (collectionHash). */
  hash: z.string(),
  /** The coordinator's node ids, sorted: which ones differ is said by name. */
  nodeids: z.array(z.string()),
});

export type RunSpec = z.infer<typeof runSpec>;

/**
 * The Redis key of a run's spec, named by its content: a run id given again
 * (`--run-id` of a retried CI job) with other options or another collection
 * is another spec, never one an agent remembers. It expires a day after the
 * run started (bull.ts RUN_SPEC_TTL_SECONDS).
 */
export function runSpecKey(runId: string, spec: RunSpec): string {
  const digest = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
  return `kiln-run:${runId}:${digest}`;
}

/** The spec, or what is wrong with it. */
export function readRunSpec(text: string): RunSpec | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${String(error)}`;
  }
  const parsed = runSpec.safeParse(value);
  return parsed.success ? parsed.data : parsed.error.message;
}

export function collectionHash(nodeids: readonly string[]): string {
  return createHash("sha256")
    .update([...nodeids].sort().join("\n"))
    .digest("hex");
}

/**
 * Options that are the coordinator's alone: -x and --maxfail are applied by
 * the coordinator, whose zygote sees every report (an agent sees a few); the
 * JUnit file is the coordinator's (an agent's would hold no test); the cache
 * options act on the coordinator's .pytest_cache (--lf/--sw narrow its
 * collection, --ff/--nf only order it, and the order is the coordinator's).
 */
const COORDINATOR_ONLY = new Set([
  "-x",
  "--exitfirst",
  "--maxfail",
  "--junitxml",
  "--junit-xml",
  "--lf",
  "--last-failed",
  "--ff",
  "--failed-first",
  "--nf",
  "--new-first",
  "--sw",
  "--stepwise",
  "--sw-skip",
  "--stepwise-skip",
  "--lfnf",
  "--last-failed-no-failures",
  "--cache-clear",
]);

/** Of those, the ones that make the coordinator collect fewer tests than an agent. */
const NARROWING = new Set(["--lf", "--last-failed", "--sw", "--stepwise"]);

/** Options whose value is a path, resolved against the invocation dir by pytest. */
const PATH_VALUES = new Set(["-c", "--config-file", "--rootdir", "--ignore", "--confcutdir"]);

/** Short flags without a value that pytest lets one write together (-xvs). */
const BARE_SHORT = /^-[xvqsl]+$/;

/**
 * An existing path as its counterpart under the rootdir (relative, with "/"),
 * or unchanged: a path outside the checkout, or a word that is no path
 * (a plugin option's value, `--asyncio-mode auto`), means the same anywhere.
 */
function portable(value: string, cwd: string, rootdir: string): string {
  const [path = "", ...rest] = value.split("::");
  const absolute = resolve(cwd, path);
  if (!existsSync(absolute)) return value;
  const inside = relative(rootdir, absolute);
  if (inside.startsWith("..") || isAbsolute(inside)) return value;
  return [inside === "" ? "." : inside.split(sep).join("/"), ...rest].join("::");
}

export interface AgentArgs {
  args: string[];
  narrowed: boolean;
  /** -x / --maxfail: the coordinator stops after this many failures (0: never). */
  maxfail: number;
}

/**
 * The run's pytest arguments as its agents take them: the coordinator-only
 * options left out, paths made relative to the rootdir (an agent resolves
 * them against its own checkout, not the coordinator's cwd), every other
 * argument as given and in order (-p, -o, -k, -m, -W, --tb, -v, plugins'
 * options: whatever shapes how a test is collected, run or reported).
 */
export function agentArgsOf(
  pytestArgs: readonly string[],
  cwd: string,
  rootdir: string,
): AgentArgs {
  const args: string[] = [];
  let narrowed = false;
  let maxfail = 0;
  for (let i = 0; i < pytestArgs.length; i++) {
    const arg = pytestArgs[i] as string;
    if (arg === "--") {
      args.push(arg, ...pytestArgs.slice(i + 1).map((rest) => portable(rest, cwd, rootdir)));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      args.push(portable(arg, cwd, rootdir));
      continue;
    }
    if (BARE_SHORT.test(arg) && arg.includes("x")) {
      maxfail = 1;
      const others = arg.replaceAll("x", "");
      if (others !== "-") args.push(others);
      continue;
    }
    let name = arg;
    let value: string | undefined;
    let joined = false;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      name = arg.slice(0, eq);
      value = arg.slice(eq + 1);
      joined = true;
    } else if (!arg.startsWith("--") && arg.length > 2 && VALUE_OPTIONS.has(arg.slice(0, 2))) {
      name = arg.slice(0, 2);
      value = arg.slice(2);
      joined = true;
    }
    if (value === undefined && VALUE_OPTIONS.has(name) && i + 1 < pytestArgs.length) {
      value = pytestArgs[++i];
    } else if (value === undefined && OPTIONAL_VALUE_OPTIONS.has(name)) {
      const next = pytestArgs[i + 1];
      if (next !== undefined && !next.startsWith("-")) value = pytestArgs[++i];
    }
    if (COORDINATOR_ONLY.has(name)) {
      if (NARROWING.has(name)) narrowed = true;
      // argparse: -x stores maxfail=1, --maxfail N stores N; the last wins.
      if (name === "-x" || name === "--exitfirst") maxfail = 1;
      else if (name === "--maxfail") maxfail = Math.max(0, Number.parseInt(value ?? "0", 10) || 0);
      continue;
    }
    if (value === undefined) {
      args.push(arg);
      continue;
    }
    const shown = PATH_VALUES.has(name) ? portable(value, cwd, rootdir) : value;
    if (!joined) args.push(name, shown);
    else if (name.startsWith("--")) args.push(`${name}=${shown}`);
    else args.push(`${name}${shown}`);
  }
  return { args, narrowed, maxfail };
}

/** The coordinator's spec of its run, from its options and its collected items. */
export function runSpecOf(
  agentArgs: AgentArgs,
  timeout: number | null,
  items: readonly string[],
): RunSpec {
  const nodeids = [...items].sort();
  return {
    args: agentArgs.args,
    timeout,
    narrowed: agentArgs.narrowed,
    hash: collectionHash(nodeids),
    nodeids,
  };
}

/** How many node ids a refusal names before "and N more". */
const NAMED = 3;

function named(nodeids: readonly string[]): string {
  const shown = nodeids.slice(0, NAMED).join(", ");
  return nodeids.length > NAMED ? `${shown} and ${nodeids.length - NAMED} more` : shown;
}

/**
 * Why an agent's collection does not serve the run, or undefined when it
 * does: the same node ids (or, for a narrowed run, all of the run's).
 */
export function collectionMismatch(spec: RunSpec, own: readonly string[]): string | undefined {
  if (!spec.narrowed && collectionHash(own) === spec.hash) return undefined;
  const mine = new Set(own);
  const theirs = new Set(spec.nodeids);
  const missing = spec.nodeids.filter((nodeid) => !mine.has(nodeid));
  const extra = spec.narrowed ? [] : [...mine].filter((nodeid) => !theirs.has(nodeid)).sort();
  if (missing.length === 0 && extra.length === 0) return undefined;
  const parts = [
    ...(missing.length > 0 ? [`${missing.length} missing here (${named(missing)})`] : []),
    ...(extra.length > 0 ? [`${extra.length} not in the run (${named(extra)})`] : []),
  ];
  return (
    `its collection differs from the coordinator's: of the run's ${spec.nodeids.length} ` +
    `tests, ${parts.join("; ")}`
  );
}
