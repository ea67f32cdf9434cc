// Runtime checks that turn a decoded frame header into a typed message, with
// the schemas of schema.ts; anything else is a protocol error naming the
// peer and the field, never a silent `as` cast.
import type { z } from "zod";
import type { FrameHeader } from "./frame-codec.js";
import { ProtocolError } from "./frame-codec.js";
import type {
  CompileServerToSupervisor,
  DaemonToClient,
  ExecWorkerToSupervisor,
  ExecZygoteToSupervisor,
  WorkerToSupervisor,
  ZygoteToSupervisor,
} from "./messages.js";
import {
  compileServerToSupervisor,
  daemonToClient,
  execWorkerToSupervisor,
  execZygoteToSupervisor,
  workerToSupervisor,
  zygoteToSupervisor,
} from "./schema.js";

function decodeWith<T>(schema: z.ZodType<T>, header: FrameHeader, peer: string): T {
  const parsed = schema.safeParse(header);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === "invalid_union" && issue.path.length === 1 && issue.path[0] === "type") {
    throw new ProtocolError(`unknown message type ${JSON.stringify(header.type)} from ${peer}`);
  }
  const where = issue?.path.length ? issue.path.join(".") : "(the header)";
  throw new ProtocolError(
    `${peer} sent ${header.type} with a bad or missing "${where}": ${issue?.message ?? "invalid"}`,
  );
}

export function decodeZygoteMessage(header: FrameHeader): ZygoteToSupervisor {
  return decodeWith(zygoteToSupervisor, header, "the zygote");
}

export function decodeWorkerMessage(header: FrameHeader): WorkerToSupervisor {
  return decodeWith(workerToSupervisor, header, "a worker");
}

export function decodeCompileServerMessage(header: FrameHeader): CompileServerToSupervisor {
  return decodeWith(compileServerToSupervisor, header, "the compile server");
}

export function decodeExecZygoteMessage(header: FrameHeader): ExecZygoteToSupervisor {
  return decodeWith(execZygoteToSupervisor, header, "the exec zygote");
}

export function decodeExecWorkerMessage(header: FrameHeader): ExecWorkerToSupervisor {
  return decodeWith(execWorkerToSupervisor, header, "an exec worker");
}

export function decodeDaemonMessage(header: FrameHeader): DaemonToClient {
  return decodeWith(daemonToClient, header, "the daemon");
}
