// `kiln workspace push NAME DIR`: every module's source and compiled code
// (by content hash, compiled once by the registry's compile server with the
// unmistakably virtual co_filename /<kiln-workspace>/NAME/<path>), then a
// new index version. Returns the version.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { CompileServer, isCompileFailure } from "../registry/compile-client.js";
import { keyString, type StoredEntry } from "../registry/types.js";
import { scanWorkspace } from "./scan.js";
import { blob, type IndexModule, keys, type WorkspaceStore } from "./store.js";

export const VIRTUAL_ROOT = "/<kiln-workspace>";

export class WorkspacePushError extends Error {
  override name = "WorkspacePushError";
}

export function virtualPath(workspace: string, rel: string): string {
  return `${VIRTUAL_ROOT}/${workspace}/${rel}`;
}

export async function pushWorkspace(
  store: WorkspaceStore,
  name: string,
  dir: string,
  python: string,
): Promise<number> {
  const files = scanWorkspace(dir);
  if (files.length === 0) throw new WorkspacePushError(`${dir} holds no Python module`);
  const real = files.filter((f) => f.abs !== null && f.path !== null);
  const server = await CompileServer.start(python);
  let outcomes: Awaited<ReturnType<CompileServer["compile"]>>;
  try {
    outcomes = await server.compile(
      real.map((f) => ({
        path: f.abs as string,
        module: f.name,
        isPackage: f.isPackage,
        rewrite: false,
        filename: virtualPath(name, f.path as string),
      })),
    );
  } finally {
    await server.close();
  }
  const failures = outcomes.filter(isCompileFailure);
  if (failures.length) {
    const lines = failures.map((f) => `  ${f.path}:${f.line}: ${f.message}`);
    throw new WorkspacePushError(
      `cannot compile ${failures.length} module(s):\n${lines.join("\n")}`,
    );
  }
  const blobs = new Map<string, StoredEntry>();
  const byPath = new Map<string, IndexModule>();
  let magic = "";
  for (const [i, outcome] of outcomes.entries()) {
    if (isCompileFailure(outcome)) continue;
    const file = real[i];
    if (!file?.path || !file.abs)
      throw new Error("this is a bug in kiln: compile results out of order");
    magic = outcome.magic;
    const source = readFileSync(file.abs);
    const sourceHash = createHash("sha256").update(source).digest("hex");
    const codeKey = createHash("sha256")
      .update(`${virtualPath(name, file.path)}\0${keyString({ ...outcome, rewrittenBy: null })}`)
      .digest("hex");
    blobs.set(keys.source(sourceHash), blob(source));
    blobs.set(keys.code(codeKey), blob(outcome.code));
    byPath.set(file.name, {
      name: file.name,
      isPackage: file.isPackage,
      path: file.path,
      source: keys.source(sourceHash),
      code: keys.code(codeKey),
    });
  }
  const modules = files.map(
    (f): IndexModule =>
      byPath.get(f.name) ?? { name: f.name, isPackage: true, path: null, source: null, code: null },
  );
  const version = await store.allocateVersion(name);
  await store.publish({ name, version, magic, pushedAt: new Date().toISOString(), modules }, blobs);
  return version;
}
