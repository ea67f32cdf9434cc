// The suite is not vacuous: without a sandbox (--isolate none, as root) the
// attempts get through, so their tests fail and the harness sees the
// breaches from outside. Left out of this run: the controls, the attempts
// Kiln contains in every profile (marked `anyprofile`: the protocol
// attempts), and the few this machine refuses even to root without any
// sandbox (hostRefusals), which prove nothing here.
import { closeSync, constants, openSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { breaches, escapeArgs, escapeSession } from "./escape-harness.js";
import { outcomes } from "./escape-outcomes.js";

/**
 * A device root cannot open here even without a sandbox (this VM refuses
 * /dev/vda to root: EPERM): its attempt passes under none and proves
 * nothing on this machine, though it does elsewhere.
 */
function hostRefuses(nodeid: string): boolean {
  const device = /^test_syscalls\.py::test_open_device\[(.+)\]$/.exec(nodeid)?.[1];
  if (device === undefined) return false;
  try {
    closeSync(openSync(device, constants.O_RDONLY | constants.O_NONBLOCK));
    return false;
  } catch {
    return true;
  }
}

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("the escape suite without a sandbox", () => {
  const session = escapeSession([
    escapeArgs(
      "none",
      "not control and not anyprofile and not stackfile",
      "--deselect",
      "test_zz_canary.py::test_canary",
    ),
  ]);

  it("collects the attempts", () => {
    expect(session.run.items.length, session.run.stdout + session.run.stderr).toBeGreaterThan(40);
  });

  it("fails every attempt: each one got through", () => {
    const passed = Object.entries(outcomes(session.run))
      .filter(([, outcome]) => outcome === "passed" || outcome === "missing")
      .map(([nodeid]) => nodeid)
      .filter((nodeid) => !hostRefuses(nodeid));
    expect(passed, session.run.stdout).toEqual([]);
  });

  it("sees the breaches from outside", () => {
    const found = breaches(session.plants, session.servers);
    expect(found.join("\n")).toContain("the TCP server got");
    expect(found.join("\n")).toContain("the UDP server got");
    expect(found.join("\n")).toContain("project file");
    expect(found.join("\n")).toContain("$HOME got");
    expect(found.join("\n")).toContain("the outside file changed");
    expect(found.join("\n")).toContain("/etc/kiln-escape-");
  });

  it("the run still finishes: the attempts are bounded", () => {
    expect(session.run.signal).toBeNull();
    expect(session.run.code).toBe(1);
  });
});
