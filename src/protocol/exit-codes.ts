// Every exit status of `kiln` and of the harness's processes, by name, in one
// table. python/kiln_harness/exit_codes.py mirrors it for the zygote, the
// compile server and the workers; tests/unit/protocol/exit-codes.test.ts
// checks that the two agree, and python/tests/test_exit_codes.py checks the
// first six against pytest.ExitCode.

export const ExitCode = {
  // pytest's ExitCode (src/_pytest/config/__init__.py). `kiln test` exits
  // with pytest's own status, and Kiln's failures map onto these: a usage
  // error (also: no usable interpreter, pytest not installed in it) is
  // USAGE_ERROR, a bug or a broken harness is INTERNAL_ERROR.
  OK: 0,
  TESTS_FAILED: 1,
  INTERRUPTED: 2,
  INTERNAL_ERROR: 3,
  USAGE_ERROR: 4,
  NO_TESTS_COLLECTED: 5,
  // Kiln's other commands. Like TESTS_FAILED, 1 means "the command ran and
  // the answer is no": `kiln check` found problems, `kiln cache` could not
  // use its store, a `kiln report` module failed to render.
  CHECK_PROBLEMS: 1,
  CACHE_FAILED: 1,
  REPORT_MODULE_FAILED: 1,
  // A forked worker's own statuses (python/kiln_harness/forking.py).
  // sysexits.h's EX_SOFTWARE: an exception escaped the worker loop.
  WORKER_SOFTWARE_ERROR: 70,
  // 128 + SIGINT, what a shell reports for a process ended by Ctrl-C: a
  // worker's KeyboardInterrupt, and the parity tool stopped by a signal.
  KEYBOARD_INTERRUPT: 130,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
