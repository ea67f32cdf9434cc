// pytest's rootdir, worked out the way pytest does it
// (_pytest/config/findpaths.py: determine_setup, locate_config,
// get_common_ancestor, get_dirs_from_args), before pytest runs: the module
// registry walks the project while the zygote is still importing pytest, and
// it must walk (and keep its store under) the same directory pytest will call
// its rootdir, wherever `kiln test` is started from.
//
// The rules that changed across pytest versions are keyed on the version:
// pyproject.toml without a pytest table becomes a rootdir candidate in 8.1;
// pytest.toml, .pytest.toml, a [tool.pytest] table and an empty .pytest.ini
// count from 9.0. The zygote checks the result against the real
// `config.rootpath` before any conftest is imported
// (kiln_harness/pytest_bridge.py), so a case this port gets wrong costs the
// registry for that run, never correctness.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, parse, resolve, sep } from "node:path";
import { parse as parseToml } from "smol-toml";
import { isTable } from "./pyproject-kiln.js";

/** pytest options that take a value (pytest 7.2-9.1, builtin plugins). */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  "--assert",
  "--basetemp",
  "--capture",
  "--code-highlight",
  "--color",
  "--confcutdir",
  "--config-file",
  "--deselect",
  "--doctest-glob",
  "--doctest-report",
  "--durations",
  "--durations-min",
  "--ignore",
  "--ignore-glob",
  "--import-mode",
  "--junit-prefix",
  "--junit-xml",
  "--junitprefix",
  "--junitxml",
  "--last-failed-no-failures",
  "--lfnf",
  "--log-auto-indent",
  "--log-cli-date-format",
  "--log-cli-format",
  "--log-cli-level",
  "--log-date-format",
  "--log-disable",
  "--log-file",
  "--log-file-date-format",
  "--log-file-format",
  "--log-file-level",
  "--log-file-mode",
  "--log-format",
  "--log-level",
  "--max-warnings",
  "--maxfail",
  "--override-ini",
  "--pastebin",
  "--pdbcls",
  "--pythonwarnings",
  "--report-chars",
  "--rootdir",
  "--show-capture",
  "--tb",
  "--verbosity",
  "-W",
  "-c",
  "-k",
  "-m",
  "-o",
  "-p",
  "-r",
]);
/** Options whose value is optional (argparse nargs="?"). */
export const OPTIONAL_VALUE_OPTIONS: ReadonlySet<string> = new Set(["--cache-show", "--debug"]);

export interface RootdirInput {
  /** The invocation directory (pytest's `invocation_params.dir`). */
  cwd: string;
  /** pytest's arguments as given (Kiln's own flags removed). */
  args: readonly string[];
  /** For PYTEST_ADDOPTS, which pytest prepends before finding its rootdir. */
  env: NodeJS.ProcessEnv;
  /** "9.1.1"; undefined: assume the newest rules. */
  pytestVersion?: string;
}

interface ParsedArgs {
  positional: string[];
  inifile: string | undefined;
  rootdir: string | undefined;
}

export function pytestRootdir(input: RootdirInput): string {
  const version = parseVersion(input.pytestVersion);
  const addopts = input.env.PYTEST_ADDOPTS ?? "";
  const args = [...shellSplit(addopts), ...input.args];
  const parsed = parseArgs(args);
  const cwd = resolve(input.cwd);
  const rules = new ConfigRules(version);
  let rootdir: string | undefined;
  if (parsed.inifile) {
    if (parsed.rootdir === undefined) rootdir = dirname(resolve(cwd, parsed.inifile));
  } else {
    const dirs = dirsFromArgs(cwd, parsed.positional);
    const ancestor = commonAncestor(cwd, dirs);
    rootdir = rules.locate(cwd, [ancestor]);
    if (rootdir === undefined && parsed.rootdir === undefined) {
      rootdir = ancestors(ancestor).find((dir) => isFile(join(dir, "setup.py")));
      if (rootdir === undefined) {
        if (!(dirs.length === 1 && dirs[0] === ancestor)) rootdir = rules.locate(cwd, dirs);
        if (rootdir === undefined) {
          rootdir = commonAncestor(cwd, [cwd, ancestor]);
          if (parse(rootdir).root === rootdir) rootdir = ancestor;
        }
      }
    }
  }
  if (parsed.rootdir) rootdir = resolve(cwd, expandVars(parsed.rootdir, input.env));
  if (rootdir === undefined) throw new Error("this is a bug in kiln: no rootdir determined");
  return rootdir;
}

function parseVersion(version: string | undefined): [number, number] {
  const match = version === undefined ? null : /^(\d+)\.(\d+)/.exec(version);
  if (match === null) return [Number.POSITIVE_INFINITY, 0];
  return [Number(match[1]), Number(match[2])];
}

