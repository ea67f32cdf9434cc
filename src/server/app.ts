// The exec HTTP API (fastify): POST /v1/exec (JSON, or NDJSON lines with
// ?stream=1 or Accept: application/x-ndjson), /healthz, /readyz, /metrics.
// A non-zero exit_code or an `error` is a 200: the service worked. 4xx and
// 5xx are the service's own refusals and faults.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { ExecPool } from "../pool/exec-pool.js";
import type { ExecRun } from "../pool/exec-worker.js";
import type { Profile } from "../pool/exec-zygote.js";
import { type ExecResponse, execute } from "../pool/execute.js";
import { PoolError } from "../pool/pool.js";
import { WorkspaceError, type WorkspaceLoader } from "../workspace/loader.js";
import type { Admission } from "./admission.js";
import type { TokenCheck } from "./auth.js";
import { describeProblem, type ExecRequestBody, execRequest, LIMITS } from "./exec-request.js";
import type { ExecMetrics } from "./metrics.js";

export interface AppDeps {
  pools: Map<Profile, ExecPool>;
  defaultProfile: Profile;
  admission: Admission;
  tokens: TokenCheck;
  metrics: ExecMetrics;
  workspaces: WorkspaceLoader | undefined;
  bodyLimit: number;
  outputCap: number;
  /** Set once SIGTERM arrived: new requests get 503. */
  draining: () => boolean;
}

function wantsStream(request: FastifyRequest): boolean {
  const query = request.query as Record<string, string | undefined>;
  return (
    query.stream === "1" ||
    query.stream === "true" ||
    (request.headers.accept ?? "").includes("application/x-ndjson")
  );
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ bodyLimit: deps.bodyLimit, logger: false, return503OnClosing: true });
  let meanServiceMs = 50;

  app.addHook("onResponse", async (request, reply) => {
    deps.metrics.requests.inc({
      route: request.routeOptions.url ?? "unknown",
      status: String(reply.statusCode),
    });
  });
  app.addHook("onRequest", async (request, reply) => {
    if (request.url === "/healthz" || request.url === "/readyz") return;
    if (!deps.tokens.allows(request.headers.authorization)) {
      reply.header("WWW-Authenticate", 'Bearer realm="kiln"');
      await reply.code(401).send({
        error: "unauthorized",
        message: "a valid bearer token is required (Authorization: Bearer TOKEN)",
      });
    }
  });

  // A body declared larger than the cap gets its 413 before it is read. Not
  // fastify's own 413, which closes the connection at once: the bytes the
  // client is still sending then make the kernel reset the connection, and
  // the reset discards the 413 before the client reads it (RFC 9112 section
  // 9.6 asks a server to keep reading before it closes). Kept alive, Node's
  // server reads and drops the rest of the body (bounded by its
  // requestTimeout) and the client gets its answer.
  app.addHook("onRequest", async (request, reply) => {
    if (reply.sent) return;
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > deps.bodyLimit) {
      await reply.code(413).send({
        error: "too large",
        message: `the request body is ${declared} bytes; this server takes at most ${deps.bodyLimit} (kiln serve --body-limit)`,
      });
    }
  });

  // A pool that can't serve (its zygote died, its workers die before they
  // are ready) is the service's fault, but a temporary one: 503, not 500.
  app.setErrorHandler(async (error, request, reply) => {
    if (error instanceof PoolError) {
      return reply.code(503).send({ error: "unavailable", message: error.message });
    }
    // A chunked body (no Content-Length) found too large while it is read.
    // Fastify answers with Connection: close and stops reading; the client,
    // still sending, then meets a reset that can discard the 413 before it
    // reads it (tests/e2e/exec-body-limit.test.ts). Kept alive instead, as
    // for a declared length above: the rest of the body is read and dropped
    // (bounded by Node's requestTimeout), and the client gets its answer.
    if ((error as { code?: string }).code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      reply.removeHeader("connection");
      request.raw.resume();
      return reply.code(413).send({
        error: "too large",
        message: `the request body is over ${deps.bodyLimit} bytes, the most this server takes (kiln serve --body-limit)`,
      });
    }
    const { statusCode, code, message } = error as {
      statusCode?: number;
      code?: string;
      message: string;
    };
    const status = statusCode ?? 500;
    return reply
      .code(status)
      .send({ error: code ?? (status >= 500 ? "internal error" : "bad request"), message });
  });

  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_request, reply) => {
    const problems = [...deps.pools.values()]
      .filter((p) => !p.healthy)
      .map((p) => `${p.profile}: ${p.problem ?? "stopped"}`);
    if (deps.draining()) problems.push("draining");
    const pools = Object.fromEntries([...deps.pools].map(([name, pool]) => [name, pool.size]));
    return reply
      .code(problems.length ? 503 : 200)
      .send({ ready: problems.length === 0, problems, pools });
  });
  app.get("/metrics", async (_request, reply) => {
    reply.header("Content-Type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  app.post("/v1/exec", async (request, reply) => {
    if (deps.draining())
      return reply.code(503).send({ error: "draining", message: "the server is shutting down" });
    const parsed = execRequest.safeParse(request.body);
    if (!parsed.success)
      return reply.code(400).send({ error: "bad request", message: describeProblem(parsed.error) });
    const body = parsed.data;
    const profile = (body.profile ?? deps.defaultProfile) as Profile;
    const pool = deps.pools.get(profile);
    if (!pool) {
      return reply.code(400).send({
        error: "bad request",
        message: `profile ${profile} is not served here (kiln serve --profile ${[...deps.pools.keys()].join(",")})`,
      });
    }
    const admitted = deps.admission.enter();
    if (!admitted) {
      reply.header("Retry-After", String(deps.admission.retryAfterSeconds(meanServiceMs)));
      return reply
        .code(429)
        .send({ error: "busy", message: "the request queue is full; retry later" });
    }
    const release = await admitted;
    try {
      const run = await toRun(body, deps.workspaces);
      if ("error" in run) return await answerWorkspaceError(reply, run.error, wantsStream(request));
      const timeoutMs = body.timeout_ms ?? LIMITS.defaultTimeoutMs;
      if (wantsStream(request))
        return await streamExec(reply, pool, run.request, run.body, timeoutMs, deps);
      const response = await execute(pool, run.request, run.body, {
        timeoutMs,
        outputCap: deps.outputCap,
      });
      meanServiceMs = meanServiceMs * 0.9 + response.duration_ms * 0.1;
      record(deps.metrics, profile, response);
      return reply.send(response);
    } finally {
      release();
    }
  });
  return app;
}

