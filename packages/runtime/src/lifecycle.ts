import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "@pps/logger";
import { type HealthRegistry, type HealthSource, processHealth } from "./health.ts";

/** Something with a lifetime: a consumer, a relay, a scheduler, a pool. */
export type Component = { name: string; start?: () => Promise<void> | void; stop: () => Promise<void> | void };

export type RunServiceOptions = {
  service: string;
  logger: Logger;
  // biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its env type
  app: Hono<any>;
  host: string;
  port: number;
  /** Started in order after the HTTP server listens; stopped in reverse order at shutdown. */
  components: Component[];
  shutdownTimeoutMs: number;
  /**
   * How long requests in flight at shutdown get to finish before their connections are closed, within
   * shutdownTimeoutMs [half of it: the other half is the components']. Idle keep-alive connections close at once.
   */
  drainTimeoutMs?: number;
  /** Lets tests run several services in one process without exiting it. */
  exit?: (code: number) => void;
  /** SIGTERM and SIGINT start the shutdown [true]. Tests that run services in-process call shutdown instead. */
  handleSignals?: boolean;
  /** Where the start-up check is listed: /readyz fails until every component has started [processHealth]. */
  health?: HealthRegistry;
};

export type RunningService = {
  port: number;
  /** Runs the shutdown once (later calls share it) and exits with exitCode, or 1 past the time limit. */
  shutdown: (reason: string, exitCode?: number) => Promise<void>;
};

/**
 * Starts the HTTP server and components and wires SIGTERM/SIGINT to one orderly shutdown: stop intake
 * (close the listener and idle connections), let the requests in flight finish (their connections close
 * after the response; past drainTimeoutMs they are cut), then stop components in reverse (consumers
 * commit, relays drain, producers flush, pools close) and exit 0. Requests come before components
 * because their handlers still use the pool and the producer. A component that fails to start stops
 * those started and exits 1; so does a shutdown that takes longer than shutdownTimeoutMs.
 */
export async function runService(opts: RunServiceOptions): Promise<RunningService> {
  const {
    logger,
    app,
    components,
    shutdownTimeoutMs,
    exit = (code) => process.exit(code),
    handleSignals = true,
  } = opts;
  const drainTimeoutMs = opts.drainTimeoutMs ?? Math.floor(shutdownTimeoutMs / 2);
  const server = createAdaptorServer({ fetch: app.fetch, hostname: opts.host }) as Server;
  const inFlight = new Set<ServerResponse>();
  let stopping = false;
  // Runs before hono's listener, while headers can still be set.
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
    // A request that arrives on a kept-alive connection during shutdown is served, and its connection closed after.
    if (stopping) res.setHeader("connection", "close");
    inFlight.add(res);
    res.once("close", () => {
      inFlight.delete(res);
      // A connection whose response went out before shutdown began still offers keep-alive: close it once idle.
      if (stopping) server.closeIdleConnections();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let exited = false;
  const exitOnce = (code: number) => {
    if (exited) return;
    exited = true;
    exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => void shutdown(signal);
  const started: Component[] = [];

  const drainRequests = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      closed.then(() => true),
      new Promise<false>((resolve) => {
        drainTimer = setTimeout(() => resolve(false), drainTimeoutMs);
      }),
    ]);
    clearTimeout(drainTimer);
    if (!drained) {
      logger.warn({ requests: inFlight.size, drainTimeoutMs }, "requests still in flight; closing their connections");
      server.closeAllConnections();
      await closed;
    }
  };

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string, exitCode = 0): Promise<void> => {
    shuttingDown ??= (async () => {
      stopping = true;
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      logger.info({ reason }, "shutting down");
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: shutdownTimeoutMs }, "shutdown timed out");
        server.closeAllConnections();
        exitOnce(1);
      }, shutdownTimeoutMs);
      await drainRequests();
      for (const c of [...started].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          logger.error({ err, component: c.name }, "component failed to stop cleanly");
        }
      }
      clearTimeout(timer);
      logger.info("stopped");
      exitOnce(exitCode);
    })();
    return shuttingDown;
  };
  if (handleSignals) {
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }

  // The server listens before the components start (probes must answer meanwhile), so until the last one has
  // started the app says it is not ready: its consumers and relays have not yet joined the checks.
  const health = opts.health ?? processHealth;
  let starting: string | null = components[0]?.name ?? null;
  const startup: HealthSource = {
    name: "startup",
    ready: () => {
      if (starting !== null) throw new Error(`starting ${starting}`);
    },
    live: () => null,
  };
  health.add(startup);
  for (const c of components) {
    starting = c.name;
    // A signal during start: the shutdown under way stops what has started.
    if (stopping) return { port, shutdown };
    // Counted before its start: one that fails half-way may hold what it opened (a connected client).
    started.push(c);
    try {
      await c.start?.();
    } catch (err) {
      health.remove(startup);
      logger.fatal({ err, component: c.name }, "failed to start");
      await shutdown("start failure", 1);
      // Reached only when exit does not end the process (tests).
      throw err;
    }
  }
  health.remove(startup);
  logger.info({ host: opts.host, port }, `${opts.service} listening on http://${opts.host}:${port}`);
  return { port, shutdown };
}
