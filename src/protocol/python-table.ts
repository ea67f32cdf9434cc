// The Python side's copy of schema.ts: JSON Schema per channel direction,
// written to python/kiln_harness/protocol_schema.json by `npm run
// gen:protocol` (write-python-table.ts). tests/unit/protocol/protocol-schema
// .test.ts fails when the committed file and schema.ts disagree.
import { join } from "node:path";
import { z } from "zod";
import { HARNESS_DIR } from "../config/harness.js";
import { DIRECTIONS, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "./schema.js";

export const PYTHON_TABLE_PATH = join(HARNESS_DIR, "kiln_harness", "protocol_schema.json");

export interface PythonTable {
  comment: string;
  version: number;
  maxFrameBytes: number;
  directions: Record<string, unknown>;
}

export function pythonTable(): PythonTable {
  const directions: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(DIRECTIONS)) {
    directions[name] = z.toJSONSchema(schema);
  }
  return {
    comment: "Generated from src/protocol/schema.ts by `npm run gen:protocol`; do not edit.",
    version: PROTOCOL_VERSION,
    maxFrameBytes: MAX_FRAME_BYTES,
    directions,
  };
}

export function pythonTableText(): string {
  return `${JSON.stringify(pythonTable(), null, 1)}\n`;
}
