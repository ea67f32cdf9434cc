// Runtime checks that turn a decoded frame header into a typed message. One
// guard per direction the supervisor receives; anything else is a protocol
// error naming the peer, never a silent `as` cast.
import type { FrameHeader } from "./frame-codec.js";
import { ProtocolError } from "./frame-codec.js";
import type { WorkerToSupervisor, ZygoteToSupervisor } from "./messages.js";

type Shape = Record<string, "string" | "number" | "boolean" | "array" | "object" | "any">;

const ZYGOTE_SHAPES: Record<ZygoteToSupervisor["type"], Shape> = {
  hello: {
    python: "object",
    pytest: "string",
    pid: "number",
    magic: "string",
    cacheTag: "string",
    optimize: "number",
  },
  "registry:stats": { served: "number", fallbacks: "number", errors: "array" },
  "hello:refused": { message: "string" },
  "collection:finished": { rootdir: "string", items: "array", errors: "array" },
  "run:ready": { items: "array" },
  "registry:rootdir-mismatch": { prepared: "string", rootdir: "string" },
  "worker:spawned": { workerId: "number", pid: "number" },
  "worker:exited": { workerId: "number", pid: "number" },
  "run:stop-requested": { reason: "string" },
  "session:finished": { exitCode: "number" },
};

const WORKER_SHAPES: Record<WorkerToSupervisor["type"], Shape> = {
  "worker:hello": { workerId: "number", pid: "number" },
  "work:wanted": {},
  "test:finished": { nodeid: "string", location: "array", reports: "array", format: "string" },
  "warning:recorded": { warning: "object", when: "string", nodeid: "string" },
  "debugger:entered": {},
  "run:exit": { reason: "string" },
  "worker:done": {},
};

function check(header: FrameHeader, shapes: Record<string, Shape>, peer: string): void {
  const shape = shapes[header.type];
  if (shape === undefined) {
    throw new ProtocolError(`unknown message type ${JSON.stringify(header.type)} from ${peer}`);
  }
  for (const [field, kind] of Object.entries(shape)) {
    const value = header[field];
    const ok =
      kind === "any"
        ? value !== undefined
        : kind === "array"
          ? Array.isArray(value)
          : kind === "object"
            ? typeof value === "object" && value !== null
            : typeof value === kind;
    if (!ok) {
      throw new ProtocolError(`${peer} sent ${header.type} with a bad or missing "${field}"`);
    }
  }
}

export function decodeZygoteMessage(header: FrameHeader): ZygoteToSupervisor {
  check(header, ZYGOTE_SHAPES, "the zygote");
  return header as unknown as ZygoteToSupervisor;
}

export function decodeWorkerMessage(header: FrameHeader): WorkerToSupervisor {
  check(header, WORKER_SHAPES, "a worker");
  return header as unknown as WorkerToSupervisor;
}
