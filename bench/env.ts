// The environment every timed command gets: the caller's, minus what would
// make the runs unlike a developer's terminal.
const DROPPED = [
  // Real projects have __pycache__ (and pytest's rewritten .pyc files); a
  // warm-up run writes them, this variable would stop it.
  "PYTHONDONTWRITEBYTECODE",
  // Unbuffered stdout turns every terminal-reporter write into a syscall.
  "PYTHONUNBUFFERED",
  // The commands are exactly as printed in the tables.
  "PYTEST_ADDOPTS",
  "PYTEST_XDIST_AUTO_NUM_WORKERS",
  "KILN_PYTHON",
];

export const DROPPED_ENV: readonly string[] = DROPPED;

export function benchEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const name of DROPPED) delete env[name];
  return env;
}
