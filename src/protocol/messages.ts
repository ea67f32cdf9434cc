// The message types, inferred from their one definition in schema.ts (which
// has each field's meaning). Every header carries "v" (PROTOCOL_VERSION) and
// "type"; names read `domain:verb-past` for events and `domain:verb` for
// commands.
import type { z } from "zod";
import type {
  clientToDaemon,
  compileServerToSupervisor,
  daemonToClient,
  execWorkerToSupervisor,
  execWorkspaceModule,
  execZygoteToSupervisor,
  helloToZygote,
  pythonInfo,
  reportBodyFormat,
  reportMeta,
  runOrder,
  supervisorToCompileServer,
  supervisorToExecWorker,
  supervisorToExecZygote,
  supervisorToWorker,
  supervisorToZygote,
  workerToSupervisor,
  zygoteToSupervisor,
} from "./schema.js";

export type ReportBodyFormat = z.infer<typeof reportBodyFormat>;
export type ReportMeta = z.infer<typeof reportMeta>;
export type PythonInfo = z.infer<typeof pythonInfo>;
export type RunOrder = z.infer<typeof runOrder>;
export type HelloToZygote = z.infer<typeof helloToZygote>;
export type SupervisorToZygote = z.infer<typeof supervisorToZygote>;
export type ZygoteToSupervisor = z.infer<typeof zygoteToSupervisor>;
export type WorkerToSupervisor = z.infer<typeof workerToSupervisor>;
export type SupervisorToWorker = z.infer<typeof supervisorToWorker>;
export type SupervisorToCompileServer = z.infer<typeof supervisorToCompileServer>;
export type CompileServerToSupervisor = z.infer<typeof compileServerToSupervisor>;
export type SupervisorToExecZygote = z.infer<typeof supervisorToExecZygote>;
export type ExecZygoteToSupervisor = z.infer<typeof execZygoteToSupervisor>;
export type ExecWorkerToSupervisor = z.infer<typeof execWorkerToSupervisor>;
export type SupervisorToExecWorker = z.infer<typeof supervisorToExecWorker>;
export type ExecWorkspaceModule = z.infer<typeof execWorkspaceModule>;
export type ClientToDaemon = z.infer<typeof clientToDaemon>;
export type DaemonToClient = z.infer<typeof daemonToClient>;
