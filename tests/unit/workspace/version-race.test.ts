// Two pushes of the same workspace at once must never get the same version
// (issue 13: "A push is ... never half-visible"; two pushes picking one
// version would publish two different indexes under it). Each push here
// has its own connection to a real store, SQLite file or redis-server, and
// does what `kiln workspace push` does once its modules are compiled:
// allocate a version, then publish the index and the head.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkspaceStore } from "../../../src/workspace/store.js";
import { type RedisServer, startRedisServer } from "../../helpers/redis-server.js";
import { tempDir } from "../../helpers/temp.js";

const PUSHES = 8;

async function concurrentPushes(
  open: () => Promise<WorkspaceStore>,
  pushes: number,
): Promise<number[]> {
  const stores = await Promise.all(Array.from({ length: pushes }, open));
  try {
    return await Promise.all(
      stores.map(async (store) => {
        const version = await store.allocateVersion("demo");
        const index = { name: "demo", version, magic: "m", pushedAt: "now", modules: [] };
        await store.publish(index, new Map());
        return version;
      }),
    );
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

describe("concurrent pushes of one workspace", () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  for (const kind of ["sqlite", "redis"] as const) {
    it(`get distinct versions in ${kind}, and the next push follows them`, async () => {
      const cwd = tempDir(`kiln-ws-race-${kind}-`);
      const spec = kind === "sqlite" ? undefined : redis.url;
      const open = () => WorkspaceStore.open(spec, cwd);
      const versions = await concurrentPushes(open, PUSHES);
      expect([...versions].sort((a, b) => a - b)).toEqual(
        Array.from({ length: PUSHES }, (_, i) => i + 1),
      );
      const [next] = await concurrentPushes(open, 1);
      expect(next).toBe(PUSHES + 1);
      const store = await open();
      try {
        for (const version of versions) {
          expect((await store.index("demo", version))?.version).toBe(version);
        }
      } finally {
        await store.close();
      }
    });
  }
});
