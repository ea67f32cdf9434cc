// `kiln watch`'s decisions, with no I/O: given what happened (files changed,
// the debounce settled, a key was pressed, a run finished), what to do next.
// watch-session.ts feeds it events from chokidar, the terminal and the run,
// and carries out the effects it returns. The keys are jest's and vitest's
// watch-mode keys: `a` all, `f` failed only, `p` file-name filter, `t`
// test-name filter, Enter rerun, `q` quit.

/** What a run covers, before the filters. */
export type RunScope =
  | { kind: "all" }
  /** The tests affected by these files (paths as the watcher gave them). */
  | { kind: "affected"; changed: readonly string[] }
  /** These node ids, from the last finished run. */
  | { kind: "failed"; nodeids: readonly string[] };

export interface Filters {
  /** `p`: a pattern over test file paths (a regex, or a plain substring if not one). */
  file: string | null;
  /** `t`: pytest's `-k` expression. */
  name: string | null;
}

export interface RunPlan {
  scope: RunScope;
  filters: Filters;
}

export type WatchEvent =
  | { type: "start" }
  | { type: "changed"; files: readonly string[] }
  /** The debounce timer fired: no change came for the debounce time. */
  | { type: "settled" }
  | { type: "key"; key: Key }
  /** A run ended; `failed`: the node ids that failed or errored in it. */
  | { type: "finished"; failed: readonly string[] }
  /** SIGINT/SIGTERM to the watch process. */
  | { type: "signal" };

/** A key press, decoded by the terminal edge (watch-keys.ts). */
export type Key =
  | { name: "char"; char: string }
  | { name: "enter" }
  | { name: "escape" }
  | { name: "backspace" }
  | { name: "ctrl-c" };

export type Effect =
  | { type: "run"; plan: RunPlan }
  /** (Re)start the debounce timer; "settled" comes when it fires. */
  | { type: "debounce" }
  /** Show the prompt for a filter with the text typed so far. */
  | { type: "prompt"; filter: "file" | "name"; text: string }
  /** Waiting for changes or keys: show the status and the keys. */
  | { type: "idle" }
  /** One line to tell the user. */
  | { type: "note"; text: string }
  /** Stop the current run: gently the first time, at once (`hard`) after that. */
  | { type: "stop-run"; hard: boolean }
  /** Leave: nothing runs any more. */
  | { type: "exit" };

export class WatchMachine {
  private running = false;
  private debouncing = false;
  private quitting = 0;
  /** Changes not run yet. */
  private readonly pending = new Set<string>();
  /** A run asked for by a key while another was running. */
  private queued: RunPlan | null = null;
  private lastPlan: RunPlan | null = null;
  /** null: no run finished yet. */
  private lastFailed: readonly string[] | null = null;
  private filters: Filters = { file: null, name: null };
  private prompt: { filter: "file" | "name"; text: string } | null = null;

  get currentFilters(): Filters {
    return { ...this.filters };
  }

  get isRunning(): boolean {
    return this.running;
  }

  handle(event: WatchEvent): Effect[] {
    if (this.quitting > 0 && event.type !== "finished" && event.type !== "signal") {
      if (event.type === "key" && event.key.name === "ctrl-c") return this.quit();
      return [];
    }
    switch (event.type) {
      case "start":
        return this.request({ scope: { kind: "all" }, filters: this.currentFilters });
      case "changed":
        for (const file of event.files) this.pending.add(file);
        this.debouncing = true;
        return [{ type: "debounce" }];
      case "settled":
        this.debouncing = false;
        return this.running ? [] : this.next();
      case "key":
        return this.prompt !== null ? this.promptKey(event.key) : this.commandKey(event.key);
      case "finished":
        if (!this.running)
          throw new Error("this is a bug in kiln: a run finished that never began");
        this.running = false;
        this.lastFailed = [...event.failed];
        if (this.quitting > 0) return [{ type: "exit" }];
        return this.next();
      case "signal":
        return this.quit();
    }
  }