type Prepared = { request: ExecRun; body: Buffer } | { error: string };

async function toRun(
  body: ExecRequestBody,
  workspaces: WorkspaceLoader | undefined,
): Promise<Prepared> {
  const request: ExecRun = { type: "exec:run", memoryMb: body.memory_mb ?? LIMITS.defaultMemoryMb };
  if (body.code !== undefined) request.code = body.code;
  if (body.filename !== undefined) request.filename = body.filename;
  if (body.module !== undefined) request.module = body.module;
  if (body.function !== undefined) request.function = body.function;
  if (body.args !== undefined) request.args = body.args;
  if (body.stdin !== undefined) request.stdin = body.stdin;
  if (body.env !== undefined) request.env = body.env;
  let payload: Buffer = Buffer.alloc(0);
  if (body.workspace !== undefined) {
    if (!workspaces)
      return {
        error: "this server has no workspace store (kiln serve --store sqlite|redis://...)",
      };
    try {
      const loaded = await workspaces.load(body.workspace);
      request.workspace = { name: loaded.name, version: loaded.version, modules: loaded.modules };
      payload = loaded.body;
    } catch (error) {
      if (error instanceof WorkspaceError) return { error: error.message };
      throw error;
    }
  }
  return { request, body: payload };
}

function record(metrics: ExecMetrics, profile: string, response: ExecResponse): void {
  metrics.execSeconds.observe({ profile }, response.duration_ms / 1000);
  for (const limit of response.limits_hit) metrics.limitHits.inc({ limit });
}

async function answerWorkspaceError(reply: FastifyReply, message: string, stream: boolean) {
  const error = { type: "WorkspaceError", message, traceback: "" };
  if (!stream) {
    return reply.send({
      stdout: "",
      stderr: "",
      exit_code: 1,
      error,
      duration_ms: 0,
      limits_hit: [],
      truncated: false,
      worker: null,
    });
  }
  reply.hijack();
  reply.raw.writeHead(200, { "Content-Type": "application/x-ndjson" });
  reply.raw.end(
    `${JSON.stringify({ type: "error", error })}\n${JSON.stringify({ type: "end", exit_code: 1, duration_ms: 0, limits_hit: [], truncated: false, worker: null })}\n`,
  );
}

async function streamExec(
  reply: FastifyReply,
  pool: ExecPool,
  request: ExecRun,
  body: Buffer,
  timeoutMs: number,
  deps: AppDeps,
) {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store" });
  const line = (value: unknown) => raw.write(`${JSON.stringify(value)}\n`);
  try {
    const response = await execute(pool, request, body, {
      timeoutMs,
      outputCap: deps.outputCap,
      onOutput: (stream, text) => line({ type: stream, text }),
    });
    record(deps.metrics, pool.profile, response);
    if (response.result !== undefined) line({ type: "result", value: response.result });
    if (response.error) line({ type: "error", error: response.error });
    const { exit_code, duration_ms, limits_hit, truncated, worker } = response;
    line({ type: "end", exit_code, duration_ms, limits_hit, truncated, worker });
  } catch (error) {
    line({
      type: "end",
      exit_code: null,
      fault: error instanceof Error ? error.message : String(error),
    });
  } finally {
    raw.end();
  }
}
