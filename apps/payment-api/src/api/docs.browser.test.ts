import { paymentApiRoutes } from "@pps/api-contract";
import { launchBrowser, offlinePage } from "@pps/test-support/browser";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessApi, inProcessApi } from "../payment-api-test-kit.ts";

/**
 * /docs in a real browser with no internet: the reference page, its script and its styles all come from
 * payment-api itself, and it lists every operation of the contract.
 */
let api: InProcessApi;
let server: Awaited<ReturnType<InProcessApi["listen"]>>;
let base: string;
let browser: Browser;

beforeAll(async () => {
  api = await inProcessApi("docs");
  server = await api.listen();
  base = server.url;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await api?.close();
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
