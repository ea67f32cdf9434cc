// The isolation profiles of DESIGN.md section 4 as data: their names, what
// each needs from the kernel, and the strict profile's default limits. Pure;
// the Python side (python/kiln_harness/sandbox.py) applies them.
import type { z } from "zod";
import type { isolationLimits, isolationProfile } from "../protocol/schema.js";

export type IsolationProfile = z.infer<typeof isolationProfile>;
export type IsolationLimits = z.infer<typeof isolationLimits>;

export const PROFILES: readonly IsolationProfile[] = ["none", "hermetic", "strict"];

export const PROFILE_SUMMARY: Readonly<Record<IsolationProfile, string>> = {
  none: "a forked process per worker (crash containment)",
  hermetic: "+ user, network (loopback only), mount (private /tmp), IPC, UTS and PID namespaces",
  strict: "+ Landlock (filesystem, TCP, signals), seccomp, rlimits",
};

/**
 * The strict profile's limits when [tool.kiln.limits] says nothing, as
 * strict as Judge0's (CPU 5 s, 60 processes, 1 MiB files) except memory:
 * Judge0's 128 MB bounds resident memory (a cgroup), while RLIMIT_AS bounds
 * the address space. Measured in a strict pytest worker (VmPeak, pytest
 * 7.2 / 8.4 / 9.1): 35-55 MB with no thread, 250-260 MB once one thread ran
 * (faulthandler's --timeout watchdog is one), since its 8 MiB stack and
 * glibc's 64 MiB per-thread malloc arena count while resident memory stays
 * ~30 MB. 128 MB of address space could not run pytest; 1024 MB leaves a
 * test ~750 MB to allocate.
 * fileSizeMb includes what a test prints: pytest captures output in a temp
 * file, as Judge0's isolate writes stdout to a file in its box.
 * cpuSeconds bounds a worker process (RLIMIT_CPU), not a single test: a
 * worker runs a group, and a test cannot be given a fresh budget without
 * letting it raise its own (the hard limit never goes back up). When it is
 * exceeded the running test fails with SIGXCPU and the rest of the group
 * continues in a fresh worker with a fresh budget.
 * tmpMb sizes the private /tmp (and /dev/shm) tmpfs: without size= a tmpfs
 * may take half the RAM, its pages are nobody's address space (RLIMIT_AS)
 * and RLIMIT_FSIZE bounds one file only, so many files could fill the
 * machine's memory. Shared by the run's workers, as a disk quota would be.
 * processes is what tests may start, shared by the run's workers
 * (RLIMIT_NPROC counts per user; python/kiln_harness/sandbox.py adds room
 * for the run's own tasks); for root, whom RLIMIT_NPROC does not bind, the
 * PID namespace's pid_max bounds it.
 */
export const STRICT_DEFAULT_LIMITS: Readonly<IsolationLimits> = {
  addressSpaceMb: 1024,
  processes: 60,
  fileSizeMb: 1,
  openFiles: 256,
  cpuSeconds: 5,
  tmpMb: 256,
};

/** [tool.kiln.limits] key -> the protocol's field. */
export const LIMIT_KEYS: Readonly<Record<string, keyof IsolationLimits>> = {
  address_space_mb: "addressSpaceMb",
  processes: "processes",
  file_size_mb: "fileSizeMb",
  open_files: "openFiles",
  cpu_seconds: "cpuSeconds",
  tmp_mb: "tmpMb",
  memory_mb: "memoryMb",
  pids: "pids",
};

export class ProfileError extends Error {}

/** A profile name from `--isolate` or `[tool.kiln] isolate`. */
export function parseProfile(value: string, source: string): IsolationProfile {
  const found = PROFILES.find((profile) => profile === value);
  if (found === undefined) {
    throw new ProfileError(
      `${source}: unknown isolation profile ${JSON.stringify(value)}; ` +
        `choose one of ${PROFILES.join(", ")}`,
    );
  }
  return found;
}

/**
 * The profile in effect (the flag wins over the config, "none" by default)
 * and its limits: the strict defaults overridden key by key by the config's.
 * Limits apply to strict only; hermetic has none (its namespaces are the point).
 */
export function resolveIsolation(
  flag: IsolationProfile | undefined,
  configured: IsolationProfile | undefined,
  configuredLimits: IsolationLimits,
): { profile: IsolationProfile; limits: IsolationLimits } {
  const profile = flag ?? configured ?? "none";
  const limits = profile === "strict" ? { ...STRICT_DEFAULT_LIMITS, ...configuredLimits } : {};
  return { profile, limits };
}

/** One `kiln doctor` line per profile: usable here, or why not. */
export function profileLines(
  unavailable: Readonly<Record<string, string[]>> | undefined,
): string[] {
  return PROFILES.map((profile) => {
    if (profile === "none") return `  none: yes (${PROFILE_SUMMARY.none})`;
    const reasons = unavailable?.[profile];
    if (reasons === undefined) return `  ${profile}: unknown (the interpreter could not be probed)`;
    if (reasons.length === 0) return `  ${profile}: yes (${PROFILE_SUMMARY[profile]})`;
    return `  ${profile}: no: ${reasons.join("; ")}`;
  });
}
