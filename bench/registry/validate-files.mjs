// Start-up validation of the registry's file index: walk + stat (+ hash when
// the stat changed) over N generated files, cold then warm. Uses the built
// code in dist/ (npm run build first).
// usage: node bench/registry/validate-files.mjs [--files 5000] [--rounds 5]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileIndex } from "../../dist/discovery/file-index.js";
import { walkProject } from "../../dist/discovery/walk.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const files = arg("--files", 5000);
const rounds = arg("--rounds", 5);
const root = mkdtempSync(join(tmpdir(), "kiln-validate-"));
const kiln = join(root, ".kiln");
mkdirSync(kiln);
for (let i = 0; i < files; i++) {
  const dir = join(root, `pkg${Math.floor(i / 100)}`);
  if (i % 100 === 0) {
    mkdirSync(dir);
    writeFileSync(join(dir, "__init__.py"), "");
  }
  writeFileSync(join(dir, `m${i}.py`), `X = ${i}\n${"# padding line\n".repeat(40)}`);
}

function pass() {
  const t0 = performance.now();
  const walk = walkProject(root);
  const index = FileIndex.load(kiln);
  for (const path of walk.sources) index.hash(path);
  index.save();
  return { ms: performance.now() - t0, stats: index.stats, sources: walk.sources.length };
}

const cold = pass();
const warm = [];
for (let r = 0; r < rounds; r++) warm.push(pass());
warm.sort((a, b) => a.ms - b.ms);
const median = warm[Math.floor(warm.length / 2)];
console.log(
  JSON.stringify({
    files: cold.sources,
    coldMs: Math.round(cold.ms),
    coldHashed: cold.stats.hashed,
    warmMedianMs: Math.round(median.ms),
    warmMinMs: Math.round(warm[0].ms),
    warmMaxMs: Math.round(warm[warm.length - 1].ms),
    warmHashed: median.stats.hashed,
    warmReused: median.stats.reused,
  }),
);
rmSync(root, { recursive: true, force: true });
