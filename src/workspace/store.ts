// Workspaces in the registry's stores (src/registry: SQLite or Redis, the
// same ModuleStore interface). Keys, all under "ws:":
//   ws:src:<sha256>             a module's source bytes
//   ws:code:<sha256(filename, registry key)>   its marshalled code (the
//                               virtual co_filename is part of the key)
//   ws:index:<NAME>:<VERSION>   the index: every module of that version
//   ws:head:<NAME>              the current version (written last: a push is
//                               never half-visible)
//   ws:names                    the workspace names, for `ls`: a set
//                               (ModuleStore.addMember), so concurrent
//                               pushes of different names all stay
//   ws:versions:<NAME>          a counter (ModuleStore.increment): each push
//                               allocates its version atomically
// Values that are not code sit in StoredEntry.code as JSON. The SQLite
// store is its own file (.kiln/workspaces.sqlite), so the registry's LRU
// eviction of compiled test modules never evicts a workspace.
import { join } from "node:path";
import { ensureKilnDir } from "../config/kiln-dir.js";
import { parseStoreSpec } from "../registry/open-store.js";
import { SqliteStore } from "../registry/sqlite-store.js";
import type { ModuleStore, StoredEntry } from "../registry/types.js";

export interface IndexModule {
  name: string;
  isPackage: boolean;
  path: string | null;
  source: string | null;
  code: string | null;
}

export interface WorkspaceIndex {
  name: string;
  version: number;
  magic: string;
  pushedAt: string;
  modules: IndexModule[];
}

interface Head {
  version: number;
  removed?: boolean;
}

const WORKSPACE_MAX_BYTES = 4 * 1024 * 1024 * 1024;

export const keys = {
  source: (hash: string) => `ws:src:${hash}`,
  code: (hash: string) => `ws:code:${hash}`,
  index: (name: string, version: number) => `ws:index:${name}:${version}`,
  head: (name: string) => `ws:head:${name}`,
  versions: (name: string) => `ws:versions:${name}`,
  names: "ws:names",
};

export function blob(data: Buffer): StoredEntry {
  return { code: data, imports: [], names: [], dynamicNames: false };
}

const json = (value: unknown) => blob(Buffer.from(JSON.stringify(value), "utf8"));

export class WorkspaceStore {
  constructor(readonly store: ModuleStore) {}

  static async open(spec: string | undefined, cwd: string): Promise<WorkspaceStore> {
    const parsed = parseStoreSpec(spec);
    if (parsed.kind === "sqlite") {
      const dir = await ensureKilnDir(cwd);
      return new WorkspaceStore(
        new SqliteStore(join(dir, "workspaces.sqlite"), { maxBytes: WORKSPACE_MAX_BYTES }),
      );
    }
    const { RedisStore } = await import("../registry/redis-store.js");
    return new WorkspaceStore(await RedisStore.connect(parsed.url));
  }

  private async readJson<T>(key: string): Promise<T | undefined> {
    const entry = (await this.store.getMany([key])).get(key);
    return entry ? (JSON.parse(entry.code.toString("utf8")) as T) : undefined;
  }

  /** The current version, or undefined when there is none (never pushed, or removed). */
  async head(name: string): Promise<number | undefined> {
    const head = await this.readJson<Head>(keys.head(name));
    return head && !head.removed ? head.version : undefined;
  }

  async lastVersion(name: string): Promise<number> {
    return (await this.readJson<Head>(keys.head(name)))?.version ?? 0;
  }

  /** A new version, never handed out twice, even to concurrent pushes (ModuleStore.increment). */
  async allocateVersion(name: string): Promise<number> {
    return this.store.increment(keys.versions(name), await this.lastVersion(name));
  }

  async index(name: string, version: number): Promise<WorkspaceIndex | undefined> {
    return this.readJson<WorkspaceIndex>(keys.index(name, version));
  }

  async names(): Promise<string[]> {
    return this.store.members(keys.names);
  }

  async getMany(wanted: readonly string[]): Promise<Map<string, StoredEntry>> {
    return this.store.getMany(wanted);
  }

  /** Modules first, then the index, then the head: readers see all of it or none. */
  async publish(index: WorkspaceIndex, blobs: Map<string, StoredEntry>): Promise<void> {
    await this.store.putMany(blobs);
    await this.store.putMany(new Map([[keys.index(index.name, index.version), json(index)]]));
    await this.store.putMany(new Map([[keys.head(index.name), json({ version: index.version })]]));
    await this.store.addMember(keys.names, index.name);
  }

  /** The head becomes a tombstone (stores have no delete; entries age out by LRU). */
  async remove(name: string): Promise<boolean> {
    const version = await this.head(name);
    if (version === undefined) return false;
    await this.store.putMany(new Map([[keys.head(name), json({ version, removed: true })]]));
    await this.store.removeMember(keys.names, name);
    return true;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
