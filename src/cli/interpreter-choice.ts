// Picks the interpreter for a command from the real environment.
import {
  defaultProbes,
  describeSource,
  isInterpreterError,
  resolveInterpreter,
} from "../config/interpreter.js";

export type ChosenInterpreter =
  | { ok: true; path: string; how: string }
  | { ok: false; message: string };

export function chooseInterpreter(flag: string | undefined, cwd: string): ChosenInterpreter {
  const result = resolveInterpreter({
    ...defaultProbes(),
    ...(flag === undefined ? {} : { flag }),
    env: process.env,
    cwd,
  });
  if (isInterpreterError(result)) return { ok: false, message: result.error };
  return { ok: true, path: result.path, how: describeSource(result.source) };
}
