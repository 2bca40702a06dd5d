import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "@pps/logger";

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
  /** Lets tests run several services in one process without exiting it. */
  exit?: (code: number) => void;
};

export type RunningService = { port: number; shutdown: (reason: string) => Promise<void> };

/**
 * Starts the HTTP server and components and wires SIGTERM/SIGINT to one orderly shutdown:
 * stop intake (close the server), stop components in reverse (consumers commit, relays drain,
 * producers flush, pools close), exit 0; exit 1 if that takes longer than the limit.
 */
export async function runService(opts: RunServiceOptions): Promise<RunningService> {
  const { logger, app, components, shutdownTimeoutMs, exit = (code) => process.exit(code) } = opts;
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, "shutting down");
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: shutdownTimeoutMs }, "shutdown timed out");
        exit(1);
      }, shutdownTimeoutMs);
      timer.unref();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ("closeIdleConnections" in server) server.closeIdleConnections();
      for (const c of [...components].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          logger.error({ err, component: c.name }, "component failed to stop cleanly");
        }
      }
      await closed;
      clearTimeout(timer);
      logger.info("stopped");
      exit(0);
    })();
    return shuttingDown;
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  try {
    for (const c of components) await c.start?.();
  } catch (err) {
    logger.fatal({ err }, "failed to start");
    await shutdown("start failure");
    exit(1);
  }
  logger.info({ host: opts.host, port }, `${opts.service} listening on http://${opts.host}:${port}`);
  return { port, shutdown };
}
