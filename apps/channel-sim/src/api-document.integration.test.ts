import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "@pps/channels";
import { simSmsMessages } from "@pps/db/schema";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { apiDocumentDrift, isolatedDatabase } from "@pps/test-support";
import { createApp } from "./app.ts";
import { createProtocols } from "./channels/index.ts";
import { isSimulatedThirdPartyRoute } from "./sim-api.ts";
import { createChargeWriter } from "./sim/charge-writer.ts";
import { createFaultStore } from "./sim/faults.ts";

// The app in process, on a database of its own: every operator route is in its OpenAPI document; the
// simulated channels' endpoints (third parties' formats) are not.

const logger = createLogger({ service: "channel-sim-api-test", level: "silent" });
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let app: ReturnType<typeof createApp>;
const shutdown = new AbortController();

type ErrorBody = { error: { code: string } };

const send = (method: string, path: string, body?: unknown) =>
  app.request(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  isolated = await isolatedDatabase("sim_api");
  const { db } = isolated;
  const sim = {
    db,
    logger,
    faults: createFaultStore(db, logger),
    charges: createChargeWriter(db),
    protocols: createProtocols(DEV_CHANNEL_KEYS),
    config: {
      publicUrl: null,
      timeoutHoldMs: 1_000,
      autoPayerDelayMs: 0,
      callbackPollMs: 100,
      callbackMaxAttempts: 1,
      callbackRetryBaseMs: 100,
      callbackTimeoutMs: 1_000,
    },
    shutdown: shutdown.signal,
  };
  app = createApp({
    logger,
    metrics: createMetrics("channel-sim-api-test"),
    readiness: [],
    sim,
    keys: DEV_CHANNEL_KEYS,
  });
});

afterAll(async () => {
  shutdown.abort();
  await isolated?.close();
});

describe("channel-sim's OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents every operator route the app serves, with schemas", async () => {
    const res = await app.request("/openapi.json");
    expect(res.status).toBe(200);
    const document = (await res.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      info: { description: string };
    };
    expect(document.openapi).toBe("3.1.0");
    expect(
      apiDocumentDrift(app.routes, document, { ignore: (route) => isSimulatedThirdPartyRoute(route.path) }),
    ).toEqual([]);
    // What is left out is only the simulated third parties, and the document says so.
    const simulated = app.routes.filter((r) => isSimulatedThirdPartyRoute(r.path) && r.method !== "ALL");
    expect(simulated.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        "/bank/gateway/pay",
        "/wechat/pay/unifiedorder",
        "/paypal/v2/checkout/orders",
        "/sms/send",
      ]),
    );
    expect(Object.keys(document.paths).some((p) => isSimulatedThirdPartyRoute(p))).toBe(false);
    expect(document.info.description).toContain("/wechat");
    expect((await app.request("/docs")).status).toBe(200);
  });

  it("answers as before through the route definitions", async () => {
    const unknown = await app.request("/sim/faults/nochannel", {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as ErrorBody).error.code).toBe("request.not_found");
    expect((await send("PUT", "/sim/faults/wechat", { fault: "explode" })).status).toBe(400);
    const put = await send("PUT", "/sim/faults/wechat", { faults: "decline,latency:5", refPrefix: "api_doc_" });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      channel: "wechat",
      faults: ["decline", "latency:5"],
      ops: ["pay"],
      percent: 100,
      refPrefix: "api_doc_",
    });
    expect(
      ((await (await send("GET", "/sim/faults")).json()) as { faults: { channel: string }[] }).faults.map(
        (f) => f.channel,
      ),
    ).toEqual(["wechat"]);
    expect((await send("DELETE", "/sim/faults/wechat")).status).toBe(204);
    expect((await send("DELETE", "/sim/faults/nochannel")).status).toBe(404);
    expect((await send("DELETE", "/sim/faults")).status).toBe(204);

    expect(await (await send("GET", "/sim/book/unionpay?ref=nothing")).json()).toEqual({ entries: [] });
    expect((await send("GET", "/sim/book/nochannel")).status).toBe(404);
    expect((await send("GET", "/sim/book/unionpay?surprise=1")).status).toBe(400);
    const noRef = await send("GET", "/sim/callbacks/unionpay");
    expect(noRef.status).toBe(400);
    expect(((await noRef.json()) as ErrorBody).error.code).toBe("request.validation_failed");

    await isolated.db
      .insert(simSmsMessages)
      .values({ id: "sms_api_doc_1", phone: "13900000001", text: "code 123456", sender: "test" });
    const outbox = (await (await send("GET", "/sms/outbox?phone=13900000001")).json()) as {
      messages: { text: string }[];
    };
    expect(outbox.messages.map((m) => m.text)).toEqual(["code 123456"]);
    expect((await send("GET", "/sms/outbox")).status).toBe(400);
  });
});
