// Where the Python harness (python/kiln_harness) ships, and how its programs
// start. The harness sits beside dist/ in the npm package, so two levels up
// from any dist/<folder>/<file>.js.
import { fileURLToPath } from "node:url";

export const HARNESS_DIR = fileURLToPath(new URL("../../python", import.meta.url));

/** The programs python/kiln_harness/boot.py starts (its PROGRAMS table). */
export type HarnessProgram =
  | "zygote"
  | "compile-server"
  | "doctor-probe"
  | "exec-zygote"
  | "daemon"
  | "stdio-stand-in";

// The one line of Python kept in TypeScript: `-c` puts "" (the working
// directory) first on sys.path; the harness takes its place, so no project
// file named like a stdlib module or like kiln_harness can shadow one, and
// kiln_harness.boot checks the Python version and arranges sys.path for the
// program (the zygote puts the working directory back first, as
// `python -m pytest` has it).
const BOOT = "import sys; sys.path[0] = sys.argv[1]; import kiln_harness.boot as b; b.main()";

/** The interpreter's arguments that run `program` from the harness in `harnessDir`. */
export function harnessArgs(program: HarnessProgram, harnessDir: string = HARNESS_DIR): string[] {
  return ["-c", BOOT, harnessDir, program];
}
