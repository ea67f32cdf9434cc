import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { daemonSocketPath } from "../../../src/config/kiln-dir.js";
import { idleMinutesFromPyproject, idleSeconds } from "../../../src/daemon/daemon-config.js";
import { tempDir } from "../../helpers/temp.js";

describe("daemon idle timeout", () => {
  it("reads daemon-idle-minutes from [tool.kiln] only", () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "pyproject.toml"),
      '[tool.other]\ndaemon-idle-minutes = 1\n\n[tool.kiln]\nname = "x"\ndaemon-idle-minutes = 5  # comment\n',
    );
    expect(idleMinutesFromPyproject(dir)).toBe("5");
    writeFileSync(join(dir, "pyproject.toml"), "[tool.other]\ndaemon-idle-minutes = 1\n");
    expect(idleMinutesFromPyproject(dir)).toBeUndefined();
    writeFileSync(join(dir, "pyproject.toml"), "tool.kiln.daemon-idle-minutes = 2.5\n");
    expect(idleMinutesFromPyproject(dir)).toBe("2.5");
  });

  it("turns minutes into seconds, 30 minutes by default, and refuses anything else", () => {
    expect(idleSeconds(undefined, "--idle")).toBe(1800);
    expect(idleSeconds("0.5", "--idle")).toBe(30);
    expect(idleSeconds("0", "--idle")).toBe(0);
    expect(idleSeconds("-1", "--idle")).toMatch(/^--idle expects minutes/);
    expect(idleSeconds("", "x")).toMatch(/^x expects minutes/);
    expect(idleSeconds("soon", "x")).toMatch(/got "soon"/);
  });
});

describe("daemon socket path", () => {
  it("is .kiln/daemon.sock when it fits a Unix socket address, else a short path keyed by the rootdir", () => {
    expect(daemonSocketPath("/p", {})).toBe("/p/.kiln/daemon.sock");
    const deep = `/${"d".repeat(120)}`;
    const short = daemonSocketPath(deep, { XDG_RUNTIME_DIR: "/run/user/1" });
    expect(short).toMatch(/^\/run\/user\/1\/kiln-daemon-\d+-[0-9a-f]{16}\.sock$/);
    expect(Buffer.byteLength(short)).toBeLessThanOrEqual(107);
    expect(daemonSocketPath(`${deep}x`, { XDG_RUNTIME_DIR: "/run/user/1" })).not.toBe(short);
  });
});
