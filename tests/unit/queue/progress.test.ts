import { describe, expect, it } from "vitest";
import type { TestProgress } from "../../../src/queue/bull.js";
import { batchReports } from "../../../src/queue/progress.js";

/** A send that records each batch's node ids and resolves when told. */
function recorder() {
  const batches: string[][] = [];
  const finish: (() => void)[] = [];
  const send = (batch: TestProgress[]) => {
    batches.push(batch.map((p) => `${p.nodeid}@${p.attempt}`));
    return new Promise<void>((done) => finish.push(done));
  };
  return { batches, finish, send };
}

const tick = () => new Promise((done) => setImmediate(done));

describe("batchReports", () => {
  it("sends a job's reports as one write once its last test is in, without waiting the window", async () => {
    const { batches, finish, send } = recorder();
    const report = batchReports(send, { nodeids: ["a", "b", "c"], windowMs: 60_000 });
    const sent = [report(1, { nodeid: "a", report: 1 }), report(1, { nodeid: "b", report: 2 })];
    await tick();
    expect(batches).toEqual([]);
    sent.push(report(1, { nodeid: "c", report: 3 }));
    await tick();
    expect(batches).toEqual([["a@1", "b@1", "c@1"]]);
    finish[0]?.();
    await Promise.all(sent);
  });

  it("sends what waited once the window passed, and the next write only after it", async () => {
    const { batches, finish, send } = recorder();
    const report = batchReports(send, { nodeids: ["a", "b", "c"], windowMs: 20 });
    const first = report(2, { nodeid: "a", report: 1 });
    await new Promise((done) => setTimeout(done, 60));
    expect(batches).toEqual([["a@2"]]);
    // The job's last two: due at once, but written after the first write ends.
    const rest = [report(2, { nodeid: "b", report: 2 }), report(2, { nodeid: "c", report: 3 })];
    await tick();
    expect(batches).toEqual([["a@2"]]);
    finish[0]?.();
    await first;
    await tick();
    expect(batches).toEqual([["a@2"], ["b@2", "c@2"]]);
    finish[1]?.();
    await Promise.all(rest);
  });

  it("sends a pytest.exit() and a full burst at once", async () => {
    const { batches, finish, send } = recorder();
    const report = batchReports(send, {
      nodeids: ["a", "b", "c", "d"],
      windowMs: 60_000,
      burst: 2,
    });
    const sent = [report(1, { nodeid: "a", report: 1 }), report(1, { nodeid: "b", report: 2 })];
    await tick();
    expect(batches).toEqual([["a@1", "b@1"]]);
    finish[0]?.();
    sent.push(report(1, { nodeid: "", report: "exit" }));
    await tick();
    expect(batches).toEqual([["a@1", "b@1"], ["@1"]]);
    finish[1]?.();
    await Promise.all(sent);
  });

  it("rejects the reports of a failed write and still sends the next batch", async () => {
    let calls = 0;
    const sentBatches: string[][] = [];
    const send = async (batch: TestProgress[]) => {
      sentBatches.push(batch.map((p) => p.nodeid));
      calls++;
      if (calls === 1) throw new Error("Redis went away");
    };
    const report = batchReports(send, { nodeids: ["a", "b"], windowMs: 1, burst: 1 });
    const a = report(1, { nodeid: "a", report: 1 });
    const b = report(1, { nodeid: "b", report: 2 });
    await expect(a).rejects.toThrow("Redis went away");
    await expect(b).resolves.toBeUndefined();
    expect(sentBatches).toEqual([["a"], ["b"]]);
  });
});
