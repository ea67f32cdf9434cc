// What the supervisor reads from the run's scratch directory, where a
// worker (under none and hermetic) can write too: a timed-out worker's stack
// dump is read without following a link (a test could put one to any file
// the supervisor can read in its place, and that file's text would land in
// the test's failure: tests/security/escape-strict.test.ts), and only up to
// a size. (Spilled report bodies are the zygote's: replay.read_spilled_body.)
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** faulthandler's dump of every thread is a few KiB; more is not a stack. */
const STACK_LIMIT = 1024 * 1024;

/** A worker's stack dump: "" when missing, not a regular file, or a link. */
export function readStackFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return "";
  }
  try {
    if (!fstatSync(fd).isFile()) return "";
    const buffer = Buffer.alloc(STACK_LIMIT);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, STACK_LIMIT - length, null);
      if (n === 0 || length + n >= STACK_LIMIT) {
        length += n;
        break;
      }
      length += n;
    }
    return buffer.subarray(0, length).toString("utf8");
  } catch {
    return "";
  } finally {
    closeSync(fd);
  }
}
