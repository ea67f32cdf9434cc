// The one definition of every message between Kiln's TypeScript and Python
// sides: the supervisor and the zygote (fd 3), the supervisor and workers
// (a Unix socket), and the registry's compile server (fd 3). The TypeScript
// types (messages.ts) are inferred from these schemas, the supervisor's
// runtime checks (decode.ts) parse with them, and the Python side gets the
// same table as JSON Schema (python/kiln_harness/protocol_schema.json,
// written by `npm run gen:protocol` and checked by protocol-schema.test.ts).
// Objects are strict: a field one side sends and the other does not know is
// a bug, caught the first time it is sent (both sides ship together).
//
// The schemas live by channel in schema-common.ts (shared pieces),
// schema-supervisor.ts, schema-zygote.ts, schema-worker.ts,
// schema-compile.ts, schema-exec.ts and schema-daemon.ts; this file is the
// entry every importer uses.
import { compileServerToSupervisor, supervisorToCompileServer } from "./schema-compile.js";
import { clientToDaemon, daemonToClient } from "./schema-daemon.js";
import {
  execWorkerToSupervisor,
  execZygoteToSupervisor,
  supervisorToExecWorker,
  supervisorToExecZygote,
} from "./schema-exec.js";
import { supervisorToZygote } from "./schema-supervisor.js";
import { supervisorToWorker, workerToSupervisor } from "./schema-worker.js";
import { zygoteToSupervisor } from "./schema-zygote.js";

export {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  pythonInfo,
  reportBodyFormat,
  reportMeta,
  runOrder,
} from "./schema-common.js";
export { compileServerToSupervisor, supervisorToCompileServer } from "./schema-compile.js";
export { clientToDaemon, daemonToClient } from "./schema-daemon.js";
export {
  execLimits,
  execWorkerToSupervisor,
  execWorkspaceModule,
  execZygoteToSupervisor,
  supervisorToExecWorker,
  supervisorToExecZygote,
} from "./schema-exec.js";
export {
  helloToZygote,
  isolation,
  isolationLimits,
  isolationProfile,
  supervisorToZygote,
} from "./schema-supervisor.js";
export { supervisorToWorker, workerToSupervisor } from "./schema-worker.js";
export { zygoteToSupervisor } from "./schema-zygote.js";

/** Each channel direction, by the name the Python table uses. */
export const DIRECTIONS = {
  supervisorToZygote,
  zygoteToSupervisor,
  workerToSupervisor,
  supervisorToWorker,
  supervisorToCompileServer,
  compileServerToSupervisor,
  supervisorToExecZygote,
  execZygoteToSupervisor,
  execWorkerToSupervisor,
  supervisorToExecWorker,
  clientToDaemon,
  daemonToClient,
} as const;

export type Direction = keyof typeof DIRECTIONS;
