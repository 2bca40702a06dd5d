import {
  type AppName,
  type AppProcess,
  freePort,
  isolatedEnvironment,
  startApp,
  TEST_ADMIN_TOKEN,
} from "@pps/test-support";

export type Platform = {
  api: AppProcess;
  router: AppProcess;
  risk: AppProcess;
  sim: AppProcess;
  notifier: AppProcess;
  reconciler: AppProcess;
  databaseUrl: string;
  topicPrefix: string;
  env: Record<string, string>;
  /**
   * Stops one app with the signal and starts it again with the same settings on the same port (the others
   * reach it by URL: the notifier and the router call payment-api, payment-api the notifier, the router and
   * payment-api channel-sim).
   */
  restart: (name: RestartableApp, signal?: NodeJS.Signals) => Promise<AppProcess>;
  stop: () => Promise<void>;
};

export type RestartableApp = "api" | "router" | "risk" | "notifier" | "sim";

export type PlatformOptions = {
  /** The broker the apps use, instead of the run's (a private one a fault test stops and starts). */
  kafkaBrokers?: string;
  /**
   * The database URL the apps are given, from the file's own (e.g. through a TCP proxy the test cuts); the
   * test's own connections and the migrations use the direct one.
   */
  appDatabaseUrl?: (databaseUrl: string) => string;
  apiEnv?: Record<string, string>;
  routerEnv?: Record<string, string>;
  riskEnv?: Record<string, string>;
  simEnv?: Record<string, string>;
  notifierEnv?: Record<string, string>;
};

/**
 * All six apps as real processes on a database and topic prefix of their own, so end-to-end files can run
 * beside other test files without sharing consumer groups, channel settings or risk rules.
 */
export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const isolated = await isolatedEnvironment("e2e", opts.kafkaBrokers ? { kafkaBrokers: opts.kafkaBrokers } : {});
  const { databaseUrl, topicPrefix } = isolated;
  const env = {
    ...isolated.env,
    ...(opts.appDatabaseUrl ? { DATABASE_URL: opts.appDatabaseUrl(databaseUrl) } : {}),
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  };
  const simEnv = { ...env, ...opts.simEnv };
  const sim = await startApp("channel-sim", simEnv);
  const channelEnv = { CHANNEL_BASE_URL: sim.url, SMS_GATEWAY_URL: sim.url };
  // payment-api and the notifier call each other, so the notifier's port is chosen first.
  const notifierPort = await freePort();
  const apiEnv = {
    ...env,
    ...channelEnv,
    EXPIRY_SWEEP_INTERVAL_MS: "300",
    NOTIFIER_URL: `http://127.0.0.1:${notifierPort}`,
    ...opts.apiEnv,
  };
  const riskEnv = { ...env, ...opts.riskEnv };
  const [api, risk, reconciler] = await Promise.all([
    startApp("payment-api", apiEnv),
    startApp("risk-stub", riskEnv),
    startApp("reconciler", env),
  ]);
  // The notifier reads merchants' signing keys from payment-api; test receivers listen on loopback.
  const notifierEnv = {
    ...env,
    PORT: String(notifierPort),
    PAYMENT_API_URL: api.url,
    NOTIFY_ALLOWED_HOSTS: "127.0.0.1",
    ...opts.notifierEnv,
  };
  const notifier = await startApp("notifier", notifierEnv);
  const routerEnv = {
    ...env,
    ...channelEnv,
    CALLBACK_BASE_URL: api.url,
    CHANNEL_TIMEOUT_MS: "1500",
    ROUTER_STUCK_QUERY_DELAYS_MS: "3000,5000",
    ...opts.routerEnv,
  };
  const router = await startApp("router", routerEnv);
  const restartable: Record<RestartableApp, [AppName, Record<string, string>]> = {
    api: ["payment-api", apiEnv],
    router: ["router", routerEnv],
    risk: ["risk-stub", riskEnv],
    notifier: ["notifier", notifierEnv],
    sim: ["channel-sim", simEnv],
  };
  const platform: Platform = {
    api,
    router,
    risk,
    sim,
    notifier,
    reconciler,
    databaseUrl,
    topicPrefix,
    env,
    restart: async (name, signal = "SIGTERM") => {
      const previous = platform[name];
      await previous.stop(signal);
      const [app, appEnv] = restartable[name];
      const next = await startApp(app, { ...appEnv, PORT: String(previous.port) });
      platform[name] = next;
      return next;
    },
    stop: async () => {
      await Promise.all(
        [platform.api, platform.router, platform.risk, platform.sim, platform.notifier, platform.reconciler].map((a) =>
          a.stop().catch(() => undefined),
        ),
      );
      await isolated.close().catch(() => undefined);
    },
  };
  return platform;
}
