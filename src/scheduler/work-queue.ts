// Hands groups to workers as they ask for work. Pull-based: a worker that
// finishes early simply takes the next group, which together with
// longest-first ordering keeps all workers busy until the end.
import type { CollectedItem, WorkGroup } from "./grouping.js";

export class WorkQueue {
  // Reversed, so next() pops from the end and requeueFront() pushes there:
  // both O(1).
  private readonly stack: WorkGroup[];
  // Key of the group each dispatched item came from, so a requeued remainder
  // keeps its group's key (reports and logs name the module/class).
  private readonly dispatchedKey = new Map<number, string>();
  private items = 0;
  private halted = false;

  constructor(groups: readonly WorkGroup[]) {
    this.stack = groups.filter((g) => g.items.length > 0).reverse();
    for (const group of this.stack) this.items += group.items.length;
  }

  /** The next group to run, or undefined when the queue is empty or stopped. */
  next(): WorkGroup | undefined {
    if (this.halted) return undefined;
    const group = this.stack.pop();
    if (!group) return undefined;
    this.items -= group.items.length;
    for (const item of group.items) this.dispatchedKey.set(item.index, group.key);
    return group;
  }

  /**
   * Put the unfinished rest of a crashed worker's group back at the front, as
   * one group, so it runs next and in its original order. Ignored after stop().
   */
  requeueFront(items: readonly CollectedItem[]): void {
    if (this.halted || items.length === 0) return;
    const first = items[0] as CollectedItem;
    const key = this.dispatchedKey.get(first.index) ?? first.nodeid;
    this.stack.push({ key, items: [...items] });
    this.items += items.length;
  }

  /**
   * Stop handing out work (-x / --maxfail). Returns the groups that were never
   * dispatched, so the caller can report them as not run.
   */
  stop(): WorkGroup[] {
    this.halted = true;
    this.items = 0;
    return this.stack.splice(0).reverse();
  }

  get stopped(): boolean {
    return this.halted;
  }

  /** Items waiting in the queue (not yet handed to a worker). */
  get remaining(): number {
    return this.items;
  }
}
