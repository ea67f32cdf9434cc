// POST /v1/exec's request body: its one definition (README documents it).
// Either `code` (run as __main__, as `python -c`) or `module` + `function`
// (+ `args`): what the function returns is the result.
import { z } from "zod";
import { PROFILES } from "../pool/exec-zygote.js";

export const LIMITS = {
  defaultTimeoutMs: 10_000,
  maxTimeoutMs: 300_000,
  defaultMemoryMb: 1024,
  minMemoryMb: 32,
  maxMemoryMb: 16_384,
};

export const execRequest = z
  .strictObject({
    code: z.string().optional(),
    /** The code's file name, as `python FILE` would have it (tracebacks, __file__). */
    filename: z.string().min(1).optional(),
    module: z.string().min(1).optional(),
    function: z.string().min(1).optional(),
    args: z.array(z.unknown()).optional(),
    workspace: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only")
      .optional(),
    profile: z.enum(PROFILES as [string, ...string[]]).optional(),
    timeout_ms: z.number().int().min(1).max(LIMITS.maxTimeoutMs).optional(),
    memory_mb: z.number().int().min(LIMITS.minMemoryMb).max(LIMITS.maxMemoryMb).optional(),
    stdin: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
  })
  .refine((r) => (r.code !== undefined) !== (r.module !== undefined), {
    message: "give either `code` or `module` + `function`, not both or neither",
  })
  .refine((r) => (r.module === undefined) === (r.function === undefined), {
    message: "`module` and `function` go together",
  })
  .refine((r) => r.filename === undefined || r.code !== undefined, {
    message: "`filename` goes with `code`",
  })
  .refine((r) => r.args === undefined || r.module !== undefined, {
    message: "`args` goes with `module` + `function`",
  });

export type ExecRequestBody = z.infer<typeof execRequest>;

/** The request's first problem, for a 400 (zod's path and message). */
export function describeProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
}
