// Number formatting shared by the tables.

export function seconds(ms: number): string {
  return Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "–";
}

export function mib(kb: number | undefined): string {
  return kb !== undefined && Number.isFinite(kb)
    ? (kb / 1024).toFixed(kb < 10 * 1024 ? 1 : 0)
    : "–";
}

export function ratio(value: number, reference: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) return "–";
  return `${(value / reference).toFixed(2)}×`;
}

export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rule = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [line(header), line(rule), ...rows.map(line)].join("\n");
}
