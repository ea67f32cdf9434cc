// The registry's part of one run: the walk and stat pass start as soon as the
// zygote is spawned (while it imports pytest); the store lookup, the batch
// compile and the pack follow once the zygote has said which interpreter
// (magic number, pytest version) it is. Any failure here costs speed, never
// the run: the zygote then imports normally, and we say why.

import { existsSync } from "node:fs";
import { ensureKilnDir, kilnDir, registryPath } from "../config/kiln-dir.js";
import { FileIndex } from "../discovery/file-index.js";
import { type ProjectLayout, walkProject } from "../discovery/walk.js";
import { type OpenedStore, openStore } from "./open-store.js";
import { type InterpreterFacts, type PreparedRegistry, prepareRegistry } from "./prepare.js";
import { type CompilerSource, ownCompiler } from "./shared-compiler.js";

export interface RegistryOptions {
  /** `--store`: undefined for the SQLite store in .kiln/, or redis://host:port. */
  store: string | undefined;
  /** Where the compile server comes from (`kiln watch` keeps one); default a new one per run. */
  compiler?: CompilerSource;
}

type Opening = Promise<{ opened: OpenedStore } | { error: unknown }>;

export class RegistrySession {
  private opening: Opening | undefined;

  private constructor(
    private readonly root: string,
    private readonly walk: ProjectLayout,
    private readonly index: FileIndex,
    private readonly options: RegistryOptions,
  ) {}

  static begin(root: string, options: RegistryOptions): RegistrySession {
    const session = new RegistrySession(
      root,
      walkProject(root),
      FileIndex.load(kilnDir(root)),
      options,
    );
    // The local store is opened now too, while the zygote imports pytest,
    // rather than after its hello (4-10 ms at start-up, issue 16), but only
    // when it exists: this root is a guess until the zygote names its pytest
    // version (run-tests.ts), and a guess must not create .kiln/ anywhere.
    const local = options.store === undefined || options.store === "sqlite";
    if (local && existsSync(registryPath(root))) session.opening = session.open();
    return session;
  }

  private async open(): Opening {
    try {
      await ensureKilnDir(this.root);
      return { opened: await openStore(this.options.store, this.root) };
    } catch (error) {
      return { error };
    }
  }

  /** Closes a store opened early that prepare() will not use. */
  discard(): void {
    const opening = this.opening;
    this.opening = undefined;
    void opening?.then((o) => ("opened" in o ? o.opened.store.close() : undefined)).catch(() => {});
  }

  async prepare(
    facts: InterpreterFacts,
    python: string,
    harnessDir: string,
    scratch: string,
    warn: (line: string) => void,
  ): Promise<PreparedRegistry | null> {
    const result = await (this.opening ?? this.open());
    this.opening = undefined;
    if ("error" in result) {
      warn(
        `the module registry is off for this run: cannot open its store (${String(result.error)})`,
      );
      return null;
    }
    const opened = result.opened;
    if (opened.warning) warn(opened.warning.replace(/^kiln: warning: /, ""));
    try {
      return await prepareRegistry({
        walk: this.walk,
        index: this.index,
        facts,
        store: opened.store,
        compiler: this.options.compiler ?? ownCompiler(python, harnessDir),
        scratch,
      });
    } catch (error) {
      warn(
        `the module registry is off for this run (${error instanceof Error ? error.message : String(error)}); ` +
          "modules are imported normally",
      );
      return null;
    } finally {
      await opened.store.close().catch(() => undefined);
    }
  }
}
