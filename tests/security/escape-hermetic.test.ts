// The escape suite's network, /tmp and PID attempts (marked `hermetic` in
// tests/fixtures/security/escape) under `--isolate hermetic`: namespaces
// alone must contain them. The controls must still work. A test that needs
// the outside network fails, and its error says why.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { breaches, escapeArgs, escapeSession } from "./escape-harness.js";
import { failureText, outcomes } from "./escape-outcomes.js";

const OUTSIDE_NETWORK = "test_needs_network.py::test_fetch_from_the_gateway";

describe("the escape suite under --isolate hermetic", () => {
  const session = escapeSession([escapeArgs("hermetic", "hermetic or control")], {
    // Written into this run's copy only: a test any project might have.
    // 192.0.2.1 is this machine's gateway (a TEST-NET-1 address elsewhere):
    // reachable from the host, not from a namespace with only `lo`.
    planted: (plants) => {
      writeFileSync(
        join(plants.project, "test_needs_network.py"),
        [
          "import socket",
          "",
          "import pytest",
          "",
          "pytestmark = pytest.mark.hermetic",
          "",
          "",
          "def test_fetch_from_the_gateway():",
          "    socket.create_connection(('192.0.2.1', 80), timeout=5).close()",
          "",
        ].join("\n"),
      );
      plants.projectFiles.set("test_needs_network.py", "");
    },
  });

  it("runs the network, /tmp and PID attempts and the controls", () => {
    expect(session.run.stderr).not.toContain("Traceback");
    expect(session.run.items.length, session.run.stdout + session.run.stderr).toBeGreaterThan(15);
    expect(session.run.items).toContain("test_network.py::test_udp_send_to_host_loopback");
    expect(session.run.items).toContain("test_filesystem.py::test_host_tmp_is_not_visible");
    expect(session.run.items).toContain("test_processes.py::test_host_processes_not_visible");
    expect(session.run.items).toContain(OUTSIDE_NETWORK);
  });

  it("refuses each of them, and the controls work", () => {
    const expected = Object.fromEntries(
      session.run.items.map((nodeid) => [nodeid, nodeid === OUTSIDE_NETWORK ? "failed" : "passed"]),
    );
    expect(outcomes(session.run), session.run.stdout).toEqual(expected);
  });

  it("fails a test that needs the outside network, saying why", () => {
    expect(failureText(session.run, OUTSIDE_NETWORK)).toMatch(/Network is unreachable/);
  });

  it("lets nothing reach the servers on the host's loopback", () => {
    const found = breaches(session.plants, session.servers).filter(
      (line) => !line.includes("test_needs_network"),
    );
    expect(found).toEqual([]);
  });

  it("goes on to the end", () => {
    expect(session.run.signal).toBeNull();
    expect(session.run.code).toBe(1);
  });
});
