// The bytecode registry's shared vocabulary (DESIGN.md section 3). Compile
// results come from python/kiln_harness/compile_server.py; stores keep them
// by key; the zygote's finder serves the code.

/** One import statement, resolved to absolute module names. */
export interface ImportRef {
  /** Absolute name of the module imported from (`from .a import b` in pkg.m → "pkg.a"). */
  module: string;
  /** For `from X import a, b`: ["a", "b"] ("*" for a star import); absent for `import X`. */
  names?: string[];
  line: number;
  /** 0 for absolute imports, N for N leading dots. */
  level: number;
  /** Inside a function body, `try`, or `if` block: may legitimately fail at runtime. */
  conditional: boolean;
}

/** A public top-level name a module defines (no leading underscore, or listed in __all__). */
export interface PublicName {
  name: string;
  kind: "function" | "class" | "variable" | "import" | "submodule";
  line: number;
  /** `(a, b=1, *args, **kw)` for functions, when known. */
  signature?: string;
}

export interface CompileFailure {
  path: string;
  line: number;
  message: string;
}

/** What the compile server returns for one file. */
export interface CompiledModule {
  path: string;
  /** sha256 hex of the exact bytes that were compiled. */
  sourceHash: string;
  /** importlib.util.MAGIC_NUMBER as hex, and sys.implementation.cache_tag. */
  magic: string;
  cacheTag: string;
  optimize: number;
  /** pytest version when pytest's assertion rewriting was applied, else null. */
  rewrittenBy: string | null;
  /** marshal.dumps(code object): no 16-byte .pyc header. */
  code: Buffer;
  imports: ImportRef[];
  names: PublicName[];
  /** Whether the module body defines `__getattr__` (any name may exist). */
  dynamicNames: boolean;
}

/** Everything that changes the bytecode; two equal keys give identical code. */
export interface RegistryKey {
  sourceHash: string;
  magic: string;
  optimize: number;
  rewrittenBy: string | null;
}

export function keyString(key: RegistryKey): string {
  return [key.sourceHash, key.magic, `O${key.optimize}`, key.rewrittenBy ?? "plain"].join(":");
}

/** What a store keeps under a key. */
export interface StoredEntry {
  code: Buffer;
  imports: ImportRef[];
  names: PublicName[];
  dynamicNames: boolean;
}

export interface StoreStats {
  entries: number;
  bytes: number;
  /** Entries found corrupted (bad checksum, torn) and dropped since the store was opened. */
  corrupted: number;
  location: string;
}

/**
 * A store of compiled modules. Implementations: SQLite (default, .kiln/),
 * Redis (shared by a CI fleet). get() never returns an entry whose checksum
 * does not verify: a corrupted or torn entry is deleted and reported as a miss.
 */
export interface ModuleStore {
  getMany(keys: readonly string[]): Promise<Map<string, StoredEntry>>;
  putMany(entries: ReadonlyMap<string, StoredEntry>): Promise<void>;
  stats(): Promise<StoreStats>;
  clear(): Promise<void>;
  /** Evict least-recently-used entries down to the size bound. Returns entries removed. */
  gc(): Promise<number>;
  close(): Promise<void>;
  /**
   * Atomically raises the counter `key` to max(its value, floor) + 1 and
   * returns it: two writers never get the same number (a workspace version;
   * a read-then-write of the head let two concurrent pushes pick the same
   * one). Unlike getMany/putMany it throws when the store can't answer: a
   * number it could not allocate must not be guessed.
   */
  increment(key: string, floor: number): Promise<number>;
  /**
   * Set membership, each change one atomic step on the store (a row per
   * member in SQLite, a Redis SET): the workspace names for `ls`. A list
   * read, changed and written back lost one of two concurrent pushes'
   * names. Like increment, these throw when the store can't answer.
   */
  addMember(set: string, member: string): Promise<void>;
  removeMember(set: string, member: string): Promise<void>;
  /** The members, sorted. */
  members(set: string): Promise<string[]>;
}
