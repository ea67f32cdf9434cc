// One page per test file in the HTML report: its collection problems, then
// each test with its outcome, and for anything not passing (or with output)
// the failure text and the captured sections, as pytest would print them.
import { countsLine, STATUS_SUFFIX } from "../events/outcomes.js";
import { cumulativeSections, type ResultRecord } from "../events/records.js";
import { escapeHtml } from "./escape.js";
import { humanDuration, page } from "./html-shell.js";
import type { TestCase, TestFile } from "./module.js";

/** A file name for a test file's page: unique (by position) and safe. */
export function filePageName(file: TestFile, index: number): string {
  const safe = file.path.replace(/[^A-Za-z0-9._-]+/g, "_");
  return `files/${String(index + 1).padStart(3, "0")}-${safe}.html`;
}

function phaseDetails(phase: ResultRecord): string {
  const parts: string[] = [];
  if (phase.longreprtext) {
    const what = phase.crashed
      ? "crash"
      : phase.when === "call"
        ? "failure"
        : `error in ${phase.when}`;
    parts.push(`<h4>${escapeHtml(what)}</h4><pre>${escapeHtml(phase.longreprtext)}</pre>`);
  }
  if (phase.skip) {
    const [path, line, reason] = phase.skip;
    parts.push(
      `<p class="muted">skipped at ${escapeHtml(`${path}:${line ?? ""}`)}: ${escapeHtml(reason)}</p>`,
    );
  }
  if (phase.xfailReason !== undefined) {
    parts.push(`<p class="muted">xfail: ${escapeHtml(phase.xfailReason || "(no reason)")}</p>`);
  }
  return parts.join("");
}

function testDetails(test: TestCase): string {
  const name = test.nodeid.slice(test.file.length + 2) || test.nodeid;
  const where = test.workerId > 0 ? ` · kw${test.workerId}` : "";
  const summary = `${STATUS_SUFFIX[test.status]} <b>${escapeHtml(name)}</b> <span class="muted">${escapeHtml(test.outcome)}${test.crashed ? " (crashed)" : ""} · ${humanDuration(test.duration)}${where}</span>`;
  const body = test.phases.map(phaseDetails).join("");
  const sections = cumulativeSections(test.phases, test.phases.length - 1);
  const captured = sections
    .map(([title, text]) => `<h4>${escapeHtml(title)}</h4><pre>${escapeHtml(text)}</pre>`)
    .join("");
  if (body === "" && captured === "") {
    return `<details data-status="${test.status}"><summary>${summary}</summary><p class="muted">no output</p></details>`;
  }
  const open = test.status === "failed" || test.status === "error" ? " open" : "";
  return `<details data-status="${test.status}"${open}><summary>${summary}</summary>${body}${captured}</details>`;
}

export function renderFilePage(file: TestFile, runTitle: string): string {
  const title = `${file.path} ${STATUS_SUFFIX[file.status]}`;
  const parts: string[] = [];
  parts.push(`<p><a href="../index.html">← back to the run</a></p>`);
  parts.push(`<p>${escapeHtml(countsLine(file.counts))}</p>`);
  if (file.collectErrors.length > 0) {
    parts.push("<h2>Collection errors</h2>");
    for (const error of file.collectErrors) {
      parts.push(
        `<p><b>${escapeHtml(error.nodeid)}</b></p><pre>${escapeHtml(error.longreprtext)}</pre>`,
      );
    }
  }
  if (file.collectSkips.length > 0) {
    parts.push("<h2>Skipped at collection</h2>");
    for (const skip of file.collectSkips) parts.push(`<pre>${escapeHtml(skip.longrepr)}</pre>`);
  }
  if (file.tests.length > 0) {
    parts.push("<h2>Tests</h2>");
    for (const test of file.tests) parts.push(testDetails(test));
  }
  return page(title, escapeHtml(runTitle), parts.join("\n"));
}
