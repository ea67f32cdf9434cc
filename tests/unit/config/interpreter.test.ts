import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultProbes,
  describeSource,
  type InterpreterInput,
  isExecutableFile,
  isInterpreterError,
  resolveInterpreter,
  which,
} from "../../../src/config/interpreter.js";

/** A fake filesystem of executables and a fake PATH lookup. */
function input(opts: {
  flag?: string;
  env?: Record<string, string | undefined>;
  files?: string[];
  path?: Record<string, string>;
  cwd?: string;
}): InterpreterInput {
  const files = new Set(opts.files ?? []);
  const onPath = opts.path ?? {};
  return {
    ...(opts.flag !== undefined ? { flag: opts.flag } : {}),
    env: opts.env ?? {},
    cwd: opts.cwd ?? "/proj",
    exists: (p) => files.has(p),
    which: (name) => onPath[name],
  };
}

const everything = {
  env: { KILN_PYTHON: "/kiln/python", VIRTUAL_ENV: "/venv" },
  files: ["/flag/python", "/kiln/python", "/venv/bin/python", "/proj/.venv/bin/python"],
  path: { python3: "/usr/bin/python3", "python3.11": "/usr/bin/python3.11" },
};

describe("resolveInterpreter", () => {
  it("prefers --python over everything", () => {
    expect(resolveInterpreter(input({ ...everything, flag: "/flag/python" }))).toEqual({
      path: "/flag/python",
      source: "--python",
    });
  });

  it("then KILN_PYTHON", () => {
    expect(resolveInterpreter(input(everything))).toEqual({
      path: "/kiln/python",
      source: "KILN_PYTHON",
    });
  });

  it("then $VIRTUAL_ENV/bin/python", () => {
    const env = { VIRTUAL_ENV: "/venv" };
    expect(resolveInterpreter(input({ ...everything, env }))).toEqual({
      path: "/venv/bin/python",
      source: "VIRTUAL_ENV",
    });
  });

  it("then ./.venv/bin/python", () => {
    expect(resolveInterpreter(input({ ...everything, env: {} }))).toEqual({
      path: "/proj/.venv/bin/python",
      source: ".venv",
    });
  });

  it("then python3 on PATH", () => {
    expect(resolveInterpreter(input({ path: everything.path }))).toEqual({
      path: "/usr/bin/python3",
      source: "PATH",
    });
  });

  it("treats an empty KILN_PYTHON or VIRTUAL_ENV as unset", () => {
    const env = { KILN_PYTHON: "", VIRTUAL_ENV: "" };
    expect(resolveInterpreter(input({ ...everything, env }))).toEqual({
      path: "/proj/.venv/bin/python",
      source: ".venv",
    });
  });

  it("resolves a relative --python against cwd without following symlinks", () => {
    const result = resolveInterpreter(
      input({ flag: "venv/bin/python", files: ["/proj/venv/bin/python"] }),
    );
    expect(result).toEqual({ path: "/proj/venv/bin/python", source: "--python" });
    expect(
      resolveInterpreter(input({ flag: "../other/python", files: ["/other/python"] })),
    ).toEqual({ path: "/other/python", source: "--python" });
  });

  it("resolves a relative VIRTUAL_ENV against cwd", () => {
    const result = resolveInterpreter(
      input({ env: { VIRTUAL_ENV: "env" }, files: ["/proj/env/bin/python"] }),
    );
    expect(result).toEqual({ path: "/proj/env/bin/python", source: "VIRTUAL_ENV" });
  });

  it("looks up a bare --python name on PATH", () => {
    expect(resolveInterpreter(input({ ...everything, flag: "python3.11" }))).toEqual({
      path: "/usr/bin/python3.11",
      source: "--python",
    });
  });

  it("looks up a bare KILN_PYTHON name on PATH", () => {
    const env = { KILN_PYTHON: "python3.11" };
    expect(resolveInterpreter(input({ ...everything, env }))).toEqual({
      path: "/usr/bin/python3.11",
      source: "KILN_PYTHON",
    });
  });

  describe("errors", () => {
    function errorOf(result: ReturnType<typeof resolveInterpreter>): string {
      if (!isInterpreterError(result)) throw new Error(`expected an error, got ${result.path}`);
      return result.error;
    }

    it("never falls through from a missing --python", () => {
      const error = errorOf(resolveInterpreter(input({ ...everything, flag: "/x/python" })));
      expect(error).toBe("--python /x/python: no such file, or not executable.");
    });

    it("shows both the given and the resolved path for a relative --python", () => {
      const error = errorOf(resolveInterpreter(input({ ...everything, flag: "./py" })));
      expect(error).toBe("--python ./py (/proj/py): no such file, or not executable.");
    });

    it("never falls through from a bare --python name missing on PATH", () => {
      const error = errorOf(resolveInterpreter(input({ ...everything, flag: "python3.99" })));
      expect(error).toBe("--python python3.99: not found on PATH. Give its path instead.");
    });

    it("rejects an empty --python", () => {
      const error = errorOf(resolveInterpreter(input({ ...everything, flag: "" })));
      expect(error).toMatch(/^--python: empty value\. Pass --python PATH or set KILN_PYTHON\.$/);
    });

    it("never falls through from a missing KILN_PYTHON", () => {
      const env = { KILN_PYTHON: "/nope/python", VIRTUAL_ENV: "/venv" };
      const error = errorOf(resolveInterpreter(input({ ...everything, env })));
      expect(error).toBe("KILN_PYTHON=/nope/python: no such file, or not executable.");
      const bare = errorOf(
        resolveInterpreter(input({ ...everything, env: { KILN_PYTHON: "py9" } })),
      );
      expect(bare).toBe("KILN_PYTHON=py9: not found on PATH. Give its path instead.");
    });

    it("lists what was tried when nothing is found", () => {
      const error = errorOf(resolveInterpreter(input({})));
      expect(error).toBe(
        "no Python interpreter found: tried $VIRTUAL_ENV (unset), ./.venv/bin/python (missing), " +
          "python3 on PATH (not found). Pass --python PATH or set KILN_PYTHON.",
      );
    });

    it("names a stale $VIRTUAL_ENV and falls through past it", () => {
      const stale = input({ env: { VIRTUAL_ENV: "/gone" } });
      expect(errorOf(resolveInterpreter(stale))).toContain(
        "$VIRTUAL_ENV (/gone/bin/python missing)",
      );
      const withPath = input({
        env: { VIRTUAL_ENV: "/gone" },
        path: { python3: "/usr/bin/python3" },
      });
      expect(resolveInterpreter(withPath)).toEqual({ path: "/usr/bin/python3", source: "PATH" });
    });
  });
});

