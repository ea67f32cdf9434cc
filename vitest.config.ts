import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/unit/**/*.test.ts", "tests/e2e/**/*.test.ts", "tests/security/**/*.test.ts"],
    // Temp dirs and fixture cleanliness: see the two files' headers.
    globalSetup: ["tests/helpers/global-setup.ts"],
    setupFiles: ["tests/helpers/file-setup.ts"],
    // e2e tests spawn real Python processes; 2 cores, so keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