  /** After a run or a settled debounce: a queued key's run, else the pending changes. */
  private next(): Effect[] {
    if (this.queued !== null) {
      const plan = this.queued;
      this.queued = null;
      return this.begin(plan);
    }
    if (this.pending.size > 0 && !this.debouncing) {
      const changed = [...this.pending].sort();
      this.pending.clear();
      return this.begin({ scope: { kind: "affected", changed }, filters: this.currentFilters });
    }
    return this.prompt !== null ? [{ type: "prompt", ...this.prompt }] : [{ type: "idle" }];
  }

  private request(plan: RunPlan): Effect[] {
    if (this.running) {
      this.queued = plan;
      return [{ type: "note", text: "queued: it runs when the current run ends" }];
    }
    return this.begin(plan);
  }

  private begin(plan: RunPlan): Effect[] {
    // Running everything covers any change made before it starts.
    if (plan.scope.kind === "all") this.pending.clear();
    this.running = true;
    this.lastPlan = plan;
    return [{ type: "run", plan }];
  }

  private quit(): Effect[] {
    this.quitting++;
    this.prompt = null;
    if (!this.running) return [{ type: "exit" }];
    return [{ type: "stop-run", hard: this.quitting > 1 }];
  }

  private commandKey(key: Key): Effect[] {
    if (key.name === "ctrl-c") return this.quit();
    if (key.name === "enter") {
      const last = this.lastPlan ?? { scope: { kind: "all" }, filters: this.filters };
      return this.request({ scope: last.scope, filters: this.currentFilters });
    }
    if (key.name !== "char") return [];
    switch (key.char) {
      case "q":
        return this.quit();
      case "a":
        return this.request({ scope: { kind: "all" }, filters: this.currentFilters });
      case "f": {
        if (this.lastFailed === null) {
          return [{ type: "note", text: "no run has finished yet: nothing is known to fail" }];
        }
        if (this.lastFailed.length === 0) {
          return [{ type: "note", text: "no test failed in the last run" }];
        }
        const scope: RunScope = { kind: "failed", nodeids: this.lastFailed };
        return this.request({ scope, filters: this.currentFilters });
      }
      case "p":
      case "t": {
        const filter = key.char === "p" ? "file" : "name";
        this.prompt = { filter, text: this.filters[filter] ?? "" };
        return [{ type: "prompt", ...this.prompt }];
      }
      default:
        return [];
    }
  }

  private promptKey(key: Key): Effect[] {
    const prompt = this.prompt;
    if (prompt === null) throw new Error("this is a bug in kiln: a prompt key with no prompt");
    switch (key.name) {
      case "ctrl-c":
        return this.quit();
      case "escape":
        this.prompt = null;
        return this.running ? [] : [{ type: "idle" }];
      case "backspace":
        prompt.text = prompt.text.slice(0, -1);
        return [{ type: "prompt", ...prompt }];
      case "char":
        prompt.text += key.char;
        return [{ type: "prompt", ...prompt }];
      case "enter": {
        // An empty pattern clears the filter. As in vitest, a new filter
        // runs everything it lets through.
        this.prompt = null;
        const text = prompt.text.trim();
        this.filters = { ...this.filters, [prompt.filter]: text === "" ? null : text };
        return this.request({ scope: { kind: "all" }, filters: this.currentFilters });
      }
    }
  }
}

/** The regex a `p` pattern means: itself if it is one, else the text literally. */
export function filePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, "i");
  } catch {
    return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i");
  }
}

/** The test files a `p` filter lets through (paths relative to the rootdir). */
export function filterFiles(files: readonly string[], pattern: string | null): string[] {
  if (pattern === null) return [...files];
  const re = filePattern(pattern);
  return files.filter((file) => re.test(file));
}

/** What a plan says in the status line. */
export function describePlan(plan: RunPlan): string {
  const scope = plan.scope;
  const what =
    scope.kind === "all"
      ? "all tests"
      : scope.kind === "failed"
        ? `failed only (${scope.nodeids.length})`
        : `changed: ${scope.changed.slice(0, 3).join(", ")}${scope.changed.length > 3 ? `, +${scope.changed.length - 3} more` : ""}`;
  const filters = [
    plan.filters.file === null ? "" : `file ~ ${plan.filters.file}`,
    plan.filters.name === null ? "" : `-k ${plan.filters.name}`,
  ].filter((f) => f !== "");
  return filters.length === 0 ? what : `${what}; ${filters.join(", ")}`;
}
