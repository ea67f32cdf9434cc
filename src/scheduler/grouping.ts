// Groups collected items into units of work. A group always runs in one
// worker, in order, so module- and class-scoped fixtures are set up once per
// group, just as in a plain pytest run (the same idea as xdist's loadscope).

export type DistMode = "module" | "class" | "test";

export interface CollectedItem {
  /** Position in the zygote's collected item list. */
  index: number;
  nodeid: string;
}

export interface WorkGroup {
  key: string;
  items: CollectedItem[];
}

/**
 * Group items by `mode`. Groups appear in the order of their first item; each
 * group's items keep their relative order from `items` (collection order),
 * even when pytest_collection_modifyitems interleaved groups.
 * In "test" mode every item is its own group, even if two share a nodeid.
 */
export function groupItems(items: readonly CollectedItem[], mode: DistMode): WorkGroup[] {
  if (mode === "test") {
    return items.map((item) => ({ key: item.nodeid, items: [item] }));
  }
  const keyOf = mode === "module" ? moduleKey : classKey;
  const groups = new Map<string, WorkGroup>();
  for (const item of items) {
    const key = keyOf(item.nodeid);
    const group = groups.get(key);
    if (group) group.items.push(item);
    else groups.set(key, { key, items: [item] });
  }
  return [...groups.values()];
}

/** `dir/t.py::TestA::test_x[p]` → `dir/t.py`. */
export function moduleKey(nodeid: string): string {
  const sep = nodeid.indexOf("::");
  return sep < 0 ? nodeid : nodeid.slice(0, sep);
}

/**
 * `t.py::TestA::test_x` → `t.py::TestA`; `t.py::test_y` → `t.py`;
 * nested classes group by the innermost one (`t.py::A::B::test` → `t.py::A::B`),
 * since each class node gets its own class-scoped fixtures.
 */
export function classKey(nodeid: string): string {
  const file = moduleKey(nodeid);
  if (file.length === nodeid.length) return nodeid;
  const rest = nodeid.slice(file.length + 2);
  // After the file come Python names, which cannot contain "[" or ":"; the
  // first "[" opens the parametrize id, which may contain anything, "::" too.
  const bracket = rest.indexOf("[");
  const names = (bracket < 0 ? rest : rest.slice(0, bracket)).split("::");
  if (names.length < 2) return file;
  return `${file}::${names.slice(0, -1).join("::")}`;
}
