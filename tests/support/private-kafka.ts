import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT } from "@pps/test-support";

export type PrivateKafka = {
  /** host:port, for KAFKA_BROKERS. */
  brokers: string;
  /** The broker's logs (server.log, stdout.log), until `close`. */
  logDir: string;
  /** Starts the broker again on the same port and data (infra/kafka/kafka.sh start): topics and offsets kept. */
  start: () => Promise<void>;
  /** Stops it (kafka.sh stop: SIGTERM, a controlled shutdown). */
  stop: () => Promise<void>;
  /** Stops it and deletes its data. */
  close: () => Promise<void>;
};

/**
 * A single-node Kafka broker of a test file's own, started with infra/kafka/kafka.sh on free ports and a
 * temporary data directory, for tests that stop and start the broker: the run's shared broker, which other
 * files and other runs use, is never touched.
 */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const varDir = await mkdtemp(join(tmpdir(), "pps-kafka-"));
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // With KAFKA_BROKERS set the script uses that cluster and starts nothing.
  delete env.KAFKA_BROKERS;
  Object.assign(env, {
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    PPS_VAR_DIR: varDir,
    KAFKA_HEAP: process.env.PRIVATE_KAFKA_HEAP ?? "384m",
  });
  const run = (command: "start" | "stop") =>
    new Promise<void>((resolve, reject) => {
      execFile(
        "bash",
        [join(REPO_ROOT, "infra/kafka/kafka.sh"), command],
        { env, cwd: REPO_ROOT, timeout: 150_000 },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`kafka.sh ${command} failed: ${err.message}\n${stderr}`)) : resolve(),
      );
    });
  try {
    await run("start");
  } catch (err) {
    // A broker that opened its port too late is still running: the pid file names it.
    await run("stop").catch(() => undefined);
    await rm(varDir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers: `127.0.0.1:${port}`,
    logDir: join(varDir, "kafka", "logs"),
    start: () => run("start"),
    stop: () => run("stop"),
    async close() {
      await run("stop").catch(() => undefined);
      await rm(varDir, { recursive: true, force: true });
    },
  };
}
