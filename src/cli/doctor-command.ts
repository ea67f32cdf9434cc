// `kiln doctor`: which interpreter Kiln would use, why, and what it can do.
import { execFile } from "node:child_process";
import type { Command } from "commander";
import { harnessArgs } from "../config/harness.js";
import { ExitCode } from "../protocol/exit-codes.js";
import { detectPlatformFeatures } from "../sandbox/features.js";
import { profileLines } from "../sandbox/profiles.js";
import { chooseInterpreter } from "./interpreter-choice.js";
import { KILN_VERSION } from "./version.js";

/** What python/kiln_harness/doctor_probe.py prints. */
interface ProbeResult {
  landlockAbi?: number;
  version: string;
  executable: string;
  /** Older than kiln_harness.boot's MIN_PYTHON: the zygote would refuse it. */
  tooOld: boolean;
  minPython: string;
  pytest?: string;
  pytestError?: string;
  xdist?: string;
  /** Per profile, why it cannot be applied here ([]: it can); python/kiln_harness/sandbox.py probe(). */
  profiles?: Record<string, string[]>;
  profilesError?: string;
}

function probe(python: string): Promise<ProbeResult | string> {
  return new Promise((resolve) => {
    execFile(python, harnessArgs("doctor-probe"), { timeout: 30_000 }, (error, stdout, stderr) => {
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
  let profiles: Record<string, string[]> | undefined;
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
      out(
        `interpreter: ${choice.path} (${choice.how}) -> Python ${info.version}` +
          (info.tooOld ? ` TOO OLD: Kiln needs Python >= ${info.minPython}` : ""),
      );
      if (info.tooOld) problems++;
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
      profiles = info.profiles;
      if (info.profilesError) out(`isolation probe failed: ${info.profilesError}`);
    }
  }
  out("platform features:");
  for (const feature of detectPlatformFeatures(landlockAbi)) {
    out(
      `  ${feature.name}: ${feature.available ? "yes" : "no"}${feature.detail ? ` (${feature.detail})` : ""}`,
    );
  }
  // Not counted as problems: `none` always works, and a profile is only
  // needed when asked for (then `kiln test --isolate` refuses, naming why).
  out("isolation profiles (kiln test --isolate):");
  for (const line of profileLines(profiles)) out(line);
  return problems === 0 ? ExitCode.OK : ExitCode.USAGE_ERROR;
}
