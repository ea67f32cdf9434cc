// The page shell shared by the HTML report's pages (and the combined index):
// one inline stylesheet, no scripts, no external resources, so a report opens
// from a CI artifact or file:// with no network at all.
import type { Status } from "../events/outcomes.js";
import { escapeHtml } from "./escape.js";

export const STATUS_COLOR: Record<Status, string> = {
  passed: "#2e7d32",
  failed: "#c62828",
  error: "#6a1b9a",
  skipped: "#8d8d8d",
};

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
header { background: #263238; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header p { margin: 4px 0 0; opacity: .8; }
header a { color: #b3e5fc; }
main { padding: 16px 24px 40px; max-width: 1100px; }
h2 { font-size: 16px; margin: 26px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.counts { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.count { background: #fff; border: 1px solid #ddd; border-left: 5px solid #999; border-radius: 4px; padding: 6px 12px; min-width: 80px; }
.count b { display: block; font-size: 22px; }
.count.passed, .count.xpassed { border-left-color: ${STATUS_COLOR.passed}; }
.count.failed { border-left-color: ${STATUS_COLOR.failed}; }
.count.error { border-left-color: ${STATUS_COLOR.error}; }
.count.skipped, .count.xfailed, .count.deselected { border-left-color: ${STATUS_COLOR.skipped}; }
table { border-collapse: collapse; background: #fff; }
td, th { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.dir { list-style: none; padding: 0; margin: 0; columns: 2; }
ul.dir li { padding: 2px 0; break-inside: avoid; }
pre { background: #fff; border: 1px solid #e0e0e0; padding: 8px; overflow-x: auto; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; }
details { background: #fff; border: 1px solid #e0e0e0; border-radius: 4px; margin: 6px 0; padding: 4px 10px; }
details summary { cursor: pointer; }
.muted { color: #666; }
svg { background: #fff; border: 1px solid #e0e0e0; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
`;

export function page(title: string, subtitle: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><p>${subtitle}</p></header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** "1.234s", "12ms": short human durations for tables and labels. */
export function humanDuration(seconds: number): string {
  if (seconds >= 1) return `${seconds.toFixed(2)}s`;
  if (seconds >= 0.001) return `${(seconds * 1000).toFixed(1)}ms`;
  return `${(seconds * 1_000_000).toFixed(0)}µs`;
}
