// `kiln serve`: pools, the store, the HTTP app; the ready line; SIGTERM and
// SIGINT drain the requests in flight (bounded), then stop the pools, so no
// process is left behind.
import { isIP } from "node:net";
import type { Runtime } from "../pool/exec-pool.js";
import type { Profile } from "../pool/exec-zygote.js";
import { startPools } from "../pool/pools.js";
import { WorkspaceLoader } from "../workspace/loader.js";
import { WorkspaceStore } from "../workspace/store.js";
import { Admission } from "./admission.js";
import { buildApp } from "./app.js";
import { loadTokens, TokenCheck } from "./auth.js";
import { ExecMetrics } from "./metrics.js";

export interface ServeOptions {
  host?: string;
  port: number;
  tokenFile?: string;
  store?: string;
  profiles: Profile[];
  python: string;
  preload: string[];
  /** pyodide: wheel files to load into the snapshot (--wheel). */
  wheels?: string[];
  poolFloor: number;
  poolCeiling: number;
  concurrency: number;
  queue: number;
  bodyLimit: number;
  outputCap: number;
  drainMs: number;
  runtime: Runtime;
}

export class ServeUsageError extends Error {
  override name = "ServeUsageError";
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function serve(options: ServeOptions, log: (line: string) => void): Promise<number> {
  const tokens = new TokenCheck(loadTokens(options.tokenFile, process.env));
  let host = options.host ?? "127.0.0.1";
  if (!tokens.enabled) {
    if (options.host !== undefined && !LOOPBACK.has(options.host)) {
      throw new ServeUsageError(
        `--host ${options.host} needs --token-file (or KILN_SERVE_TOKENS): without tokens kiln serves loopback only`,
      );
    }
    host = options.host ?? "127.0.0.1";
    log(`kiln: no --token-file: listening on loopback only (${host}), without authentication`);
  }
  const metrics = new ExecMetrics(options.runtime);
  const store =
    options.store === undefined
      ? undefined
      : await WorkspaceStore.open(options.store, process.cwd());
  const set = await startPools({
    profiles: options.profiles,
    python: options.python,
    preload: options.preload,
    wheels: options.wheels,
    sizing: { floor: options.poolFloor, ceiling: options.poolCeiling },
    observer: metrics,
    runtime: options.runtime,
  });
  let draining = false;
  const admission = new Admission(options.concurrency, options.queue);
  const app = buildApp({
    pools: set.pools,
    defaultProfile: options.profiles[0] as Profile,
    admission,
    tokens,
    metrics,
    workspaces: store ? new WorkspaceLoader(store) : undefined,
    bodyLimit: options.bodyLimit,
    outputCap: options.outputCap,
    draining: () => draining,
  });
  const address = await app.listen({ host, port: options.port });
  const url = new URL(address);
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  log(`kiln: serving on http://${shown}:${url.port}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  draining = true;
  log(
    `kiln: ${signal}: draining ${admission.inFlight + admission.queued} request(s) (at most ${options.drainMs} ms)`,
  );
  const deadline = Date.now() + options.drainMs;
  while (admission.inFlight + admission.queued > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const closing = app.close();
  await set.stop();
  await Promise.race([closing, new Promise((r) => setTimeout(r, 1_000))]);
  await store?.close();
  log("kiln: stopped");
  return 0;
}
