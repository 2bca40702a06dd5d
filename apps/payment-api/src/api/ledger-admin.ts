import {
  getLedgerAccount,
  getLedgerStatement,
  grantCoins,
  openLedgerAccount,
  postAdjustment,
  setCreditLimit,
  setLedgerAccountStatus,
} from "@pps/api-contract";
import { AppError, type ErrorCode } from "@pps/domain";
import { type AccountBalance, Ledger, LedgerError, type LedgerErrorCode } from "@pps/ledger";
import { boundedJson } from "@pps/runtime";
import type { MiddlewareHandler } from "hono";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps, PaymentApiApp } from "../http/context.ts";

/** The ledger's refusals as the API's public codes. */
const PUBLIC_CODES: Partial<Record<LedgerErrorCode, ErrorCode>> = {
  "ledger.account_unknown": "account.not_found",
  "ledger.account_frozen": "account.frozen",
  "ledger.account_closed": "account.closed",
  "ledger.currency_mismatch": "account.currency_mismatch",
  "ledger.kind_not_supported": "account.kind_not_supported",
  "ledger.insufficient_funds": "account.insufficient_funds",
  "ledger.credit_limit_exceeded": "account.credit_limit_exceeded",
  "ledger.limit_below_used": "account.limit_below_used",
  "ledger.idempotency_key_reused": "request.idempotency_key_reused",
  "ledger.reason_required": "request.validation_failed",
};

async function publicErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const code = err instanceof LedgerError ? PUBLIC_CODES[err.code] : undefined;
    if (code) throw new AppError(code, (err as LedgerError).detail || (err as LedgerError).code);
    throw err;
  }
}

/**
 * Operator API over the ledger (the admin token, like every /v1/admin path): open payers' wallets, coin
 * balances and credit lines, read an account with its audit trail and its statement, freeze or close it,
 * set a credit limit, post an adjustment, grant coins. Every change names its operator and reason.
 */
export function registerLedgerAdmin(app: PaymentApiApp, deps: ApiDeps): void {
  const ledger = new Ledger(deps.db.$client);
  const middleware = boundedJson(deps.env.MAX_BODY_BYTES, { object: true }) as MiddlewareHandler<PaymentApiEnv>;

  async function existing(id: string): Promise<AccountBalance> {
    const account = await ledger.balance(id);
    if (!account) throw new AppError("account.not_found", "no such account");
    return account;
  }

  const view = async (id: string) => accountView(await existing(id), await ledger.changes(id));

  app.openapi({ ...openLedgerAccount, middleware }, async (c) => {
    const req = c.req.valid("json");
    const opened = await publicErrors(() =>
      ledger.openAccount({
        kind: req.kind,
        ownerId: req.owner_id,
        currency: req.currency,
        creditLimit: req.kind === "payer_credit" ? (req.credit_limit ?? 0) : undefined,
        by: { operator: req.operator, reason: req.reason },
      }),
    );
    deps.logger.info({ accountId: opened.id, kind: req.kind, operator: req.operator }, "ledger account opened");
    return c.json(await view(opened.id), 200);
  });

  app.openapi(getLedgerAccount, async (c) => c.json(await view(c.req.valid("param").id), 200));

  app.openapi(getLedgerStatement, async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    await existing(id);
    const limit = q.limit ?? 50;
    const lines = await ledger.statement(id, { after: q.after, limit });
    return c.json(
      {
        lines: lines.map((l) => ({
          seq: l.seq,
          entry_id: l.entryId,
          cause: l.cause,
          cause_id: l.causeId,
          amount: l.amount,
          currency: l.currency,
          balance_after: l.balanceAfter,
          memo: l.memo,
          created_at: l.createdAt.toISOString(),
        })),
        next_after: lines.length === limit ? lines.at(-1)!.seq : null,
      },
      200,
    );
  });

  app.openapi({ ...setLedgerAccountStatus, middleware }, async (c) => {
    const { id } = c.req.valid("param");
    const req = c.req.valid("json");
    await publicErrors(() => ledger.setStatus(id, req.status, req));
    deps.logger.info({ accountId: id, status: req.status, operator: req.operator }, "ledger account status set");
    return c.json(await view(id), 200);
  });

  app.openapi({ ...setCreditLimit, middleware }, async (c) => {
    const { id } = c.req.valid("param");
    const req = c.req.valid("json");
    await publicErrors(() => ledger.setCreditLimit(id, req.credit_limit, req));
    deps.logger.info({ accountId: id, limit: req.credit_limit, operator: req.operator }, "credit limit set");
    return c.json(await view(id), 200);
  });

  app.openapi({ ...postAdjustment, middleware }, async (c) => {
    const { id } = c.req.valid("param");
    const req = c.req.valid("json");
    const posted = await publicErrors(() =>
      ledger.adjust({
        accountId: id,
        amount: req.amount,
        reason: req.reason,
        operator: req.operator,
        key: req.adjustment_id,
      }),
    );
    deps.logger.info({ accountId: id, entryId: posted.entryId, operator: req.operator }, "ledger adjustment posted");
    return c.json({ entry_id: posted.entryId, duplicate: posted.duplicate, account: await view(id) }, 200);
  });

  app.openapi({ ...grantCoins, middleware }, async (c) => {
    const { id } = c.req.valid("param");
    const req = c.req.valid("json");
    const posted = await publicErrors(() =>
      ledger.grantCoins({
        accountId: id,
        amount: req.amount,
        grantId: req.grant_id,
        operator: req.operator,
        reason: req.reason,
      }),
    );
    deps.logger.info({ accountId: id, entryId: posted.entryId, operator: req.operator }, "coins granted");
    return c.json({ entry_id: posted.entryId, duplicate: posted.duplicate, account: await view(id) }, 200);
  });
}

function accountView(a: AccountBalance, changes: Awaited<ReturnType<Ledger["changes"]>>) {
  return {
    id: a.id,
    kind: a.kind,
    owner_id: a.ownerId,
    currency: a.currency,
    status: a.status,
    balance: a.balance,
    held: a.held,
    available: a.available,
    credit_limit: a.creditLimit,
    credit_used: a.creditUsed,
    changes: changes.map((ch) => ({ ...ch, at: ch.at.toISOString() })),
  };
}
