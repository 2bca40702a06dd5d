import { freePort, isolatedEnvironment, startApp, TEST_ADMIN_TOKEN, type AppProcess } from "@pps/test-support";

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
  /** Restarts one app with the same settings (same port is not kept). */
  restart: (name: "api" | "router" | "risk", signal?: NodeJS.Signals) => Promise<AppProcess>;
  stop: () => Promise<void>;
};

export type PlatformOptions = {
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
  const isolated = await isolatedEnvironment("e2e");
  const { databaseUrl, topicPrefix } = isolated;
  const env = { ...isolated.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN };
  const sim = await startApp("channel-sim", { ...env, ...opts.simEnv });
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
  const [api, risk, reconciler] = await Promise.all([
    startApp("payment-api", apiEnv),
    startApp("risk-stub", { ...env, ...opts.riskEnv }),
    startApp("reconciler", env),
  ]);
  // The notifier reads merchants' signing keys from payment-api; test receivers listen on loopback.
  const notifier = await startApp("notifier", {
    ...env,
    PORT: String(notifierPort),
    PAYMENT_API_URL: api.url,
    NOTIFY_ALLOWED_HOSTS: "127.0.0.1",
    ...opts.notifierEnv,
  });
  const routerEnv = {
    ...env,
    ...channelEnv,
    CALLBACK_BASE_URL: api.url,
    CHANNEL_TIMEOUT_MS: "1500",
    ROUTER_STUCK_QUERY_DELAYS_MS: "3000,5000",
    ...opts.routerEnv,
  };
  const router = await startApp("router", routerEnv);
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
      await platform[name].stop(signal);
      const next =
        name === "api"
          ? await startApp("payment-api", apiEnv)
          : name === "router"
            ? await startApp("router", { ...routerEnv, CALLBACK_BASE_URL: platform.api.url })
            : await startApp("risk-stub", { ...env, ...opts.riskEnv });
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
