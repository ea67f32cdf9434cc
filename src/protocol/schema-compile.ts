// Supervisor ↔ the registry's compile server (fd 3,
// python/kiln_harness/compile_server.py). Part of the one message schema
// (schema.ts).
import { z } from "zod";
import { message } from "./schema-common.js";

const compileFile = z.strictObject({
  /** Absolute path: it becomes the code object's co_filename. */
  path: z.string(),
  /** Dotted module name (relative imports are resolved against it). */
  module: z.string(),
  /** The file is a package's __init__.py. */
  isPackage: z.boolean(),
  /** Apply pytest's assertion rewriting (test modules and conftests). */
  rewrite: z.boolean(),
  /** co_filename when it is not `path`: a workspace module's virtual path (issue 13). */
  filename: z.string().optional(),
});

export const supervisorToCompileServer = z.discriminatedUnion("type", [
  message("compile:batch", {
    id: z.number().int(),
    optimize: z.number().int(),
    files: z.array(compileFile),
  }),
  message("shutdown", {}),
]);

/** module_info.py's ImportRef; registry/types.ts's plus `guarded`. */
const importRef = z.strictObject({
  module: z.string(),
  names: z.array(z.string()).optional(),
  line: z.number().int(),
  level: z.number().int(),
  conditional: z.boolean(),
  guarded: z.boolean(),
});

const publicName = z.strictObject({
  name: z.string(),
  kind: z.enum(["function", "class", "variable", "import", "submodule"]),
  line: z.number().int(),
  signature: z.string().optional(),
});

/** One file of a compile:result: its code is at codeOffset in the frame body. */
const compileResult = z.union([
  z.strictObject({
    path: z.string(),
    ok: z.literal(true),
    sourceHash: z.string(),
    magic: z.string(),
    cacheTag: z.string(),
    optimize: z.number().int(),
    rewrittenBy: z.string().nullable(),
    codeOffset: z.number().int().nonnegative(),
    codeLength: z.number().int().nonnegative(),
    imports: z.array(importRef),
    names: z.array(publicName),
    allNames: z.array(z.string()),
    dynamicNames: z.boolean(),
    namesOpaque: z.boolean(),
    /** import_module(x) / __import__(x) with a non-literal name (module_info.py). */
    computedImports: z.boolean(),
  }),
  z.strictObject({
    path: z.string(),
    ok: z.literal(false),
    error: z.strictObject({ path: z.string(), line: z.number().int(), message: z.string() }),
  }),
]);

export const compileServerToSupervisor = z.discriminatedUnion("type", [
  message("hello", {
    /** importlib.util.MAGIC_NUMBER as hex. */
    magic: z.string(),
    cacheTag: z.string(),
    /** pytest's version, or null when pytest is not installed. */
    pytest: z.string().nullable(),
    python: z.string(),
  }),
  message("compile:result", { id: z.number().int(), results: z.array(compileResult) }),
  /** A malformed request (id null when it had none). */
  message("compile:error", { id: z.number().int().nullable(), message: z.string() }),
]);
