// One compile server (compile_server.py) kept for a whole `kiln watch`
// session, instead of a new Python process per edit for the selection's
// analysis (check/run-check.ts) and another for the registry's compile
// (registry/prepare.ts): each costs Python's start-up and pytest's import.
//
// Never stale: the server compiles whatever files it is given (it reads them
// from disk on each request and keys what it compiled by their hash); what it
// holds is only the interpreter and pytest's assertion rewriter. A run whose
// zygote reports another bytecode magic or pytest version than the server's
// gets a fresh server (the interpreter or pytest was upgraded meanwhile). It
// ends with the watch: close(), or end of file on its channel when the watch
// is killed (compile_server.py exits then).
import { HARNESS_DIR } from "../config/harness.js";
import { CompileServer } from "./compile-client.js";

/** How a caller gets a compile server and gives it back. */
export interface CompilerSource {
  /** A started server; `expect`: the facts it must agree with (a zygote's). */
  take(expect?: { magic: string; pytest: string | null }): Promise<CompileServer>;
  /** The caller is done with it: a shared server stays, an own one is closed. */
  give(server: CompileServer): Promise<void>;
}

/** A new server per use, closed after it (`kiln test`, `kiln check`). */
export function ownCompiler(
  python: string,
  harnessDir = HARNESS_DIR,
  cwd?: string,
): CompilerSource {
  return {
    take: () => CompileServer.start(python, harnessDir, cwd === undefined ? {} : { cwd }),
    give: (server) => server.close(),
  };
}

export class SharedCompiler implements CompilerSource {
  private server: Promise<CompileServer> | undefined;

  constructor(
    private readonly python: string,
    private readonly harnessDir = HARNESS_DIR,
  ) {}

  async take(expect?: { magic: string; pytest: string | null }): Promise<CompileServer> {
    let server = this.server === undefined ? undefined : await this.server.catch(() => undefined);
    const agrees =
      server?.usable === true &&
      (expect === undefined ||
        (server.info.magic === expect.magic && server.info.pytest === expect.pytest));
    if (server !== undefined && !agrees) {
      await server.close().catch(() => undefined);
      server = undefined;
    }
    if (server === undefined) {
      const starting = CompileServer.start(this.python, this.harnessDir);
      this.server = starting;
      server = await starting;
    }
    server.hold(true);
    return server;
  }

  async give(server: CompileServer): Promise<void> {
    server.hold(false);
  }

  async close(): Promise<void> {
    const server = await this.server?.catch(() => undefined);
    this.server = undefined;
    await server?.close().catch(() => undefined);
  }
}

/** A source that always hands out `server` (tests' fakes). */
export function compilerOf(server: CompileServer): CompilerSource {
  return { take: async () => server, give: async () => {} };
}
