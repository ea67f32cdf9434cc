// Inline SVG pictures for the HTML report: a histogram of test durations
// (bins on a 1-2-5 log scale: test durations span microseconds to minutes)
// and a per-worker timeline (one lane per worker, a bar per test coloured by
// status, its node id as the tooltip). Pure functions of the record.
import { escapeHtml } from "./escape.js";
import { humanDuration, STATUS_COLOR } from "./html-shell.js";
import type { TestCase } from "./module.js";
import { testSpan } from "./test-model.js";

const EDGES = [0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60];

function edgeLabel(seconds: number): string {
  if (seconds >= 1) return `${seconds}s`;
  return `${Math.round(seconds * 1000)}ms`;
}

export function durationHistogram(tests: readonly TestCase[]): string {
  const counts = new Array<number>(EDGES.length).fill(0);
  for (const test of tests) {
    let bin = 0;
    for (let i = 0; i < EDGES.length; i++) if (test.duration >= (EDGES[i] ?? 0)) bin = i;
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  // Drop empty bins above the slowest test, keep at least up to 100ms.
  let last = counts.length - 1;
  while (last > 7 && (counts[last] ?? 0) === 0) last--;
  const shown = counts.slice(0, last + 1);
  const max = Math.max(1, ...shown);
  const width = 640;
  const height = 220;
  const left = 40;
  const bottom = 40;
  const top = 16;
  const barWidth = (width - left - 10) / shown.length;
  const bars = shown
    .map((count, i) => {
      const h = ((height - top - bottom) * count) / max;
      const x = left + i * barWidth;
      const y = height - bottom - h;
      const from = EDGES[i] ?? 0;
      const to = EDGES[i + 1];
      const range =
        to === undefined ? `≥ ${edgeLabel(from)}` : `${edgeLabel(from)}–${edgeLabel(to)}`;
      return (
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#42729b"><title>${escapeHtml(range)}: ${count} tests</title></rect>` +
        (count > 0
          ? `<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle">${count}</text>`
          : "") +
        `<text x="${(x + 2).toFixed(1)}" y="${height - bottom + 14}" transform="rotate(35 ${(x + 2).toFixed(1)} ${height - bottom + 14})">${escapeHtml(edgeLabel(from))}</text>`
      );
    })
    .join("");
  const axis = `<line x1="${left}" y1="${height - bottom}" x2="${width - 10}" y2="${height - bottom}" stroke="#999"/>`;
  const yLabel = `<text x="4" y="${top + 4}">${max}</text><text x="4" y="${height - bottom}">0</text>`;
  return `<svg id="duration-histogram" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Histogram of test durations">${axis}${yLabel}${bars}</svg>`;
}

interface Bar {
  worker: number;
  from: number;
  to: number;
  test: TestCase;
}

/**
 * Lanes span the first test's start to the last one's end (the zygote's
 * start-up and collection, the same for every worker, are in the trace).
 */
export function workerTimeline(tests: readonly TestCase[]): string {
  const bars: Bar[] = tests
    .filter((test) => test.phases.length > 0)
    .map((test) => {
      const [from, to] = testSpan(test);
      return { worker: test.workerId, from, to, test };
    });
  const workers = [...new Set(bars.map((b) => b.worker))].sort((a, b) => a - b);
  const startedAt = Math.min(...bars.map((b) => b.from));
  const end = Math.max(...bars.map((b) => b.to));
  const total = bars.length > 0 ? Math.max(1, end - startedAt) : 1;
  const width = 900;
  const lane = 22;
  const left = 56;
  const top = 10;
  const height = top + Math.max(1, workers.length) * lane + 30;
  const scale = (width - left - 10) / total;
  const lanes = workers
    .map((worker, i) => {
      const y = top + i * lane;
      return `<text x="4" y="${y + 15}">${worker === 0 ? "none" : `kw${worker}`}</text><line x1="${left}" y1="${y + lane}" x2="${width - 10}" y2="${y + lane}" stroke="#eee"/>`;
    })
    .join("");
  const rects = bars
    .map((bar) => {
      const y = top + workers.indexOf(bar.worker) * lane + 3;
      const x = left + (bar.from - startedAt) * scale;
      const w = Math.max(0.5, (bar.to - bar.from) * scale);
      const label = `${bar.test.nodeid} — ${bar.test.outcome}, ${humanDuration(bar.test.duration)}`;
      return `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${lane - 6}" fill="${STATUS_COLOR[bar.test.status]}"><title>${escapeHtml(label)}</title></rect>`;
    })
    .join("");
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const x = left + f * (width - left - 10);
      const anchor = f === 0 ? "start" : f === 1 ? "end" : "middle";
      return `<text x="${x.toFixed(1)}" y="${height - 8}" text-anchor="${anchor}">+${humanDuration((f * total) / 1000)}</text>`;
    })
    .join("");
  return `<svg id="worker-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Per-worker timeline">${lanes}${rects}${ticks}</svg>`;
}
