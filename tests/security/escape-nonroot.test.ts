// The escape suite under `--isolate strict` run by an ordinary user: the
// user-namespace path (an unprivileged process maps only its own uid) and
// limits that bind a non-root uid. Everything the attempts aim at belongs
// to that user (escape-harness.ts plant), so file permissions would let
// each one through: every refusal is the sandbox's.
//
// The user is made here (useradd, no home) when missing and removed again
// by the test that made it.
import { spawnSync } from "node:child_process";
import { chownSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/temp.js";
import { breaches, escapeArgs, escapeSession, type Owner } from "./escape-harness.js";
import {
  failureText,
  KNOWN_GAPS,
  missingReasons,
  outcomeOf,
  outcomes,
  outcomesBesides,
  refusedOutcomes,
} from "./escape-outcomes.js";

const USER = "kiln-escape";
const isRoot = process.getuid?.() === 0;

function lookUp(): Owner | undefined {
  const uid = spawnSync("id", ["-u", USER], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", USER], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

const GAPS: Record<string, string> = KNOWN_GAPS;

describe.skipIf(!isRoot)("the escape suite under --isolate strict as a non-root user", () => {
  let created = false;
  // The fork bomb in a second run of its own: the processes limit is the
  // run's (escape-strict.test.ts says why).
  const session = escapeSession(
    [escapeArgs("strict", "not stackfile and not alone"), escapeArgs("strict", "alone")],
    {
      prepare: () => {
        let found = lookUp();
        if (found === undefined) {
          const add = spawnSync(
            "useradd",
            ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            { encoding: "utf8" },
          );
          if (add.status !== 0) throw new Error(`useradd ${USER} failed: ${add.stderr}`);
          created = true;
          found = lookUp();
        }
        if (found === undefined) throw new Error(`${USER} is missing right after useradd`);
        const tmpdir = tempDir("kiln-escape-user-");
        chownSync(tmpdir, found.uid, found.gid);
        return { owner: found, user: { ...found, tmpdir } };
      },
      cleanup: () => {
        if (created) spawnSync("userdel", [USER]);
      },
    },
  );

  it("runs as that user", () => {
    expect(lookUp()?.uid).not.toBe(0);
    expect(session.run.stderr).not.toContain("Traceback");
    expect(session.run.items.length, session.run.stdout + session.run.stderr).toBeGreaterThan(60);
  });

  it("refuses every attempt", () => {
    expect(outcomesBesides(session.run, GAPS), session.run.stdout).toEqual(
      refusedOutcomes(session.run, GAPS),
    );
    expect(missingReasons(session.run), session.run.stdout).toEqual([]);
  });

  // Flips once fixed: then move the case out of KNOWN_GAPS (escape-outcomes.ts).
  it.fails.for(Object.entries(GAPS))("refuses %s (known gap: %s)", ([nodeid]) => {
    expect(outcomeOf(session.run, nodeid), failureText(session.run, nodeid)).toBe("passed");
  });

  it("stops a fork bomb, alone in its session.run, at the processes limit", () => {
    expect(outcomes(session.runAt(1)), session.runAt(1).stdout).toEqual({
      "test_limits.py::test_fork_bomb": "passed",
    });
  });

  it("lets nothing through to the targets outside", () => {
    expect(breaches(session.plants, session.servers)).toEqual([]);
  });

  it("goes on to the end", () => {
    expect(session.run.signal).toBeNull();
    expect(session.run.code).toBe(1);
  });
});
