import { describe, expect, it } from "vitest";
import { ImportGraph, importTargets } from "../../../src/discovery/import-graph.js";
import type { ImportRef } from "../../../src/registry/types.js";

function imp(module: string, names?: string[]): ImportRef {
  return {
    module,
    line: 1,
    level: 0,
    conditional: false,
    ...(names === undefined ? {} : { names }),
  };
}

const sorted = (values: Iterable<string>) => [...values].sort();

describe("importTargets", () => {
  it("includes the module and its parent packages", () => {
    expect(importTargets(imp("a.b.c"), () => false)).toEqual(["a", "a.b", "a.b.c"]);
  });

  it("adds submodules named in a from-import when they are modules", () => {
    const modules = new Set(["pkg", "pkg.sub"]);
    expect(importTargets(imp("pkg", ["sub", "func", "*"]), (m) => modules.has(m))).toEqual([
      "pkg",
      "pkg.sub",
    ]);
  });

  it("gives nothing for an unresolvable relative import", () => {
    expect(importTargets(imp("..x", ["y"]), () => true)).toEqual([]);
  });
});

describe("ImportGraph", () => {
  const chain = new ImportGraph({
    a: [imp("b", ["f"])],
    b: [imp("c", ["g"]), imp("os")],
    c: [],
    d: [imp("a")],
  });

  it("lists modules and direct edges", () => {
    expect(sorted(chain.modules)).toEqual(["a", "b", "c", "d"]);
    expect(chain.has("a")).toBe(true);
    expect(chain.has("os")).toBe(false);
    expect(sorted(chain.directImports("b"))).toEqual(["c", "os"]);
    expect(chain.directDependents("c")).toEqual(["b"]);
    expect(chain.directDependents("nothing")).toEqual([]);
  });

  it("gives transitive reverse dependencies", () => {
    expect(sorted(chain.dependents("c"))).toEqual(["a", "b", "d"]);
    expect(sorted(chain.dependents("b"))).toEqual(["a", "d"]);
    expect(sorted(chain.dependents("d"))).toEqual([]);
  });

  it("gives transitive dependencies among project modules only", () => {
    expect(sorted(chain.dependencies("d"))).toEqual(["a", "b", "c"]);
    expect(sorted(chain.dependencies("b"))).toEqual(["c"]);
    expect(sorted(chain.dependencies("c"))).toEqual([]);
  });

  it("finds dependents of modules that are not (or no longer) in the project", () => {
    const graph = new ImportGraph({ a: [imp("pkg.gone")], pkg: [], b: [imp("os.path")] });
    expect(sorted(graph.dependents("pkg.gone"))).toEqual(["a"]);
    expect(sorted(graph.dependents("pkg"))).toEqual(["a"]);
    expect(sorted(graph.dependents("os"))).toEqual(["b"]);
  });

  it("handles cycles without including the start module", () => {
    const graph = new ImportGraph({
      a: [imp("b")],
      b: [imp("c")],
      c: [imp("a")],
      x: [imp("c")],
      self: [imp("self")],
    });
    expect(sorted(graph.dependents("a"))).toEqual(["b", "c", "x"]);
    expect(sorted(graph.dependencies("a"))).toEqual(["b", "c"]);
    expect(sorted(graph.dependents("self"))).toEqual([]);
    expect(graph.cycles()).toEqual([["a", "b", "c"]]);
  });

  it("links from-imports of submodules and parent packages", () => {
    const graph = new ImportGraph(
      new Map<string, ImportRef[]>([
        ["pkg", [imp("pkg.impl", ["run"])]],
        ["pkg.impl", []],
        ["pkg.util", []],
        ["app", [imp("pkg", ["util"])]],
        ["deep", [imp("pkg.impl")]],
      ]),
    );
    expect(sorted(graph.dependents("pkg.util"))).toEqual(["app"]);
    expect(sorted(graph.dependents("pkg.impl"))).toEqual(["app", "deep", "pkg"]);
    expect(sorted(graph.dependencies("deep"))).toEqual(["pkg", "pkg.impl"]);
  });

  it("unions dependents of several changed modules", () => {
    expect(sorted(chain.dependentsOfAll(["c", "d"]))).toEqual(["a", "b"]);
  });

  it("reports no cycles for a DAG and survives a long chain", () => {
    expect(chain.cycles()).toEqual([]);
    const long: Record<string, ImportRef[]> = {};
    for (let i = 0; i < 20_000; i++) long[`m${i}`] = i > 0 ? [imp(`m${i - 1}`)] : [];
    long.m0 = [imp("m19999")];
    const graph = new ImportGraph(long);
    expect(graph.cycles()[0]).toHaveLength(20_000);
    expect(graph.dependents("m0").size).toBe(19_999);
  });
});
