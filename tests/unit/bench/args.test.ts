import { describe, expect, it } from "vitest";
import { ArgsError, parseArgs } from "../../../bench/args.js";

describe("bench parseArgs", () => {
  it("defaults to every suite, their own rounds, the default interpreter", () => {
    expect(parseArgs([])).toEqual({
      suites: [],
      rounds: undefined,
      quick: false,
      python: undefined,
      help: false,
    });
  });

  it("reads suites and flags in any order", () => {
    expect(
      parseArgs(["small", "--rounds", "3", "--quick", "large", "--python", "/py", "-h"]),
    ).toEqual({ suites: ["small", "large"], rounds: 3, quick: true, python: "/py", help: true });
    expect(parseArgs(["--help"]).help).toBe(true);
  });

  it("rejects bad usage", () => {
    for (const argv of [
      ["--rounds", "0"],
      ["--rounds", "2.5"],
      ["--rounds", "-1"],
      ["--rounds"],
      ["--python"],
      ["--bogus"],
    ]) {
      expect(() => parseArgs(argv), argv.join(" ")).toThrow(ArgsError);
    }
    expect(() => parseArgs(["--rounds", "x"])).toThrow("--rounds expects a positive integer");
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown option '--bogus'/);
  });
});
