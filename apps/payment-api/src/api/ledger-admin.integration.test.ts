import { randomUUID } from "node:crypto";
import { ledgerViolations } from "@pps/ledger";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type InProcessApi, inProcessApi } from "../payment-api-test-kit.ts";

/** The operator API over the ledger, in-process on a real Postgres database of its own. */
let api: InProcessApi;
beforeAll(async () => {
  api = await inProcessApi("ledgeradmin");
});
afterAll(() => api?.close());
afterEach(async () => {
  expect(await ledgerViolations(api.db.$client)).toEqual([]);
});

const ops = { operator: "ops@example", reason: "integration test" };
type Account = {
  id: string;
  kind: string;
  status: string;
  balance: number;
  held: number;
  available: number | null;
  credit_limit: number | null;
  credit_used: number | null;
  changes: { change: string; from: string | null; to: string; operator: string; reason: string }[];
};

async function call<T = Account>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res =
    body === undefined
      ? await api.request(path, { method, headers: { authorization: `Bearer ${api.tokens.admin}` } })
      : await api.admin(method, path, body);
  return { status: res.status, body: (await res.json()) as T };
}

const open = async (kind: string, currency: string, extra: Record<string, unknown> = {}) => {
  const res = await call("POST", "/v1/admin/accounts", {
    kind,
    owner_id: `u_${randomUUID().slice(0, 8)}`,
    currency,
    ...ops,
    ...extra,
  });
  expect(res.status).toBe(200);
  return res.body;
};
const codeOf = (body: unknown) => (body as { error: { code: string } }).error.code;

