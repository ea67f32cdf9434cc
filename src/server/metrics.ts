// /metrics (prom-client, Prometheus text format). A registry of its own, so
// two servers in one process (tests) never share counters.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PoolObserver } from "../pool/pool.js";

export class ExecMetrics implements PoolObserver {
  readonly registry = new Registry();

  /** Every series is labelled with the runtime (native, pyodide): same metrics, either way. */
  constructor(runtime: string) {
    this.registry.setDefaultLabels({ runtime });
  }
  private readonly spawnSeconds = new Histogram({
    name: "kiln_pool_spawn_seconds",
    help: "From asking the zygote to fork to the worker being attached, sandboxed and ready",
    labelNames: ["profile"],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly poolSize = new Gauge({
    name: "kiln_pool_size",
    help: "Idle and starting workers",
    labelNames: ["profile"],
    registers: [this.registry],
  });
  private readonly poolTarget = new Gauge({
    name: "kiln_pool_target",
    help: "Workers the pool aims to hold (Little's law between floor and ceiling)",
    labelNames: ["profile"],
    registers: [this.registry],
  });
  private readonly emptyHits = new Counter({
    name: "kiln_pool_empty_hits_total",
    help: "Requests that found no idle worker and waited for a fork",
    labelNames: ["profile"],
    registers: [this.registry],
  });
  private readonly psiAvailable = new Gauge({
    name: "kiln_psi_available",
    help: "1 when /proc/pressure/cpu exists; 0: pools size from demand alone",
    registers: [this.registry],
  });
  private readonly psiSome = new Gauge({
    name: "kiln_psi_cpu_some_avg10",
    help: "CPU pressure (some avg10, percent) at the last sizing",
    registers: [this.registry],
  });
  readonly execSeconds = new Histogram({
    name: "kiln_exec_duration_seconds",
    help: "Time a request spent on its worker",
    labelNames: ["profile"],
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly limitHits = new Counter({
    name: "kiln_exec_limit_hits_total",
    help: "Requests that hit a limit",
    labelNames: ["limit"],
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: "kiln_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["route", "status"],
    registers: [this.registry],
  });

  spawned(profile: string, seconds: number): void {
    this.spawnSeconds.observe({ profile }, seconds);
  }

  emptyHit(profile: string): void {
    this.emptyHits.inc({ profile });
  }

  sized(profile: string, size: number, target: number, psi: number | null): void {
    this.poolSize.set({ profile }, size);
    this.poolTarget.set({ profile }, target);
    this.psiAvailable.set(psi === null ? 0 : 1);
    if (psi !== null) this.psiSome.set(psi);
  }
}
