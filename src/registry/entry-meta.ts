// A StoredEntry minus its code, as the JSON text both stores keep. Decoding
// validates the shape: an entry whose meta does not parse is treated exactly
// like one whose checksum fails (dropped, recompiled), never half-used.
import type { ImportRef, PublicName, StoredEntry } from "./types.js";

export type EntryMeta = Omit<StoredEntry, "code">;

const NAME_KINDS: ReadonlySet<string> = new Set([
  "function",
  "class",
  "variable",
  "import",
  "submodule",
]);

export function encodeMeta(entry: StoredEntry): string {
  const meta: EntryMeta = {
    imports: entry.imports,
    names: entry.names,
    dynamicNames: entry.dynamicNames,
  };
  return JSON.stringify(meta);
}

/** The decoded meta, or undefined when the text is not a valid meta record. */
export function decodeMeta(text: string): EntryMeta | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(data) || typeof data.dynamicNames !== "boolean") return undefined;
  const { imports, names } = data;
  if (!Array.isArray(imports) || !imports.every(isImportRef)) return undefined;
  if (!Array.isArray(names) || !names.every(isPublicName)) return undefined;
  return { imports, names, dynamicNames: data.dynamicNames };
}

function isImportRef(value: unknown): value is ImportRef {
  return (
    isRecord(value) &&
    typeof value.module === "string" &&
    (value.names === undefined ||
      (Array.isArray(value.names) && value.names.every((n) => typeof n === "string"))) &&
    typeof value.line === "number" &&
    typeof value.level === "number" &&
    typeof value.conditional === "boolean"
  );
}

function isPublicName(value: unknown): value is PublicName {
  return (
    isRecord(value) &&
    typeof value.name === "string" &&
    typeof value.kind === "string" &&
    NAME_KINDS.has(value.kind) &&
    typeof value.line === "number" &&
    (value.signature === undefined || typeof value.signature === "string")
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
