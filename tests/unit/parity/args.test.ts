import { describe, expect, it } from "vitest";
import { parseParityArgs, splitArgs, UsageError } from "../../../src/parity/args.js";
import { parseParityFile, parseRequires } from "../../../src/parity/projects.js";

describe("splitArgs", () => {
  it("splits on blanks and honours quotes and escapes", () => {
    expect(splitArgs("")).toEqual([]);
    expect(splitArgs("  -n 4  ")).toEqual(["-n", "4"]);
    expect(splitArgs(`-k "alpha and not slow" -m 'a b'`)).toEqual([
      "-k",
      "alpha and not slow",
      "-m",
      "a b",
    ]);
    expect(splitArgs(`a\\ b "x\\"y" 'c\\d' ""`)).toEqual(["a b", 'x"y', "c\\d", ""]);
    expect(splitArgs(`pre"mid"'post'`)).toEqual(["premidpost"]);
  });

  it("rejects unterminated quotes", () => {
    expect(() => splitArgs(`"abc`)).toThrow(UsageError);
    expect(() => splitArgs(`'abc`)).toThrow(UsageError);
    expect(() => splitArgs("abc\\")).toThrow(UsageError);
  });
});

describe("parseParityArgs", () => {
  it("parses options, projects and extra args", () => {
    const options = parseParityArgs(
      [
        "basic",
        "--python",
        "py3",
        "--kiln-args",
        "-n 2 --timeout 5",
        "--run",
        "default",
        "--",
        "-k",
        "x",
      ],
      {},
    );
    expect(options.projects).toEqual(["basic"]);
    expect(options.python).toBe("py3");
    expect(options.kilnArgs).toEqual(["-n", "2", "--timeout", "5"]);
    expect(options.runNames).toEqual(["default"]);
    expect(options.extraArgs).toEqual(["-k", "x"]);
    expect(options.all).toBe(false);
  });

  it("takes an interpreter path relative to the caller's directory, a bare name from PATH", () => {
    const at = (python: string) =>
      parseParityArgs(["--all", "--python", python], {}, "/repo").python;
    expect(at(".venvs/pytest-9.1/bin/python")).toBe("/repo/.venvs/pytest-9.1/bin/python");
    expect(at("/usr/bin/python3")).toBe("/usr/bin/python3");
    expect(at("python3")).toBe("python3");
    expect(parseParityArgs(["--all"], { KILN_PYTHON: "venv/bin/python" }, "/w").python).toBe(
      "/w/venv/bin/python",
    );
  });

  it("defaults the interpreter to KILN_PYTHON, then /usr/bin/python3", () => {
    expect(parseParityArgs(["--all"], { KILN_PYTHON: "/opt/py" }).python).toBe("/opt/py");
    expect(parseParityArgs(["--all"], {}).python).toBe("/usr/bin/python3");
  });

  it("rejects bad usage", () => {
    expect(() => parseParityArgs([], {})).toThrow(UsageError);
    expect(() => parseParityArgs(["--all", "--bogus"], {})).toThrow(UsageError);
    expect(() => parseParityArgs(["--all", "--python"], {})).toThrow(UsageError);
    expect(() => parseParityArgs(["--all", "--timeout", "0"], {})).toThrow(UsageError);
  });
});

describe("parseParityFile", () => {
  it("reads runs", () => {
    const runs = parseParityFile(
      JSON.stringify({
        runs: [{ name: "default", kiln_args: ["--timeout", "2"], pytest_args: [], exit_code: 1 }],
      }),
    );
    expect(runs).toEqual([
      {
        name: "default",
        kilnArgs: ["--timeout", "2"],
        pytestArgs: [],
        exitCode: 1,
        textExempt: {},
      },
    ]);
  });

  it("rejects malformed runs", () => {
    expect(() => parseParityFile("{}")).toThrow(/runs/);
    const run = { name: "a", kiln_args: [], pytest_args: [], exit_code: 0 };
    expect(() => parseParityFile(JSON.stringify({ runs: [run, run] }))).toThrow(/duplicate/);
    expect(() => parseParityFile(JSON.stringify({ runs: [{ ...run, kiln_args: [1] }] }))).toThrow(
      /kiln_args/,
    );
    expect(() => parseParityFile(JSON.stringify({ runs: [{ ...run, name: "a/b" }] }))).toThrow(
      /name/,
    );
    expect(() => parseParityFile(JSON.stringify({ runs: [{ ...run, exit_code: "1" }] }))).toThrow(
      /exit_code/,
    );
  });
});

describe("parseRequires", () => {
  it("reads the plugin modules a project needs, none by default", () => {
    expect(parseRequires(JSON.stringify({ requires: ["pytest_cov", "xdist"], runs: [] }))).toEqual([
      "pytest_cov",
      "xdist",
    ]);
    expect(parseRequires(JSON.stringify({ runs: [] }))).toEqual([]);
  });

  it("rejects what is not a list of module names", () => {
    expect(() => parseRequires(JSON.stringify({ requires: "pytest_cov" }))).toThrow(/requires/);
    expect(() => parseRequires(JSON.stringify({ requires: ["os; rm -rf"] }))).toThrow(/requires/);
  });
});

describe("parseParityArgs flags", () => {
  it("reads every flag, repeated ones in order", () => {
    const options = parseParityArgs(
      [
        "--all",
        "--kiln-args",
        "-n 2",
        "--kiln-args",
        "-x",
        "--run",
        "a",
        "--run",
        "b",
        "--kiln",
        "cli.js",
        "--baseline-only",
        "--timeout",
        "2.5",
        "-v",
        "-h",
      ],
      {},
    );
    expect(options).toMatchObject({
      all: true,
      projects: [],
      kilnArgs: ["-n", "2", "-x"],
      runNames: ["a", "b"],
      kilnCli: "cli.js",
      baselineOnly: true,
      timeoutSeconds: 2.5,
      verbose: true,
      help: true,
      extraArgs: [],
    });
    expect(parseParityArgs(["--help"], {}).help).toBe(true);
    expect(parseParityArgs(["p", "--verbose"], {}).verbose).toBe(true);
  });

  it("has defaults", () => {
    expect(parseParityArgs(["p"], {})).toMatchObject({
      all: false,
      kilnCli: undefined,
      baselineOnly: false,
      timeoutSeconds: 300,
      verbose: false,
      help: false,
    });
  });

  it("passes everything after the first -- on, flags and a second -- included", () => {
    expect(parseParityArgs(["p", "--", "--all", "-v", "--", "x"], {})).toMatchObject({
      all: false,
      verbose: false,
      extraArgs: ["--all", "-v", "--", "x"],
    });
  });

  it("names the problem", () => {
    expect(() => parseParityArgs(["--all", "--bogus"], {})).toThrow(/unknown option '--bogus'/);
    expect(() => parseParityArgs(["--all", "--run"], {})).toThrow(/--run <name>' argument missing/);
    expect(() => parseParityArgs(["--all", "--timeout", "x"], {})).toThrow(
      "--timeout needs a positive number of seconds, got x",
    );
    expect(() => parseParityArgs(["--all", "--kiln-args", `"a`], {})).toThrow(/unterminated/);
    expect(() => parseParityArgs(["--verbose"], {})).toThrow("give a project directory or --all");
  });
});
