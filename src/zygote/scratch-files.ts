// What Kiln reads from the run's scratch directory, where workers write too
// (a strict worker may: it is in its Landlock write set). Names and contents
// there can come from the test's own code, which can also find the worker's
// channel (tests/security/), so:
// - a report body file a worker names (report_sender.py _spill), which the
//   zygote reads and then deletes outside any sandbox, must have the spill
//   files' own shape, directly in the scratch directory; replay.py opens it
//   with O_NOFOLLOW, so a link planted under such a name is not followed;
// - a timed-out worker's stack dump is read without following a link (a
//   test could put one to any file the supervisor can read in its place,
//   and its text would land in the test's failure), and only up to a size.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";

const SPILL_NAME = /^body-\d+-\d+\.bin$/;
/** faulthandler's dump of every thread is a few KiB; more is not a stack. */
const STACK_LIMIT = 1024 * 1024;

/** Why `bodyFile` is not a spill file of this run, or undefined when it is one. */
export function bodyFileProblem(bodyFile: string, scratchDir: string): string | undefined {
  if (dirname(bodyFile) === resolve(scratchDir) && SPILL_NAME.test(basename(bodyFile))) {
    return undefined;
  }
  return `it named ${JSON.stringify(bodyFile)} as a report body file, which is not one of the run's`;
}

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
