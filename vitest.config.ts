import { defineConfig } from "vitest/config";

/** The fault suite (six apps and a broker of its own under load) runs alone, after every other file. */
const FAULTS = "tests/e2e/faults.e2e.test.ts";

export default defineConfig({
  test: {
    globalSetup: ["./tests/global-setup.ts"],
    pool: "forks",
    // Integration tests start real processes; two cores take two files at a time.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.VITEST_JSON_OUTPUT
      ? ["default", ["json", { outputFile: process.env.VITEST_JSON_OUTPUT }]]
      : ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: [
            "apps/*/src/**/*.test.ts",
            "packages/*/src/**/*.test.ts",
            "tests/**/*.test.ts",
            "infra/**/*.test.ts",
          ],
          exclude: [FAULTS, "**/node_modules/**"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Beside other files it saturates the two cores: their timing checks (the notifier's retry schedule)
        // failed, and its own figures measured the machine more than the faults.
        extends: true,
        test: { name: "faults", include: [FAULTS], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
