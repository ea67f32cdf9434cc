import { describe, expect, it } from "vitest";
import type { TestProgress } from "../../../src/queue/bull.js";
import { batchReports, readBatch } from "../../../src/queue/progress.js";

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
const ids = (batch: TestProgress[]) => batch.map((p) => `${p.nodeid}@${p.attempt}`);

describe("batchReports", () => {
  it("keeps a job's reports for its completion once its last test is in, without a progress write", async () => {
    const { batches, send } = recorder();
    const reports = batchReports(send, { nodeids: ["a", "b", "c"], windowMs: 60_000 });
    const sent = [
      reports.report(1, { nodeid: "a", report: 1 }),
      reports.report(1, { nodeid: "b", report: 2 }),
      reports.report(1, { nodeid: "c", report: 3 }),
    ];
    await Promise.all(sent);
    const { batch } = await reports.completion();
    expect(ids(batch)).toEqual(["a@1", "b@1", "c@1"]);
    expect(batches).toEqual([]);
    // What the coordinator reads back from the completed event.
    expect(readBatch(JSON.parse(JSON.stringify({ batch })))).toEqual(batch);
  });

  it("sends what waited once the window passed; the completion comes after that write", async () => {
    const { batches, finish, send } = recorder();
    const reports = batchReports(send, { nodeids: ["a", "b", "c"], windowMs: 20 });
    const first = reports.report(2, { nodeid: "a", report: 1 });
    await new Promise((done) => setTimeout(done, 60));
    expect(batches).toEqual([["a@2"]]);
    const rest = [
      reports.report(2, { nodeid: "b", report: 2 }),
      reports.report(2, { nodeid: "c", report: 3 }),
    ];
    let completed: TestProgress[] | undefined;
    void reports.completion().then(({ batch }) => {
      completed = batch;
    });
    await tick();
    // Not before the progress write of "a" is done: the coordinator reads it first.
    expect(completed).toBeUndefined();
    finish[0]?.();
    await Promise.all([first, ...rest]);
    await tick();
    expect(completed === undefined ? [] : ids(completed)).toEqual(["b@2", "c@2"]);
    expect(batches).toEqual([["a@2"]]);
  });

  it("sends a pytest.exit() and a full burst at once, in order", async () => {
    const { batches, finish, send } = recorder();
    const reports = batchReports(send, {
      nodeids: ["a", "b", "c", "d"],
      windowMs: 60_000,
      burst: 2,
    });
    const sent = [
      reports.report(1, { nodeid: "a", report: 1 }),
      reports.report(1, { nodeid: "b", report: 2 }),
    ];
    await tick();
    expect(batches).toEqual([["a@1", "b@1"]]);
    sent.push(reports.report(1, { nodeid: "", report: "exit" }));
    await tick();
    // Written after the batch before it.
    expect(batches).toEqual([["a@1", "b@1"]]);
    finish[0]?.();
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
    const reports = batchReports(send, { nodeids: ["a", "b", "c"], windowMs: 1, burst: 1 });
    const a = reports.report(1, { nodeid: "a", report: 1 });
    const b = reports.report(1, { nodeid: "b", report: 2 });
    await expect(a).rejects.toThrow("Redis went away");
    await expect(b).resolves.toBeUndefined();
    expect(sentBatches).toEqual([["a"], ["b"]]);
  });

  it("reads only well-formed reports from a progress update or a return value", () => {
    expect(readBatch(null)).toEqual([]);
    expect(readBatch({ batch: "no" })).toEqual([]);
    expect(readBatch({ batch: [{ nodeid: "a", attempt: 1, report: {} }, { nodeid: 3 }] })).toEqual([
      { nodeid: "a", attempt: 1, report: {} },
    ]);
  });
});
