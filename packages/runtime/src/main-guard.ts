import { ConfigError } from "@pps/config";

/**
 * Runs an app's main: a configuration error prints the variables at fault and exits 78 (EX_CONFIG)
 * before anything starts; any other start-up failure exits 1.
 */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