/** What pytest's argparse would leave as file_or_dir, -c and --rootdir. */
export function parseArgs(args: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], inifile: undefined, rootdir: undefined };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      out.positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      out.positional.push(arg);
      continue;
    }
    let name = arg;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      name = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (!arg.startsWith("--") && arg.length > 2 && VALUE_OPTIONS.has(arg.slice(0, 2))) {
      name = arg.slice(0, 2); // -kexpr, -rA, -cfile
      value = arg.slice(2);
    }
    if (value === undefined && VALUE_OPTIONS.has(name)) {
      value = args[i + 1];
      i++;
    } else if (value === undefined && OPTIONAL_VALUE_OPTIONS.has(name)) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith("-")) i++;
    }
    if (value === undefined) continue;
    if (name === "-c" || name === "--config-file") out.inifile = value;
    else if (name === "--rootdir") out.rootdir = value;
  }
  return out;
}

/** get_dirs_from_args: existing paths (node ids cut at "::"), files as their directory. */
function dirsFromArgs(cwd: string, positional: readonly string[]): string[] {
  const dirs: string[] = [];
  for (const arg of positional) {
    const path = resolve(cwd, arg.split("::")[0] as string);
    let st: import("node:fs").Stats;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    dirs.push(st.isDirectory() ? path : dirname(path));
  }
  return dirs;
}

/** get_common_ancestor. */
function commonAncestor(cwd: string, paths: readonly string[]): string {
  let common: string | undefined;
  for (const path of paths) {
    if (!existsSync(path)) continue;
    if (common === undefined) common = path;
    else common = sharedPath(common, path);
  }
  if (common === undefined) return cwd;
  return isFile(common) ? dirname(common) : common;
}

function sharedPath(a: string, b: string): string {
  const left = a.split(sep);
  const right = b.split(sep);
  let n = 0;
  while (n < left.length && n < right.length && left[n] === right[n]) n++;
  const joined = left.slice(0, n).join(sep);
  return joined === "" ? sep : joined;
}

function ancestors(dir: string): string[] {
  const out = [dir];
  let current = dir;
  while (dirname(current) !== current) {
    current = dirname(current);
    out.push(current);
  }
  return out;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** locate_config and load_config_dict_from_file, for one pytest version. */
class ConfigRules {
  private readonly names: string[];
  private readonly pyprojectFallback: boolean;
  private readonly v9: boolean;

  constructor([major, minor]: [number, number]) {
    this.v9 = major >= 9;
    this.pyprojectFallback = major > 8 || (major === 8 && minor >= 1);
    const common = ["pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"];
    this.names = this.v9 ? ["pytest.toml", ".pytest.toml", ...common] : common;
  }

  locate(cwd: string, args: readonly string[]): string | undefined {
    const paths = args.length > 0 ? args : [cwd];
    let pyproject: string | undefined;
    for (const arg of paths) {
      for (const base of ancestors(isAbsolute(arg) ? arg : resolve(cwd, arg))) {
        for (const name of this.names) {
          const path = join(base, name);
          if (!isFile(path)) continue;
          if (name === "pyproject.toml" && pyproject === undefined) pyproject = base;
          if (this.isConfig(path, name)) return base;
        }
      }
    }
    return this.pyprojectFallback ? pyproject : undefined;
  }

  private isConfig(path: string, name: string): boolean {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return false;
    }
    if (name === "pytest.toml" || name === ".pytest.toml") return true;
    if (name.endsWith(".ini")) {
      const sections = iniSections(text);
      if (sections.has("pytest")) return true;
      return name === "pytest.ini" || (this.v9 && name === ".pytest.ini");
    }
    if (name === "setup.cfg") {
      // A [pytest] section there makes pytest fail (#3086), at this rootdir.
      const sections = iniSections(text);
      return sections.has("tool:pytest") || sections.has("pytest");
    }
    return this.tomlHasPytest(text);
  }

  /**
   * [tool.pytest.ini_options]; from pytest 9 also a non-empty [tool.pytest]
   * (_pytest/config/findpaths.py). A file that is not valid TOML is no
   * candidate here: pytest itself then fails with the parse error.
   */
  private tomlHasPytest(text: string): boolean {
    let document: Record<string, unknown>;
    try {
      // Big integers as tomllib reads them (Python ints), not a parse error.
      document = parseToml(text, { integersAsBigInt: "asNeeded" });
    } catch {
      return false;
    }
    const tool = document.tool;
    const pytest = isTable(tool) ? tool.pytest : undefined;
    if (!isTable(pytest)) return false;
    if (isTable(pytest.ini_options)) return true;
    return this.v9 && Object.keys(pytest).length > 0;
  }
}

/** iniconfig: a section starts with "[name]" at the start of a line. */
function iniSections(text: string): Set<string> {
  const sections = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\[([^\]]+)\]/.exec(line);
    if (match) sections.add((match[1] as string).trim());
  }
  return sections;
}

/** os.path.expandvars for $NAME and ${NAME}; unknown names are left as they are. */
function expandVars(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const key = name.startsWith("{") ? name.slice(1, -1) : name;
    return env[key] ?? whole;
  });
}

/** shlex.split (POSIX mode), as pytest splits PYTEST_ADDOPTS. */
export function shellSplit(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1] as string)) {
        current += text[++i];
      } else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(current);
  return out;
}
