// The test Redis servers start through die_with_parent.py so that a vitest
// killed before its afterAll leaves no redis-server behind. Here the starter
// is a shell killed with SIGKILL; the control (no wrapper) shows the command
// would have outlived it.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DIE_WITH_PARENT } from "../../helpers/redis-server.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `sh` that starts `command` in the background, prints its pid and waits. */
async function startUnderShell(command: string): Promise<{ shell: number; child: number }> {
  const shell = spawn("sh", ["-c", `${command} & echo $!; wait`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    shell.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
    shell.once("error", reject);
  });
  return { shell: shell.pid as number, child: Number(line) };
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

describe("die_with_parent.py", () => {
  it("ends the command when its starter is killed with SIGKILL", async () => {
    const { shell, child } = await startUnderShell(`/usr/bin/python3 ${DIE_WITH_PARENT} sleep 300`);
    // The wrapper execs the command: wait until the pid runs `sleep`, so
    // the prctl has been made.
    await waitUntil(() => {
      try {
        return readFileSync(`/proc/${child}/comm`, "utf8").trim() === "sleep";
      } catch {
        return false;
      }
    }, 5000);
    process.kill(shell, "SIGKILL");
    expect(await waitUntil(() => !alive(child), 5000)).toBe(true);
  });

  it("control: without it the command outlives its killed starter", async () => {
    const { shell, child } = await startUnderShell("sleep 300");
    process.kill(shell, "SIGKILL");
    try {
      expect(await waitUntil(() => !alive(child), 500)).toBe(false);
    } finally {
      process.kill(child, "SIGKILL");
    }
  });
});
