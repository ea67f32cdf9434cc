// The browsable HTML report: html/index.html (summary, pictures, the slowest
// tests, a directory of test files with status suffixes) and one page per
// test file under html/files/. Self-contained: inline CSS and SVG, no
// scripts, nothing fetched.
import { basename } from "node:path";
import type { Manifest } from "../events/manifest.js";
import { CATEGORY_ORDER, countsLine, STATUS_SUFFIX } from "../events/outcomes.js";
import { escapeHtml } from "./escape.js";
import { filePageName, renderFilePage } from "./html-file-page.js";
import { humanDuration, page } from "./html-shell.js";
import type { DirectoryEntry, ReportContext, ReportFile, ReportModule } from "./module.js";
import { sessionDuration, slowestPhases } from "./summary.js";
import { durationHistogram, workerTimeline } from "./svg-charts.js";

const SLOWEST = 10;

export function runTitle(m: Manifest): string {
  return `Kiln run: ${basename(m.rootdir ?? m.cwd)}`;
}

function countsBlock(context: ReportContext): string {
  const counts = context.manifest.outcomes;
  const cards = CATEGORY_ORDER.filter(
    (key) => counts[key] > 0 || key === "passed" || key === "failed",
  )
    .map(
      (key) =>
        `<div class="count ${key}" data-outcome="${key}"><b>${counts[key]}</b>${key === "error" ? "errors" : key}</div>`,
    )
    .join("");
  return `<div class="counts" id="counts">${cards}</div>`;
}

function metaTable(context: ReportContext): string {
  const m = context.manifest;
  const rows: [string, string][] = [
    [
      "result",
      `${countsLine(m.outcomes)} in ${sessionDuration(Math.max(0, m.finishedAt - m.startedAt) / 1000)}`,
    ],
    ["exit code", `${m.exitCode}${m.complete ? "" : " (the run did not finish)"}`],
    ["started", new Date(m.startedAt).toISOString()],
    ["command", `kiln ${m.argv.join(" ")}`],
    ["rootdir", m.rootdir ?? "(not collected)"],
    [
      "python",
      m.python ? `${m.python.implementation} ${m.python.version} (${m.python.executable})` : "?",
    ],
    ["pytest", m.pytestVersion ?? "?"],
    ["workers", `${m.workers} requested, ${m.workersStarted} started, dist ${m.dist}`],
    [
      "collected",
      `${m.collection.items} items, ${m.collection.errors} errors, ${m.collection.deselected} deselected`,
    ],
  ];
  const body = rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join("");
  return `<table id="run-meta">${body}</table>`;
}

function slowestTable(context: ReportContext): string {
  const slowest = slowestPhases(context.records.results, SLOWEST);
  if (slowest.length === 0) return '<p class="muted">No test ran.</p>';
  const rows = slowest
    .map(
      (p) =>
        `<tr><td class="num">${humanDuration(p.duration)}</td><td>${p.when}</td><td>${escapeHtml(p.nodeid)}</td><td>${p.workerId > 0 ? `kw${p.workerId}` : ""}</td></tr>`,
    )
    .join("");
  return `<table id="slowest"><tr><th>duration</th><th>phase</th><th>test</th><th>worker</th></tr>${rows}</table>`;
}

/** The per-file directory, shared with the combined index (hrefs relative to html/). */
export function fileEntries(context: ReportContext): DirectoryEntry[] {
  return context.files.map((file, i) => ({
    label: `${file.path} ${STATUS_SUFFIX[file.status]}`,
    status: file.status,
    href: filePageName(file, i),
  }));
}

function directory(context: ReportContext): string {
  if (context.files.length === 0) return '<p class="muted">No test files.</p>';
  const items = context.files
    .map((file, i) => {
      const counts = countsLine(file.counts);
      return `<li data-status="${file.status}"><a href="${filePageName(file, i)}">${escapeHtml(file.path)} ${STATUS_SUFFIX[file.status]}</a> <span class="muted">${escapeHtml(counts)}</span></li>`;
    })
    .join("");
  return `<ul class="dir" id="directory">${items}</ul>`;
}

export function renderHtmlIndex(context: ReportContext): string {
  const m = context.manifest;
  const body = [
    "<h2>Summary</h2>",
    countsBlock(context),
    metaTable(context),
    "<h2>Test files</h2>",
    directory(context),
    "<h2>Durations</h2>",
    durationHistogram(context.tests),
    "<h2>Workers</h2>",
    workerTimeline(context.tests),
    `<h2>Slowest ${SLOWEST} phases</h2>`,
    slowestTable(context),
  ].join("\n");
  return page(runTitle(context.manifest), `run ${escapeHtml(m.runId)}`, body);
}

export const htmlModule: ReportModule = {
  id: "html",
  name: "HTML report",
  subscribes: ["collect", "results"],
  render(context) {
    const title = `${runTitle(context.manifest)} · ${context.manifest.runId}`;
    const files: ReportFile[] = [{ path: "html/index.html", content: renderHtmlIndex(context) }];
    context.files.forEach((file, i) => {
      files.push({ path: `html/${filePageName(file, i)}`, content: renderFilePage(file, title) });
    });
    return {
      files,
      entries: fileEntries(context).map((e) => ({ ...e, href: `html/${e.href}` })),
      index: [
        {
          title: "HTML report",
          html: `<p><a href="html/index.html">html/index.html</a>: ${escapeHtml(countsLine(context.manifest.outcomes))}</p>`,
        },
      ],
    };
  },
};
