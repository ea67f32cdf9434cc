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

  // `ls`'s list was read, changed and written back by each push: two
  // pushes of different names at once kept only the last writer's list.
  for (const kind of ["sqlite", "redis"] as const) {
    it(`keeps every name in ${kind} when different workspaces are pushed and removed at once`, async () => {
      const cwd = tempDir(`kiln-ws-names-${kind}-`);
      const spec = kind === "sqlite" ? undefined : redis.url;
      const open = () => WorkspaceStore.open(spec, cwd);
      const names = Array.from({ length: 16 }, (_, i) => `ws${String(i).padStart(2, "0")}`);
      const stores = await Promise.all(names.map(open));
      try {
        await Promise.all(
          stores.map(async (store, i) => {
            const name = names[i] ?? "";
            const version = await store.allocateVersion(name);
            await store.publish(
              { name, version, magic: "m", pushedAt: "now", modules: [] },
              new Map(),
            );
          }),
        );
        // (The redis-server is shared with the test above: its "demo" is left out.)
        const listed = async (store: WorkspaceStore | undefined) =>
          (await store?.names())?.filter((name) => name.startsWith("ws"));
        expect(await listed(stores[0])).toEqual(names);
        // Half removed at once, from as many clients: the other half stay.
        await Promise.all(
          stores.filter((_, i) => i % 2 === 0).map((s, i) => s.remove(names[2 * i] ?? "")),
        );
        expect(await listed(stores[1])).toEqual(names.filter((_, i) => i % 2 === 1));
        // The store's own stats still read (a set is not a string entry).
        await expect(stores[1]?.store.stats()).resolves.toMatchObject({ corrupted: 0 });
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  }
});
