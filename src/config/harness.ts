// Where the Python harness (python/kiln_harness) ships: beside dist/ in the
// npm package, so two levels up from any dist/<folder>/<file>.js.
import { fileURLToPath } from "node:url";

export const HARNESS_DIR = fileURLToPath(new URL("../../python", import.meta.url));
