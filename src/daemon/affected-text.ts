// What the affected-test selection says (pure): the header line of a
// `--changed`/`--affected-by` run and `kiln why`'s chains.
import type { Link, Selection } from "./affected.js";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `kiln: --changed HEAD: 3 files changed, 2 of 40 test files selected` */
export function selectionLine(
  label: string,
  changed: number,
  selection: Selection,
  testFiles: number,
): string {
  // Kiln's own state (.kiln/, caches) is no change of the user's: not counted.
  const state = selection.ignored.filter((i) => i.rule === "tool state").length;
  const ignored = selection.ignored.length - state;
  const changes = `${plural(changed - state, "file")} changed${ignored > 0 ? ` (${ignored} ignored by watch-ignore)` : ""}`;
  if (selection.all !== null) {
    return (
      `kiln: ${label}: ${changes}, all ${plural(testFiles, "test file")} selected ` +
      `(${selection.all.file}: ${selection.all.why})`
    );
  }
  return `kiln: ${label}: ${changes}, ${selection.selected.size} of ${plural(testFiles, "test file")} selected`;
}

/** `tests/test_a.py -> imports app/models.py -> imports app/util.py (changed)` */
export function chainText(chain: readonly Link[]): string {
  return chain
    .map((link, i) => {
      const step = i === 0 ? link.file : `${link.how ?? "because of"} ${link.file}`;
      return i === chain.length - 1 && i > 0 ? `${step} (changed)` : step;
    })
    .join(" -> ");
}