describe("operating payer accounts", () => {
  it("opens a wallet once, adjusts it with a reason, and shows the statement by cursor", async () => {
    const owner = `u_${randomUUID().slice(0, 8)}`;
    const first = await call("POST", "/v1/admin/accounts", {
      kind: "payer_wallet",
      owner_id: owner,
      currency: "CNY",
      ...ops,
    });
    const again = await call("POST", "/v1/admin/accounts", {
      kind: "payer_wallet",
      owner_id: owner,
      currency: "CNY",
      ...ops,
    });
    expect(again.body.id).toBe(first.body.id);
    expect(first.body).toMatchObject({ kind: "payer_wallet", status: "active", balance: 0, available: 0 });
    const id = first.body.id;
    for (const [n, amount] of [
      [1, 5_000],
      [2, -1_200],
      [3, 300],
    ] as const) {
      const posted = await call<{ entry_id: string; duplicate: boolean; account: Account }>(
        "POST",
        `/v1/admin/accounts/${id}/adjustments`,
        { adjustment_id: `adj_${id}_${n}`, amount, ...ops },
      );
      expect(posted.status).toBe(200);
      expect(posted.body.duplicate).toBe(false);
    }
    const repeat = await call<{ duplicate: boolean; account: Account }>(
      "POST",
      `/v1/admin/accounts/${id}/adjustments`,
      {
        adjustment_id: `adj_${id}_1`,
        amount: 5_000,
        ...ops,
      },
    );
    expect(repeat.body).toMatchObject({ duplicate: true, account: { balance: 4_100 } });
    const reused = await call("POST", `/v1/admin/accounts/${id}/adjustments`, {
      adjustment_id: `adj_${id}_1`,
      amount: 1,
      ...ops,
    });
    expect([reused.status, codeOf(reused.body)]).toEqual([409, "request.idempotency_key_reused"]);
    const overdraw = await call("POST", `/v1/admin/accounts/${id}/adjustments`, {
      adjustment_id: `adj_${id}_x`,
      amount: -4_101,
      ...ops,
    });
    expect([overdraw.status, codeOf(overdraw.body)]).toEqual([422, "account.insufficient_funds"]);

    type Page = {
      lines: { seq: number; amount: number; balance_after: number; memo: { reason: string } }[];
      next_after: number | null;
    };
    const page1 = await call<Page>("GET", `/v1/admin/accounts/${id}/statement?limit=2`);
    expect(page1.body.lines.map((l) => [l.amount, l.balance_after])).toEqual([
      [5_000, 5_000],
      [-1_200, 3_800],
    ]);
    expect(page1.body.lines[0]!.memo.reason).toBe("integration test");
    const page2 = await call<Page>("GET", `/v1/admin/accounts/${id}/statement?limit=2&after=${page1.body.next_after}`);
    expect(page2.body).toMatchObject({ lines: [{ amount: 300, balance_after: 4_100 }], next_after: null });
  });

  it("freezes and reactivates with the trail kept; a frozen account cannot be debited", async () => {
    const wallet = await open("payer_wallet", "CNY");
    await call("POST", `/v1/admin/accounts/${wallet.id}/adjustments`, {
      adjustment_id: `a_${wallet.id}`,
      amount: 1_000,
      ...ops,
    });
    const frozen = await call("PUT", `/v1/admin/accounts/${wallet.id}/status`, {
      status: "frozen",
      operator: "risk",
      reason: "ticket 9",
    });
    expect(frozen.body).toMatchObject({ status: "frozen" });
    const debit = await call("POST", `/v1/admin/accounts/${wallet.id}/adjustments`, {
      adjustment_id: `d_${wallet.id}`,
      amount: -10,
      ...ops,
    });
    expect([debit.status, codeOf(debit.body)]).toEqual([409, "account.frozen"]);
    const back = await call("PUT", `/v1/admin/accounts/${wallet.id}/status`, {
      status: "active",
      operator: "risk",
      reason: "cleared",
    });
    expect(back.body.changes.map((ch) => [ch.change, ch.from, ch.to, ch.reason])).toEqual([
      ["opened", null, "payer_wallet CNY floor 0", "integration test"],
      ["status", "active", "frozen", "ticket 9"],
      ["status", "frozen", "active", "cleared"],
    ]);
  });

  it("sets credit limits on credit lines only, never below use, and grants coins to coin accounts only", async () => {
    const line = await open("payer_credit", "CNY", { credit_limit: 10_000 });
    expect(line).toMatchObject({ credit_limit: 10_000, credit_used: 0, available: 10_000 });
    const raised = await call("PUT", `/v1/admin/accounts/${line.id}/credit-limit`, { credit_limit: 20_000, ...ops });
    expect(raised.body).toMatchObject({ credit_limit: 20_000, available: 20_000 });
    await call("POST", `/v1/admin/accounts/${line.id}/adjustments`, {
      adjustment_id: `draw_${line.id}`,
      amount: -15_000,
      ...ops,
    });
    const tooLow = await call("PUT", `/v1/admin/accounts/${line.id}/credit-limit`, { credit_limit: 14_999, ...ops });
    expect([tooLow.status, codeOf(tooLow.body)]).toEqual([422, "account.limit_below_used"]);
    const overLimit = await call("POST", `/v1/admin/accounts/${line.id}/adjustments`, {
      adjustment_id: `over_${line.id}`,
      amount: -5_001,
      ...ops,
    });
    expect([overLimit.status, codeOf(overLimit.body)]).toEqual([422, "account.credit_limit_exceeded"]);

    const coins = await open("payer_coins", "GEM");
    const granted = await call<{ account: Account }>("POST", `/v1/admin/accounts/${coins.id}/coin-grants`, {
      grant_id: `g_${coins.id}`,
      amount: 700,
      ...ops,
    });
    expect(granted.body.account).toMatchObject({ balance: 700, kind: "payer_coins" });
    const toWallet = await call("POST", `/v1/admin/accounts/${line.id}/coin-grants`, {
      grant_id: `g2_${coins.id}`,
      amount: 1,
      ...ops,
    });
    expect([toWallet.status, codeOf(toWallet.body)]).toEqual([422, "account.kind_not_supported"]);
    const limitOnCoins = await call("PUT", `/v1/admin/accounts/${coins.id}/credit-limit`, { credit_limit: 1, ...ops });
    expect([limitOnCoins.status, codeOf(limitOnCoins.body)]).toEqual([422, "account.kind_not_supported"]);
  });

  it("refuses bad input with a code each and writes nothing", async () => {
    const count = async () => Number((await api.db.$client`select count(*)::int as n from ledger.accounts`)[0]!.n);
    const before = await count();
    const cases: [string, string, unknown, number, string][] = [
      [
        "POST",
        "/v1/admin/accounts",
        { kind: "payer_wallet", owner_id: "u_1", currency: "GEM", ...ops },
        400,
        "account.currency_mismatch",
      ],
      [
        "POST",
        "/v1/admin/accounts",
        { kind: "payer_coins", owner_id: "u_1", currency: "CNY", ...ops },
        400,
        "account.currency_mismatch",
      ],
      [
        "POST",
        "/v1/admin/accounts",
        { kind: "merchant_pending", owner_id: "u_1", currency: "CNY", ...ops },
        400,
        "request.validation_failed",
      ],
      [
        "POST",
        "/v1/admin/accounts",
        { kind: "payer_wallet", owner_id: "u_1", currency: "CNY", operator: "x" },
        400,
        "request.validation_failed",
      ],
      [
        "POST",
        "/v1/admin/accounts",
        { kind: "payer_credit", owner_id: "u_1", currency: "CNY", credit_limit: -1, ...ops },
        400,
        "request.validation_failed",
      ],
      ["GET", "/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9", undefined, 404, "account.not_found"],
      ["GET", "/v1/admin/accounts/nope", undefined, 400, "request.validation_failed"],
      [
        "PUT",
        "/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9/status",
        { status: "frozen", ...ops },
        404,
        "account.not_found",
      ],
      [
        "PUT",
        "/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9/status",
        { status: "gone", ...ops },
        400,
        "request.validation_failed",
      ],
      [
        "POST",
        "/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9/adjustments",
        { adjustment_id: "a", amount: 0, ...ops },
        400,
        "request.validation_failed",
      ],
      [
        "POST",
        "/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9/adjustments",
        { adjustment_id: "a", amount: 1.5, ...ops },
        400,
        "request.validation_failed",
      ],
      [
        "POST",
        "/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9/adjustments",
        { adjustment_id: "a", amount: 5, ...ops },
        404,
        "account.not_found",
      ],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await call(method, path, body);
      expect([method, path, res.status, codeOf(res.body)]).toEqual([method, path, status, code]);
    }
    const noToken = await api.request("/v1/admin/accounts/acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9");
    expect(noToken.status).toBe(401);
    expect(await count()).toBe(before);
  });
});
