// `kiln workspace push|ls|show|rm`: workspace modules in the store
// (src/workspace/). `push` prints the new version.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ExitCode } from "../protocol/exit-codes.js";
import { pushWorkspace, WorkspacePushError } from "../workspace/push.js";
import { WorkspaceStore } from "../workspace/store.js";

const NAME = /^[A-Za-z0-9_.-]+$/;

async function withStore(
  spec: string | undefined,
  body: (store: WorkspaceStore) => Promise<number>,
): Promise<void> {
  let store: WorkspaceStore | undefined;
  try {
    store = await WorkspaceStore.open(spec, process.cwd());
    process.exitCode = await body(store);
  } catch (error) {
    process.stderr.write(
      `kiln: error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = error instanceof WorkspacePushError ? 1 : ExitCode.INTERNAL_ERROR;
  } finally {
    await store?.close();
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new WorkspacePushError(
      `workspace name ${JSON.stringify(name)}: letters, digits, _ . - only`,
    );
  }
}

export function registerWorkspaceCommand(program: Command): void {
  const ws = program
    .command("workspace")
    .description("workspace modules served to kiln serve's requests");
  const store = "sqlite (.kiln/workspaces.sqlite, default) or redis://host:port";
  ws.command("push")
    .description("store DIR's modules as a new version of workspace NAME; prints the version")
    .argument("<name>")
    .argument("<dir>")
    .option("--store <store>", store)
    .option("--python <path>", "the interpreter that compiles (default: KILN_PYTHON, else python3)")
    .action(async (name: string, dir: string, flags: { store?: string; python?: string }) =>
      withStore(flags.store, async (s) => {
        checkName(name);
        if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
          throw new WorkspacePushError(`${dir} is not a directory`);
        }
        const python = flags.python ?? process.env.KILN_PYTHON ?? "python3";
        const version = await pushWorkspace(s, name, resolve(dir), python);
        process.stdout.write(`${version}\n`);
        return 0;
      }),
    );
  ws.command("ls")
    .description("list workspaces and their current versions")
    .option("--store <store>", store)
    .action(async (flags: { store?: string }) =>
      withStore(flags.store, async (s) => {
        for (const name of await s.names()) {
          const version = await s.head(name);
          if (version !== undefined) process.stdout.write(`${name}\t${version}\n`);
        }
        return 0;
      }),
    );
  ws.command("show")
    .description("the modules of a workspace's current version")
    .argument("<name>")
    .option("--store <store>", store)
    .action(async (name: string, flags: { store?: string }) =>
      withStore(flags.store, async (s) => {
        const version = await s.head(name);
        const index = version === undefined ? undefined : await s.index(name, version);
        if (!index) {
          process.stderr.write(`kiln: error: no workspace named ${JSON.stringify(name)}\n`);
          return 1;
        }
        process.stdout.write(`${index.name} version ${index.version} (pushed ${index.pushedAt})\n`);
        for (const m of index.modules) {
          const kind = m.path === null ? "namespace package" : m.isPackage ? "package" : "module";
          process.stdout.write(`  ${m.name}\t${kind}\t${m.path ?? ""}\n`);
        }
        return 0;
      }),
    );
  ws.command("rm")
    .description("remove a workspace (the next request no longer sees it)")
    .argument("<name>")
    .option("--store <store>", store)
    .action(async (name: string, flags: { store?: string }) =>
      withStore(flags.store, async (s) => {
        if (await s.remove(name)) return 0;
        process.stderr.write(`kiln: error: no workspace named ${JSON.stringify(name)}\n`);
        return 1;
      }),
    );
}
