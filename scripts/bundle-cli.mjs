#!/usr/bin/env node
// Bundles the CLI behind main.ts (tsc's dist/cli/program.js and everything it
// imports, zod and commander included) into dist/cli/program.bundle.js plus
// one chunk per dynamic import (each command, the reports, the Redis store).
// Run by `npm run build` after tsc. Why: Node 20 spends ~40 ms of `kiln
// test`'s start-up resolving, reading and linking its 155 ES modules one by
// one; bundled, it loads 18 (measured: `kiln --version` 140 -> 101 ms median
// at load 3.3; BENCHMARKS.md, issue 16: "a bundled entry"). main.ts loads
// the bundle when it exists, else program.js.
//
// Left outside the bundle:
// - better-sqlite3 (a native addon) and redis (loaded only for a redis://
//   store, and slow to load: it must stay a lazy import of node_modules);
// - bullmq: only `kiln test --queue` and `kiln agent` load it (and it
//   brings tslib, which ships no licence file to bundle);
// - fastify and prom-client: only `kiln serve` loads them (issue 13), and
//   fastify's dependency tree has packages without a licence file to bundle;
// - ./signals.js, ./early-zygote.js and ./early-queue.js: main.ts imports
//   them before the bundle, and their state (the signals caught so far, the
//   zygote and queue thread started early) must be the one module instance
//   both sides see.
// Chunks sit next to main.js in dist/cli, so the paths harness.ts and
// version.ts resolve from import.meta.url (../../python, ../../package.json)
// stay right.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "rolldown";

const CLI = resolve(import.meta.dirname, "../dist/cli");
const SHARED_WITH_MAIN = new Set(["./signals.js", "./early-zygote.js", "./early-queue.js"]);
const PACKAGES_OUTSIDE = new Set(["better-sqlite3", "redis", "bullmq", "fastify", "prom-client"]);

// A previous build's chunks have other hashes: remove them all first.
for (const name of readdirSync(CLI)) {
  if (name.startsWith("bundle-") || name.startsWith("program.bundle.")) {
    rmSync(join(CLI, name));
  }
}

const { output } = await build({
  input: { "program.bundle": join(CLI, "program.js") },
  platform: "node",
  external: (id, importer) =>
    PACKAGES_OUTSIDE.has(id) ||
    (SHARED_WITH_MAIN.has(id) && importer !== undefined && resolve(importer, "..") === CLI),
  logLevel: "warn",
  output: {
    dir: CLI,
    format: "esm",
    sourcemap: true,
    chunkFileNames: "bundle-[name]-[hash].js",
    // JSDoc goes (commander's `@typedef { import("./command.js") }` reads as
    // a missing module to package-contents.test.ts); licence comments stay.
    comments: { legal: true, annotation: false, jsdoc: false },
  },
});

// The bundled packages' licences (MIT: the notice goes with every copy).
const packages = new Set();
for (const chunk of output) {
  for (const id of Object.keys(chunk.modules ?? {})) {
    const m = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(id);
    if (m) packages.add(m[1]);
  }
}
const notices = [...packages].sort().map((name) => {
  const dir = resolve(import.meta.dirname, "../node_modules", name);
  const file = ["LICENSE", "LICENSE.md", "LICENCE"].map((f) => join(dir, f)).find(existsSync);
  if (file === undefined) throw new Error(`bundle-cli: no licence file for bundled ${name}`);
  return `${name}\n\n${readFileSync(file, "utf8").trim()}\n`;
});
writeFileSync(
  join(CLI, "program.bundle.licenses.txt"),
  `Packages bundled into program.bundle.js and its bundle-*.js chunks:\n\n${notices.join("\n")}`,
);
