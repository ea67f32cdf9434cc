// The registry's part of one run: the walk and stat pass start as soon as the
// zygote is spawned (while it imports pytest); the store lookup, the batch
// compile and the pack follow once the zygote has said which interpreter
// (magic number, pytest version) it is. Any failure here costs speed, never
// the run: the zygote then imports normally, and we say why.

import { ensureKilnDir, kilnDir } from "../config/kiln-dir.js";
import { FileIndex } from "../discovery/file-index.js";
import { type ProjectLayout, walkProject } from "../discovery/walk.js";
import { CompileServer } from "./compile-client.js";
import { openStore } from "./open-store.js";
import { type InterpreterFacts, type PreparedRegistry, prepareRegistry } from "./prepare.js";

export interface RegistryOptions {
  /** `--store`: undefined for the SQLite store in .kiln/, or redis://host:port. */
  store: string | undefined;
}

export class RegistrySession {
  private constructor(
    private readonly root: string,
    private readonly walk: ProjectLayout,
    private readonly index: FileIndex,
    private readonly options: RegistryOptions,
  ) {}

  static begin(root: string, options: RegistryOptions): RegistrySession {
    return new RegistrySession(root, walkProject(root), FileIndex.load(kilnDir(root)), options);
  }

  async prepare(
    facts: InterpreterFacts,
    python: string,
    harnessDir: string,
    scratch: string,
    warn: (line: string) => void,
  ): Promise<PreparedRegistry | null> {
    let opened: Awaited<ReturnType<typeof openStore>>;
    try {
      await ensureKilnDir(this.root);
      opened = await openStore(this.options.store, this.root);
    } catch (error) {
      warn(`the module registry is off for this run: cannot open its store (${String(error)})`);
      return null;
    }
    if (opened.warning) warn(opened.warning.replace(/^kiln: warning: /, ""));
    try {
      return await prepareRegistry({
        walk: this.walk,
        index: this.index,
        facts,
        store: opened.store,
        startCompiler: () => CompileServer.start(python, harnessDir),
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