describe("describeSource", () => {
  it.each([
    ["--python", "from --python"],
    ["KILN_PYTHON", "from $KILN_PYTHON"],
    ["VIRTUAL_ENV", "from $VIRTUAL_ENV"],
    [".venv", "from ./.venv"],
    ["PATH", "from PATH"],
  ] as const)("%s → %s", (source, text) => {
    expect(describeSource(source)).toBe(text);
  });
});

describe("which", () => {
  const exists = (p: string) => p === "/b/python3" || p === "/c/python3";

  it("returns the first match in PATH order", () => {
    expect(which("python3", "/a:/b:/c", exists)).toBe("/b/python3");
  });

  it("skips empty and relative entries", () => {
    const relative = (p: string) => p === "python3" || p === "bin/python3";
    expect(which("python3", ":bin:.", relative)).toBeUndefined();
  });

  it("returns undefined for an empty PATH", () => {
    expect(which("python3", "", exists)).toBeUndefined();
  });
});

describe("real filesystem probes", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kiln-interp-"));
    await writeFile(join(dir, "exe"), "#!/bin/sh\n");
    await chmod(join(dir, "exe"), 0o755);
    await writeFile(join(dir, "plain"), "");
    await chmod(join(dir, "plain"), 0o644);
    await mkdir(join(dir, "subdir"));
    await symlink(join(dir, "exe"), join(dir, "link"));
    await symlink(join(dir, "missing"), join(dir, "dangling"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("isExecutableFile accepts executables and links to them only", () => {
    expect(isExecutableFile(join(dir, "exe"))).toBe(true);
    expect(isExecutableFile(join(dir, "link"))).toBe(true);
    expect(isExecutableFile(join(dir, "dangling"))).toBe(false);
    expect(isExecutableFile(join(dir, "subdir"))).toBe(false);
    expect(isExecutableFile(join(dir, "missing"))).toBe(false);
    // Even for root: X_OK needs at least one execute bit.
    expect(isExecutableFile(join(dir, "plain"))).toBe(false);
  });

  it("which finds a real executable on a real PATH", () => {
    expect(which("exe", `/nonexistent:${dir}`)).toBe(join(dir, "exe"));
    expect(which("plain", dir)).toBeUndefined();
  });

  it("defaultProbes resolves something on this machine's PATH", () => {
    const probes = defaultProbes();
    expect(probes.exists(join(dir, "exe"))).toBe(true);
    // sh exists on every machine these tests run on.
    expect(probes.which("sh")).toMatch(/\/sh$/);
  });

  it("resolves a real venv-style symlink without resolving it", () => {
    const result = resolveInterpreter({
      ...defaultProbes(),
      flag: join(dir, "link"),
      env: {},
      cwd: dir,
    });
    expect(result).toEqual({ path: join(dir, "link"), source: "--python" });
  });
});
