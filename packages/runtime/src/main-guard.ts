import { ConfigError } from "@pps/config";
import { serializeError } from "@pps/logger";

export type RunMainOptions = {
  /** Tests observe the exit code instead of ending their process. */
  exit?: (code: number) => void;
  write?: (text: string) => void;
};

/**
 * Runs an app's main: a configuration error prints the variables at fault and exits 78 (EX_CONFIG)
 * before anything starts; any other start-up failure exits 1.
 */
export function runMain(
  main: () => Promise<unknown>,
  { exit = (code) => process.exit(code), write = (text) => process.stderr.write(text) }: RunMainOptions = {},
): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      write(`${err.message}\n`);
      exit(78);
      return;
    }
    // The stack as a log line would show it: a failed query's message carries its bound values.
    const shown = err instanceof Error ? serializeError(err) : undefined;
    write(`fatal: ${shown ? (shown.stack ?? shown.message) : String(err)}\n`);
    exit(1);
  });
}
