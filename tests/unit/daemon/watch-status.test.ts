import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ignoredPath } from "../../../src/daemon/watch-files.js";
import {
  finishedLine,
  idleLine,
  KEYS_HINT,
  LiveLine,
  promptLine,
  runningLine,
} from "../../../src/daemon/watch-status.js";
import { emptyCounts } from "../../../src/events/outcomes.js";
import { tempDir } from "../../helpers/temp.js";

const CLEAR = "\r\x1b[2K";

function line(columns = 80) {
  const written: string[] = [];
  const live = new LiveLine(
    (text) => written.push(text),
    () => columns,
  );
  return { live, written };
}

describe("LiveLine", () => {
  it("clears the status before output and draws it again once the output ends its line", () => {
    const { live, written } = line();
    live.set("status");
    live.output("tests/test_a.py ..");
    // Mid-line: the status waits, so the progress dots stay on their line.
    live.output(".   [100%]\n");
    expect(written).toEqual([
      `${CLEAR}status`,
      CLEAR,
      "tests/test_a.py ..",
      ".   [100%]\n",
      `${CLEAR}status`,
    ]);
  });

  it("line() keeps a line above the status, starting a new line if the output had not", () => {
    const { live, written } = line();
    live.output("partial");
    live.line("done");
    live.set(null);
    expect(written).toEqual(["partial", "\ndone\n"]);
  });

  it("cuts the status to the terminal's width (a wrapped line cannot be cleared), a prompt from the left", () => {
    const { live, written } = line(21);
    live.set("0123456789abcdefghijKLMN");
    live.set("p › 0123456789abcdefghijKLMN");
    expect(written).toEqual([
      `${CLEAR}0123456789abcdefghi…`,
      CLEAR,
      `${CLEAR}…56789abcdefghijKLMN`,
    ]);
  });
});

describe("status texts", () => {
  it("says what runs, the counts and the time", () => {
    const counts = { ...emptyCounts(), passed: 3, failed: 1 };
    expect(runningLine("all tests", emptyCounts(), 0.25)).toBe(
      "kiln: watch: running (all tests) · 0.3s",
    );
    expect(runningLine("all tests", counts, 1)).toBe(
      "kiln: watch: running (all tests) · 1 failed, 3 passed · 1.0s",
    );
    expect(finishedLine("changed: src/x.py", counts, 0.42)).toBe(
      "kiln: watch: 1 failed, 3 passed in 0.42s (changed: src/x.py)",
    );
    expect(promptLine("name", "abc")).toBe("kiln: watch: test name -k › abc");
    expect(idleLine({ file: null, name: null })).toBe(KEYS_HINT);
    expect(idleLine({ file: "x", name: "y" })).toBe(
      "kiln: watch: filters: file ~ x, -k y; keys: a f p t Enter q",
    );
  });
});

describe("ignoredPath", () => {
  it("ignores what discovery's walk skips, and nothing else", () => {
    const root = tempDir();
    expect(ignoredPath(root, `${root}/lib/x.py`, false)).toBe(false);
    expect(ignoredPath(root, `${root}/data/values.txt`, false)).toBe(false);
    expect(ignoredPath(root, root, true)).toBe(false);
    for (const skipped of [
      ".git/index",
      ".kiln/x",
      "lib/__pycache__/x.pyc",
      "build/x.py",
      "a.egg/x",
      ".coverage",
    ]) {
      expect(ignoredPath(root, `${root}/${skipped}`, false)).toBe(true);
    }
    expect(ignoredPath(root, "/elsewhere/x.py", false)).toBe(true);
    // A virtual environment, as pytest's _in_venv finds one.
    mkdirSync(join(root, "env"));
    writeFileSync(join(root, "env", "pyvenv.cfg"), "home = /usr/bin\n");
    expect(ignoredPath(root, join(root, "env"), true)).toBe(true);
    expect(ignoredPath(root, join(root, "lib"), true)).toBe(false);
  });
});
