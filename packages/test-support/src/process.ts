import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.ts";
import { TEST_DATABASE_URL, TEST_KAFKA_BROKERS, TEST_TOPIC_PREFIX } from "./env.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export const APPS = ["payment-api", "router", "risk-stub", "notifier", "reconciler", "channel-sim"] as const;
export type AppName = (typeof APPS)[number];

export type AppProcess = {
  name: AppName;
  url: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; ms: number }>;
  exited: Promise<number | null>;
};

/** Environment every app needs in tests: the test database, the broker, this run's topic prefix. */
export function testAppEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    KAFKA_BROKERS: TEST_KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: TEST_TOPIC_PREFIX,
    LOG_LEVEL: "warn",
    // Many app processes share one test Postgres (max_connections 100 by default): keep each pool small.
    DB_POOL_MAX: "3",
    ...extra,
  };
}

/** Runs an app's real entry point as a child process (through tsx, as `pnpm dev` does). */
export function spawnApp(
  name: AppName,
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", `apps/${name}/src/main.ts`], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", NODE_ENV: "test", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (b: Buffer) => {
    output += b.toString("utf8");
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function waitFor(
  check: () => Promise<boolean>,
  { timeoutMs = 30_000, intervalMs = 100, what = "condition" } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Starts an app on a free port and waits until /healthz answers. */
export async function startApp(
  name: AppName,
  extraEnv: Record<string, string> = {},
  { readyTimeoutMs = 60_000 } = {},
): Promise<AppProcess> {
  // A caller may fix the port (to tell another app where this one will be before it starts).
  const port = extraEnv.PORT ? Number(extraEnv.PORT) : await freePort();
  // PUBLIC_BASE_URL: where this instance is reachable (payment-api builds pay links and callback URLs from it).
  const { child, output, exited } = spawnApp(
    name,
    testAppEnv({ PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...extraEnv }),
  );
  const url = `http://127.0.0.1:${port}`;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  try {
    await waitFor(
      async () => {
        if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode}:\n${output()}`);
        return (await fetch(`${url}/healthz`)).ok;
      },
      { timeoutMs: readyTimeoutMs, what: `${name} /healthz` },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${name} did not start: ${(err as Error).message}\n${output().slice(-4000)}`);
  }
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const started = Date.now();
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const code = await exited;
    return { code, ms: Date.now() - started };
  };
  return { name, url, port, child, output, stop, exited };
}
