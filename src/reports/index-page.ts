// index.html of a report directory: one section per module that rendered,
// holding its contributions, its directory entries and links to its files.
// Built only from the modules' outputs, in selection order: deterministic.
import { escapeHtml } from "./escape.js";
import { page } from "./html-shell.js";
import type { ReportModule, ReportOutput } from "./module.js";

export interface RenderedModule {
  module: ReportModule;
  output: ReportOutput;
}

export function renderIndexPage(
  title: string,
  subtitle: string,
  rendered: readonly RenderedModule[],
  failed: readonly { name: string }[],
): string {
  const sections = rendered.map(({ module, output }) => {
    const parts = [`<h2 id="module-${escapeHtml(module.id)}">${escapeHtml(module.name)}</h2>`];
    for (const contribution of output.index ?? []) {
      if (contribution.title !== module.name)
        parts.push(`<h3>${escapeHtml(contribution.title)}</h3>`);
      parts.push(contribution.html);
    }
    const entries = output.entries ?? [];
    if (entries.length > 0) {
      const items = entries
        .map((entry) => {
          const label = escapeHtml(entry.label);
          const inner = entry.href ? `<a href="${escapeHtml(entry.href)}">${label}</a>` : label;
          return `<li data-status="${entry.status}">${inner}</li>`;
        })
        .join("");
      parts.push(`<ul class="dir">${items}</ul>`);
    }
    if ((output.index ?? []).length === 0 && entries.length === 0) {
      const links = output.files
        .map((f) => `<li><a href="${escapeHtml(f.path)}">${escapeHtml(f.path)}</a></li>`)
        .join("");
      parts.push(`<ul>${links}</ul>`);
    }
    return parts.join("\n");
  });
  if (failed.length > 0) {
    const names = failed.map((f) => `<li>${escapeHtml(f.name)}</li>`).join("");
    sections.push(`<h2>Modules that failed</h2><ul>${names}</ul>`);
  }
  return page(title, subtitle, sections.join("\n"));
}
