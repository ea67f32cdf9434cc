// `kiln doctor`: which interpreter Kiln would use, why, and what it can do.
import { execFile } from "node:child_process";
import type { Command } from "commander";
import { detectPlatformFeatures } from "../sandbox/features.js";
import { chooseInterpreter } from "./interpreter-choice.js";
import { KILN_VERSION } from "./version.js";

const PROBE = [
  "import json, platform, sys",
  "info = {'version': platform.python_version(), 'executable': sys.executable}",
  "try:",
  "    import pytest",
  "    info['pytest'] = pytest.__version__",
  "except Exception as e:",
  "    info['pytestError'] = '%s: %s' % (type(e).__name__, e)",
  "try:",
  "    import ctypes, platform as _p",
  "    # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the ABI version, or -1.",
  "    nr = {'x86_64': 444, 'aarch64': 444}.get(_p.machine())",
  "    if nr:",
  "        info['landlockAbi'] = ctypes.CDLL(None, use_errno=True).syscall(nr, None, 0, 1)",
  "except Exception:",
  "    pass",
  "try:",
  "    import xdist",
  "    info['xdist'] = xdist.__version__",
  "except Exception:",
  "    pass",
  "print(json.dumps(info))",
].join("\n");

interface ProbeResult {
  landlockAbi?: number;
  version: string;
  executable: string;
  pytest?: string;
  pytestError?: string;
  xdist?: string;
}

function probe(python: string): Promise<ProbeResult | string> {
  return new Promise((resolve) => {
    execFile(python, ["-c", PROBE], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) {
        resolve(`${python} failed to run: ${stderr.trim() || error.message}`);
        return;
      }
      try {
        resolve(JSON.parse(stdout) as ProbeResult);
      } catch {
        resolve(`${python} printed something unexpected: ${stdout.slice(0, 200)}`);
      }
    });
  });
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("show the interpreter Kiln would use, its pytest, and the platform features")
    .option("--python <path>", "the interpreter to check")
    .action(async (raw: { python?: string }) => {
      process.exitCode = await doctor(raw.python);
    });
}

async function doctor(flag: string | undefined): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`kiln ${KILN_VERSION} on Node ${process.version}`);
  let problems = 0;
  let landlockAbi: number | undefined;
  const choice = chooseInterpreter(flag, process.cwd());
  if (!choice.ok) {
    out(`interpreter: MISSING: ${choice.message}`);
    problems++;
  } else {
    const info = await probe(choice.path);
    if (typeof info === "string") {
      out(`interpreter: ${choice.path} (${choice.how}): BROKEN: ${info}`);
      problems++;
    } else {
      const tooOld = compareVersion(info.version, [3, 9]) < 0;
      out(
        `interpreter: ${choice.path} (${choice.how}) -> Python ${info.version}` +
          (tooOld ? " TOO OLD: Kiln needs Python >= 3.9" : ""),
      );
      if (tooOld) problems++;
      if (info.pytest) {
        out(`pytest: ${info.pytest}`);
      } else {
        out(
          `pytest: MISSING (${info.pytestError}). Install it into ${choice.path} ` +
            "(pip install pytest, or apt-get install python3-pytest for Debian's python3).",
        );
        problems++;
      }
      out(`pytest-xdist (for comparisons only): ${info.xdist ?? "not installed"}`);
      landlockAbi = info.landlockAbi;
    }
  }
  out("platform features:");
  for (const feature of detectPlatformFeatures(landlockAbi)) {
    out(
      `  ${feature.name}: ${feature.available ? "yes" : "no"}${feature.detail ? ` (${feature.detail})` : ""}`,
    );
  }
  return problems === 0 ? 0 : 4;
}

function compareVersion(version: string, min: readonly number[]): number {
  const parts = version.split(".").map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a - b;
  }
  return 0;
}
