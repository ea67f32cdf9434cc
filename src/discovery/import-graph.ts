// The project's import graph (pure): which project modules each module
// imports, and the reverse. The registry uses it to invalidate transitively
// (an edit to c re-checks b, which imports c, and a, which imports b).
//
// Edges, for a module M with ImportRef r:
//   - M -> r.module                     (`import a.b.c`, `from a.b import x`)
//   - M -> every parent package of r.module (importing a.b.c runs a and a.b)
//   - M -> r.module + "." + name        for `from X import name` when that is
//                                        a project module (a submodule import)
// Targets that are not project modules are kept too: dependents("pkg.gone")
// still finds the modules that import a module that no longer exists (or
// does not exist yet), which is what invalidation after a delete or create
// needs. dependencies() lists project modules only.
import type { ImportRef } from "../registry/types.js";

export type ImportMap =
  | ReadonlyMap<string, readonly ImportRef[]>
  | Readonly<Record<string, readonly ImportRef[]>>;

export class ImportGraph {
  private readonly forward = new Map<string, Set<string>>();
  private readonly reverse = new Map<string, Set<string>>();

  constructor(imports: ImportMap) {
    const entries: Iterable<[string, readonly ImportRef[]]> =
      imports instanceof Map
        ? imports.entries()
        : Object.entries(imports as Readonly<Record<string, readonly ImportRef[]>>);
    const table = new Map(entries);
    for (const module of table.keys()) this.forward.set(module, new Set());
    for (const [module, refs] of table) {
      const out = this.forward.get(module) as Set<string>;
      for (const ref of refs) {
        for (const target of importTargets(ref, (name) => table.has(name))) {
          if (target === module) continue;
          out.add(target);
          let back = this.reverse.get(target);
          if (!back) {
            back = new Set();
            this.reverse.set(target, back);
          }
          back.add(module);
        }
      }
    }
  }

  /** The project modules the graph was built from. */
  get modules(): string[] {
    return [...this.forward.keys()];
  }

  has(module: string): boolean {
    return this.forward.has(module);
  }

  /** What `module` imports directly (project modules and external names alike). */
  directImports(module: string): string[] {
    return [...(this.forward.get(module) ?? [])];
  }

  /** Project modules that import `module` directly. */
  directDependents(module: string): string[] {
    return [...(this.reverse.get(module) ?? [])];
  }

  /** Project modules `module` imports, directly or not. Never includes `module` itself. */
  dependencies(module: string): Set<string> {
    return this.reach([module], this.forward, (m) => this.forward.has(m));
  }

  /**
   * Project modules that import `module`, directly or not (transitive reverse
   * dependencies). Never includes `module` itself, even in a cycle.
   */
  dependents(module: string): Set<string> {
    return this.reach([module], this.reverse, () => true);
  }

  /** dependents() of every module in `modules`, minus the modules themselves. */
  dependentsOfAll(modules: Iterable<string>): Set<string> {
    const start = [...modules];
    const found = this.reach(start, this.reverse, () => true);
    for (const module of start) found.delete(module);
    return found;
  }

  /** Strongly connected components with more than one module: the import cycles. */
  cycles(): string[][] {
    // Tarjan's algorithm, iterative (a long chain must not blow the stack).
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const result: string[][] = [];
    let counter = 0;
    for (const root of this.forward.keys()) {
      if (index.has(root)) continue;
      const work: Array<{ node: string; edges: string[]; next: number }> = [];
      const visit = (node: string) => {
        index.set(node, counter);
        low.set(node, counter);
        counter++;
        stack.push(node);
        onStack.add(node);
        work.push({
          node,
          edges: [...(this.forward.get(node) ?? [])].filter((m) => this.forward.has(m)),
          next: 0,
        });
      };
      visit(root);
      while (work.length > 0) {
        const frame = work[work.length - 1] as (typeof work)[number];
        if (frame.next < frame.edges.length) {
          const target = frame.edges[frame.next++] as string;
          if (!index.has(target)) {
            visit(target);
          } else if (onStack.has(target)) {
            low.set(
              frame.node,
              Math.min(low.get(frame.node) as number, index.get(target) as number),
            );
          }
          continue;
        }
        work.pop();
        const parent = work[work.length - 1];
        if (parent) {
          low.set(
            parent.node,
            Math.min(low.get(parent.node) as number, low.get(frame.node) as number),
          );
        }
        if (low.get(frame.node) === index.get(frame.node)) {
          const component: string[] = [];
          for (;;) {
            const member = stack.pop() as string;
            onStack.delete(member);
            component.push(member);
            if (member === frame.node) break;
          }
          if (component.length > 1) result.push(component.sort());
        }
      }
    }
    return result;
  }

  private reach(
    start: readonly string[],
    edges: ReadonlyMap<string, ReadonlySet<string>>,
    keep: (module: string) => boolean,
  ): Set<string> {
    const seen = new Set<string>(start);
    const found = new Set<string>();
    const queue = [...start];
    for (let head = 0; head < queue.length; head++) {
      const current = queue[head] as string;
      for (const next of edges.get(current) ?? []) {
        if (seen.has(next)) continue;
        seen.add(next);
        if (keep(next)) found.add(next);
        queue.push(next);
      }
    }
    return found;
  }
}

/** The modules one import statement makes its module depend on. */
export function importTargets(ref: ImportRef, isModule: (name: string) => boolean): string[] {
  // An unresolvable relative import ("..x") names no module.
  if (ref.module === "" || ref.module.startsWith(".")) return [];
  const targets: string[] = [];
  const parts = ref.module.split(".");
  for (let i = 1; i <= parts.length; i++) targets.push(parts.slice(0, i).join("."));
  for (const name of ref.names ?? []) {
    if (name === "*") continue;
    const sub = `${ref.module}.${name}`;
    if (isModule(sub)) targets.push(sub);
  }
  return targets;
}
