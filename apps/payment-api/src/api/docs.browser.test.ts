import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { paymentApiRoutes } from "@pps/api-contract";
import { channelConfigFromEnv, createChannelAdapters } from "@pps/channels";
import { closeDb, createDb } from "@pps/db";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { TEST_DATABASE_URL } from "@pps/test-support";
import { launchBrowser, offlinePage } from "@pps/test-support/browser";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../app.ts";
import { loadAppEnv } from "../env.ts";
import { FrozenPayers, MerchantDirectory } from "../payments/merchants.ts";

/**
 * /docs in a real browser with no internet: the reference page, its script and its styles all come from
 * payment-api itself, and it lists every operation of the contract.
 */
let server: ServerType;
let base: string;
let browser: Browser;
const db = createDb({ url: TEST_DATABASE_URL, max: 1, applicationName: "docs-browser-test" });

beforeAll(async () => {
  const env = loadAppEnv({ DATABASE_URL: TEST_DATABASE_URL });
  const app = createApp({
    db,
    env,
    logger: createLogger({ service: "docs-test", level: "silent" }),
    merchants: new MerchantDirectory(db),
    frozenPayers: new FrozenPayers(db),
    relay: { notify() {} },
    sms: { send: async () => undefined },
    metrics: createMetrics("docs-test"),
    readiness: [],
    adapters: createChannelAdapters(channelConfigFromEnv(env.channelVars)),
  });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await closeDb(db);
});

describe("the API reference at /docs", () => {
  it("renders offline and finds every operation", async () => {
    const { page, blocked } = await offlinePage(browser);
    await page.goto(`${base}/docs`, { waitUntil: "load" });
    // Scalar renders a section per operation; wait until the last tag's operations are on the page.
    const summaries = Object.values(paymentApiRoutes).map((r) => r.summary);
    // These functions run in the page, where `document` exists; this package's types know no DOM.
    const pageText = "document.body.innerText";
    await page
      .waitForFunction(`${JSON.stringify(summaries)}.every((t) => ${pageText}.includes(t))`, undefined, {
        timeout: 30_000,
      })
      .catch(() => undefined);
    const text = (await page.evaluate(pageText)) as string;
    const missing = summaries.filter((s) => !text.includes(s));
    expect(missing).toEqual([]);
    expect(blocked).toEqual([]);
  }, 60_000);
});
