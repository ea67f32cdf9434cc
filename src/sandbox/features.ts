// What the kernel offers Kiln's isolation profiles (DESIGN.md section 4),
// read from procfs/sysfs without side effects.
import { existsSync, readFileSync } from "node:fs";

export interface PlatformFeature {
  name: string;
  available: boolean;
  detail?: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * @param landlockAbi what landlock_create_ruleset(..., VERSION) returned in
 * the interpreter (the kernel's word, more reliable than securityfs, which
 * is often not mounted in containers); undefined when not probed.
 */
export function detectPlatformFeatures(landlockAbi?: number): PlatformFeature[] {
  const lsm = read("/sys/kernel/security/lsm")?.trim();
  const userns = read("/proc/sys/user/max_user_namespaces")?.trim();
  const seccomp = read("/proc/self/status")?.match(/^Seccomp:\s*(\d+)/m)?.[1];
  const controllers = read("/sys/fs/cgroup/cgroup.controllers")?.trim();
  return [
    { name: "fork", available: process.platform !== "win32", detail: process.platform },
    {
      name: "user namespaces",
      available: userns !== undefined && userns !== "0",
      ...(userns === undefined ? {} : { detail: `max_user_namespaces=${userns}` }),
    },
    landlockAbi !== undefined
      ? {
          name: "landlock",
          available: landlockAbi > 0,
          detail: landlockAbi > 0 ? `ABI version ${landlockAbi}` : "landlock_create_ruleset failed",
        }
      : {
          name: "landlock",
          available: lsm?.split(",").includes("landlock") ?? false,
          detail: lsm ?? "cannot read /sys/kernel/security/lsm",
        },
    {
      name: "seccomp",
      available: seccomp !== undefined || existsSync("/proc/sys/kernel/seccomp"),
      ...(seccomp === undefined ? {} : { detail: `mode of this process: ${seccomp}` }),
    },
    {
      name: "cgroup v2",
      available: controllers !== undefined,
      ...(controllers === undefined
        ? {}
        : { detail: `controllers: ${controllers || "none delegated"}` }),
    },
  ];
}
