import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import { PaymentsClient } from "@pps/sdk";
import { createTestMerchant, type IsolatedEnvironment, isolatedEnvironment, startApp, TEST_ADMIN_TOKEN, type AppProcess } from "@pps/test-support";

/** Past ACCEPT_MAX_IN_FLIGHT a payment is refused at once with 503, writing nothing. */
let api: AppProcess;
let isolated: IsolatedEnvironment;
let db: Database;

beforeAll(async () => {
  isolated = await isolatedEnvironment("shed");
  db = isolated.db;
  api = await startApp("payment-api", { ...isolated.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN, ACCEPT_MAX_IN_FLIGHT: "2" });
});
afterAll(async () => {
  await api?.stop();
  await isolated?.close();
});

describe("load shedding", () => {
  it("refuses what exceeds the in-flight limit with internal.overloaded and Retry-After, and accepts the rest", async () => {
    const merchant = await createTestMerchant(api.url, { products: ["online_banking"] });
    const client = new PaymentsClient({ baseUrl: api.url, credentials: merchant });
    const orders = Array.from({ length: 40 }, () => `o_${randomBytes(8).toString("hex")}`);
    const results = await Promise.all(
      orders.map((merchant_order_no) =>
        client.request("POST", "/v1/payments", {
          idempotencyKey: randomUUID(),
          body: {
            merchant_order_no, product: "online_banking", amount: 1_000, currency: "CNY", subject: "shed test", payer: { id: "u_shed" },
            method: { bank_code: "CMB" }, notify_url: "https://shop.example/n", return_url: "https://shop.example/r",
          },
        }),
      ),
    );
    const shed = results.filter((r) => r.status === 503);
    const accepted = results.filter((r) => r.status === 201);
    expect(shed.length + accepted.length).toBe(40);
    expect(shed.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    expect((shed[0]!.body as { error: { code: string } }).error.code).toBe("internal.overloaded");
    expect(shed[0]!.headers.get("retry-after")).toBe("1");
    const [row] = await db.$client<{ n: number }[]>`select count(*)::int as n from payment.payments where merchant_id = ${merchant.merchantId}`;
    expect(row!.n).toBe(accepted.length);
  });
});
