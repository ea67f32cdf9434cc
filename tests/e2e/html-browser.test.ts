// The HTML report in a real browser (Debian's chromium, headless, driven by
// playwright-core): it renders, shows the run's counts and both pictures,
// logs no console errors, fetches nothing but its own files, and makes a
// non-trivial screenshot. Rendered from a golden run, so no Python is needed.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../src/events/manifest.js";
import { BUILTIN_MODULES, renderReports } from "../../src/reports/registry.js";
import { GOLDEN_RUNS } from "../helpers/golden.js";

const CHROMIUM = "/usr/bin/chromium";
const scratch = mkdtempSync(join(tmpdir(), "kiln-browser-"));
let context: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)`);
  }
  // launchPersistentContext passes the fresh --user-data-dir itself.
  context = await chromium.launchPersistentContext(join(scratch, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe("HTML report in headless Chromium", () => {
  it("renders the summary, the pictures and the file pages without errors", async () => {
    const run = join(GOLDEN_RUNS, "basic");
    const out = join(scratch, "reports");
    const html = BUILTIN_MODULES.filter((m) => m.id === "html");
    const result = await renderReports(run, html, out, () => {});
    expect(result.failed).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(run, "manifest.json"), "utf8")) as Manifest;

    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("request", (r) => {
      if (!r.url().startsWith("file://")) problems.push(`network: ${r.url()}`);
    });

    await page.goto(pathToFileURL(join(out, "html", "index.html")).href);
    expect(await page.title()).toBe("Kiln run: basic");
    for (const key of ["passed", "failed", "skipped", "xfailed", "xpassed"] as const) {
      const text = await page.locator(`#counts [data-outcome="${key}"] b`).textContent();
      expect(Number(text), key).toBe(manifest.outcomes[key]);
    }
    const bars = await page.locator("svg#duration-histogram rect").count();
    expect(bars).toBeGreaterThan(3);
    expect(await page.locator("svg#worker-timeline rect").count()).toBeGreaterThan(10);
    const box = await page.locator("svg#duration-histogram").boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(300);
    expect(await page.locator("#directory li").count()).toBe(4);
    expect(await page.locator("#directory").textContent()).toContain("test_math.py ❌");

    const png = await page.screenshot({ fullPage: true });
    writeFileSync(join(scratch, "report.png"), png);
    expect(png.length).toBeGreaterThan(20_000);
    const size = pngSize(png);
    expect(size.width).toBe(1200);
    expect(size.height).toBeGreaterThan(900);

    await page.locator("#directory a", { hasText: "test_math.py" }).click();
    expect(await page.title()).toBe("test_math.py ❌");
    expect(await page.locator('details[data-status="failed"][open]').count()).toBe(5);
    await page.locator("text=back to the run").click();
    expect(await page.title()).toBe("Kiln run: basic");
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
