// Choosing the store from `--store`: nothing or "sqlite" for the embedded
// store in <rootdir>/.kiln/, redis://host:port (or rediss://) for a shared
// Redis. An unreachable Redis is not a reason to fail a test run: the local
// store takes over and the caller prints the returned warning.
import { isAbsolute, relative } from "node:path";
import { registryPath } from "../config/kiln-dir.js";
import { SqliteStore } from "./sqlite-store.js";
import type { ModuleStore } from "./types.js";

export type StoreSpec = { kind: "sqlite" } | { kind: "redis"; url: string };

/** A `--store` value that names no store; a usage error (exit 4). */
export class StoreSpecError extends Error {
  constructor(spec: string, why: string) {
    super(`--store ${JSON.stringify(spec)}: ${why}; use "sqlite" or redis://host:port`);
    this.name = "StoreSpecError";
  }
}

export function parseStoreSpec(spec: string | undefined): StoreSpec {
  if (spec === undefined || spec === "" || spec === "sqlite") return { kind: "sqlite" };
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new StoreSpecError(spec, "not a store name or URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new StoreSpecError(spec, `unsupported scheme ${url.protocol}`);
  }
  if (url.hostname === "") throw new StoreSpecError(spec, "no host");
  return { kind: "redis", url: spec };
}

export interface OpenStoreOptions {
  /** SQLite size bound (Redis is bounded by its own maxmemory). */
  maxBytes?: number;
  connectTimeoutMs?: number;
  /** Problems found inside a store (damaged file, Redis gone mid-run); default stderr. */
  warn?: (message: string) => void;
  /** false: an unreachable Redis rejects instead of falling back (for `kiln cache`). */
  fallback?: boolean;
}

export interface OpenedStore {
  store: ModuleStore;
  /** Why the requested store is not the one returned; unprefixed, for `kiln: warning: `. */
  warning?: string;
}

/**
 * Opens the store `spec` names for the project at `rootdir`. Rejects with
 * StoreSpecError for a bad spec, with RedisUnreachableError only when
 * `fallback` is false, and with the SQLite error if .kiln/ is unusable.
 */
export async function openStore(
  spec: string | undefined,
  rootdir: string,
  options: OpenStoreOptions = {},
): Promise<OpenedStore> {
  const parsed = parseStoreSpec(spec);
  const local = () => SqliteStore.open(rootdir, { maxBytes: options.maxBytes, warn: options.warn });
  if (parsed.kind === "sqlite") return { store: await local() };
  // Loaded only for a redis:// store: the client costs ~0.3 s to import,
  // which every local run would otherwise pay at start-up.
  const { RedisStore, RedisUnreachableError } = await import("./redis-store.js");
  try {
    const store = await RedisStore.connect(parsed.url, {
      connectTimeoutMs: options.connectTimeoutMs,
      warn: options.warn,
    });
    return { store };
  } catch (error) {
    if (!(error instanceof RedisUnreachableError) || options.fallback === false) throw error;
    return {
      store: await local(),
      warning: `${error.message}; using the local store ${displayPath(registryPath(rootdir))}`,
    };
  }
}

/** Relative to the cwd when inside it (".kiln/registry.sqlite"), else absolute. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}
