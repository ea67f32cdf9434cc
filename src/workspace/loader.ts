// What a request with `workspace: NAME` carries to its worker: the index
// version current when the request started (one read of the head per
// request) and every module's source and code, packed in one body. A
// version never changes once pushed, so its packing is cached by NAME@VERSION.
import type { ExecWorkspaceModule } from "../protocol/messages.js";
import type { WorkspaceStore } from "./store.js";

export interface LoadedWorkspace {
  name: string;
  version: number;
  modules: ExecWorkspaceModule[];
  body: Buffer;
}

/** An unknown workspace or a damaged version: the request's `error`, not a 500. */
export class WorkspaceError extends Error {
  override name = "WorkspaceError";
}

const CACHE_VERSIONS = 32;

export class WorkspaceLoader {
  private readonly cache = new Map<string, LoadedWorkspace>();

  constructor(private readonly store: WorkspaceStore) {}

  async load(name: string): Promise<LoadedWorkspace> {
    const version = await this.store.head(name);
    if (version === undefined) {
      throw new WorkspaceError(
        `no workspace named ${JSON.stringify(name)} in this store (kiln workspace push ${name} DIR)`,
      );
    }
    const key = `${name}@${version}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const loaded = await this.pack(name, version);
    this.cache.set(key, loaded);
    if (this.cache.size > CACHE_VERSIONS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return loaded;
  }

  private async pack(name: string, version: number): Promise<LoadedWorkspace> {
    const index = await this.store.index(name, version);
    if (!index)
      throw new WorkspaceError(
        `workspace ${name} version ${version} has no index in the store (evicted?); push it again`,
      );
    const wanted = index.modules.flatMap((m) =>
      [m.source, m.code].filter((k): k is string => k !== null),
    );
    const found = await this.store.getMany(wanted);
    const parts: Buffer[] = [];
    let offset = 0;
    const place = (key: string | null): [number, number] => {
      if (key === null) return [offset, 0];
      const entry = found.get(key);
      if (!entry)
        throw new WorkspaceError(
          `workspace ${name} version ${version}: ${key} is missing from the store (evicted?); push it again`,
        );
      parts.push(entry.code);
      const at = offset;
      offset += entry.code.length;
      return [at, entry.code.length];
    };
    const modules = index.modules.map((m): ExecWorkspaceModule => {
      const [sourceOffset, sourceLength] = place(m.source);
      const [codeOffset, codeLength] = place(m.code);
      return {
        name: m.name,
        isPackage: m.isPackage,
        path: m.path,
        sourceOffset,
        sourceLength,
        codeOffset,
        codeLength,
      };
    });
    return { name, version, modules, body: Buffer.concat(parts) };
  }
}
