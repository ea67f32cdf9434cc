import { describe, expect, it } from "vitest";
import {
  crashMessage,
  describeDeath,
  signalName,
  timeoutMessage,
} from "../../../src/zygote/crash-message.js";

const death = { workerId: 2, pid: 4242, exitCode: null, signal: 11 };

describe("crash messages", () => {
  it("names signals the way the kernel does", () => {
    expect(signalName(11)).toBe("SIGSEGV");
    expect(signalName(9)).toBe("SIGKILL");
    expect(signalName(250)).toBe("signal 250");
  });

  it("describes a signal death and an exit status", () => {
    expect(describeDeath(death)).toBe("killed by signal 11 (SIGSEGV)");
    expect(describeDeath({ ...death, signal: null, exitCode: 3 })).toMatch(/exited with status 3/);
  });

  it("says which worker crashed under which test and what happens next", () => {
    const text = crashMessage("t.py::test_x", death);
    expect(text).toContain("kw2 (pid 4242) crashed while running t.py::test_x");
    expect(text).toContain("continues in a fresh worker");
  });

  it("puts the faulthandler stack under a timeout, or says there was none", () => {
    const stack = 'Thread 0x1 (most recent call first):\n  File "t.py", line 3 in test_x\n';
    const withStack = timeoutMessage("t.py::test_x", 2, death, stack);
    expect(withStack).toMatch(/^Failed: Timeout >2s: t\.py::test_x/);
    expect(withStack).toContain('File "t.py", line 3 in test_x');
    expect(timeoutMessage("t.py::test_x", 2, death, "")).toContain("no stack could be dumped");
  });
});
