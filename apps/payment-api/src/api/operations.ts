import {
  cancelPayment,
  capturePayment,
  getRefund,
  getRefundByNo,
  listPaymentRefunds,
  refundPayment,
  reversePayment,
  voidPayment,
} from "@pps/api-contract";
import { AppError, newId, OPERATION_ID_PREFIX, type OperationKind } from "@pps/domain";
import { validationHook } from "@pps/runtime";
import type { Database } from "@pps/db";
import { sql as drizzleSql } from "drizzle-orm";
import type { TransactionSql } from "postgres";
import { type ApiDeps, type Ctx, type PaymentApiApp, signedCall } from "../http/context.ts";
import { requestHash, runIdempotent } from "../http/idempotency.ts";
import { checkRefundRules, onSettlementDay, requireFlow, reverseKind } from "../payments/operation-rules.ts";
import {
  OperationRefused,
  type OperationRow,
  operationFromRaw,
  type ReserveRefusal,
  reserveOperation,
} from "../payments/operations.ts";
import { toApiOperation } from "../payments/operation-view.ts";
import { fromRaw, sqlOf } from "../payments/repository.ts";
import type { PaymentRow } from "../payments/snapshot.ts";

type Ask = {
  kind: OperationKind;
  amount: number | undefined;
  merchantRef: string | null;
  reason: string | null;
  origin: "api" | "reverse";
};

const REFUSALS: Record<ReserveRefusal, [Parameters<typeof appError>[0], string]> = {
  payment_state: ["payment.invalid_state", "the payment is not in a state that allows this"],
  exceeds_refundable: ["operation.amount_exceeds_refundable", "more than what was captured and not yet refunded"],
  exceeds_authorized: ["operation.amount_exceeds_authorized", "more than the authorized amount"],
  authorization_expired: ["operation.authorization_expired", "the authorization has expired and was released"],
  in_progress: ["operation.in_progress", "another operation of this kind on the payment is pending or done"],
  duplicate_ref: ["operation.duplicate_ref", "this merchant number was already used for another operation"],
};
const appError = (code: ConstructorParameters<typeof AppError>[0], message: string) => new AppError(code, message);

/** The payment, locked, the caller's; every operation on one payment queues behind this lock. */
async function lockPayment(sql: TransactionSql, merchantId: string, id: string): Promise<PaymentRow> {
  const [raw] = await sql<Record<string, unknown>[]>`
    select * from payment.payments where id = ${id} and merchant_id = ${merchantId} for update`;
  if (!raw) throw new AppError("payment.not_found", "no such payment");
  return fromRaw(raw);
}

async function liveRefunds(sql: TransactionSql, paymentId: string): Promise<number> {
  const [r] = await sql<{ n: number }[]>`select count(*)::int as n from payment.payment_operations
    where payment_id = ${paymentId} and kind = 'refund' and status <> 'failed'`;
  return r?.n ?? 0;
}

function stateError(payment: PaymentRow, kind: OperationKind): AppError {
  const wants = kind === "capture" || kind === "void" ? "requires_capture" : "succeeded";
  return new AppError("payment.invalid_state", `the payment is ${payment.status}; ${kind} needs it ${wants}`);
}

/**
 * Checks one operation against the payment and its channel's rules (nothing written yet) and decides its
 * amount. The conditional reservation that follows checks the money again, atomically.
 */
async function plan(sql: TransactionSql, payment: PaymentRow, ask: Ask, now: Date): Promise<number> {
  const { kind } = ask;
  if ((kind === "capture" || kind === "void") && payment.status !== "requires_capture") throw stateError(payment, kind);
  if ((kind === "cancel" || kind === "refund") && payment.status !== "succeeded") throw stateError(payment, kind);
  const flows = requireFlow(payment, kind);
  switch (kind) {
    case "capture": {
      const amount = ask.amount ?? payment.amountAuthorized;
      if (amount > payment.amountAuthorized)
        throw new AppError(
          "operation.amount_exceeds_authorized",
          `at most ${payment.amountAuthorized} can be captured`,
        );
      if (amount < payment.amountAuthorized && !flows.capture?.partial)
        throw new AppError("operation.partial_not_allowed", `${payment.channel} captures only the whole authorization`);
      return amount;
    }
    case "void":
      if (ask.amount !== undefined && ask.amount !== payment.amountAuthorized)
        throw new AppError(
          "operation.partial_not_allowed",
          `a void releases the whole authorization (${payment.amountAuthorized}); capture less instead`,
        );
      return payment.amountAuthorized;
    case "cancel":
      if (payment.amountRefunded + payment.amountRefundPending > 0)
        throw new AppError("payment.invalid_state", "the payment has refunds: a cancel must return all of it");
      if (!onSettlementDay(payment, flows, now))
        throw new AppError(
          "operation.cancel_window_closed",
          `the payment's settlement day at ${payment.channel} has closed (cut-off passed): refund it instead`,
        );
      return payment.amountCaptured;
    case "refund": {
      const amount = ask.amount!;
      if (payment.amountRefunded + payment.amountRefundPending + amount > payment.amountCaptured)
        throw new AppError(
          "operation.amount_exceeds_refundable",
          `at most ${payment.amountCaptured - payment.amountRefunded - payment.amountRefundPending} can still be refunded`,
        );
      checkRefundRules(payment, flows, amount, await liveRefunds(sql, payment.id), now);
      return amount;
    }
  }
}

async function execute(c: Ctx, deps: ApiDeps, paymentId: string, decide: (p: PaymentRow, now: Date) => Ask) {
  const { merchant, nonce, idempotencyKey } = c.get("auth");
  const now = new Date(deps.now?.() ?? Date.now());
  const result = await runIdempotent(
    deps.db,
    {
      merchantId: merchant.id,
      key: idempotencyKey!,
      hash: requestHash(c.req.method, c.req.path, c.get("rawBody")),
      nonce,
    },
    async (tx) => {
      const sql = sqlOf(tx);
      const payment = await lockPayment(sql, merchant.id, paymentId);
      const ask = decide(payment, now);
      const amount = await plan(sql, payment, ask, now);
      const op = await reserveOperation(sql, {
        id: newId(OPERATION_ID_PREFIX[ask.kind]),
        kind: ask.kind,
        paymentId,
        merchantId: merchant.id,
        merchantRef: ask.merchantRef,
        amount,
        reason: ask.reason,
        origin: ask.origin,
        cause: { cause: "api", causeRef: c.get("requestId") },
      }).catch((err: unknown) => {
        if (!(err instanceof OperationRefused)) throw err;
        const [code, message] = REFUSALS[err.refusal];
        throw appError(code, message);
      });
      return { status: 201, body: toApiOperation(op, payment.merchantOrderNo) };
    },
  );
  if (!result.replayed) deps.relay.notify();
  else c.header("idempotent-replayed", "true");
  return c.json(result.body as never, result.status as 201);
}

async function findRefund(deps: ApiDeps, merchantId: string, by: { id: string } | { no: string }) {
  const sql = deps.db.$client;
  const rows =
    "id" in by
      ? await sql<Record<string, unknown>[]>`select o.*, p.merchant_order_no from payment.payment_operations o
          join payment.payments p on p.id = o.payment_id
          where o.id = ${by.id} and o.merchant_id = ${merchantId} and o.kind = 'refund'`
      : await sql<Record<string, unknown>[]>`select o.*, p.merchant_order_no from payment.payment_operations o
          join payment.payments p on p.id = o.payment_id
          where o.merchant_id = ${merchantId} and o.kind = 'refund' and o.merchant_ref = ${by.no}`;
  const raw = rows[0];
  if (!raw) throw new AppError("operation.not_found", "no such refund");
  return toApiOperation(operationFromRaw(raw), raw.merchant_order_no as string);
}

/**
 * A payment's operations, oldest first (all kinds, or one). `reader`: a transaction to read them in (the
 * payment detail reads the payment and its operations in one snapshot).
 */
export async function operationsOf(
  deps: ApiDeps,
  paymentId: string,
  kind?: OperationKind,
  reader: Pick<Database, "execute"> = deps.db,
): Promise<OperationRow[]> {
  const rows = await reader.execute<Record<string, unknown>>(
    kind
      ? drizzleSql`select * from payment.payment_operations where payment_id = ${paymentId} and kind = ${kind} order by created_at, id`
      : drizzleSql`select * from payment.payment_operations where payment_id = ${paymentId} order by created_at, id`,
  );
  return [...rows].map(operationFromRaw);
}

/**
 * The operations on a payment: capture, void, cancel (撤销), refunds (退款) and reverse, each a record of its
 * own with the main flow of every mutating call: signature and Idempotency-Key (signedCall, runIdempotent),
 * the merchant's status, the payment is the caller's, the channel that took the money offers the flow,
 * its rules, then one transaction that reserves, records and announces it. The router runs it on that
 * channel; the result comes back as an event or a callback and is applied by applyOperationResults.
 */
export function registerOperations(app: PaymentApiApp, deps: ApiDeps): void {
  const middleware = signedCall(deps, { mutating: true, body: "json" });
  const paymentNotFound = validationHook({ notFound: { code: "payment.not_found", message: "no such payment" } });
  const refundNotFound = validationHook({ notFound: { code: "operation.not_found", message: "no such refund" } });
  const reads = signedCall(deps, { mutating: false, body: "none" });

  // Each mutating call: its route, and how its body (and for reverse, the payment) becomes the ask.
  type Body = {
    amount?: number;
    merchant_ref?: string;
    merchant_refund_no?: string;
    reason?: string;
  };
  // The routes differ only in their body schemas (validated by each); registered alike.
  const operationCalls: [unknown, (b: Body, p: PaymentRow, now: Date) => Ask][] = [
    [
      capturePayment,
      (b) => ({ kind: "capture", amount: b.amount, merchantRef: b.merchant_ref ?? null, reason: null, origin: "api" }),
    ],
    [
      voidPayment,
      (b) => ({
        kind: "void",
        amount: b.amount,
        merchantRef: b.merchant_ref ?? null,
        reason: b.reason ?? null,
        origin: "api",
      }),
    ],
    [
      cancelPayment,
      (b) => ({
        kind: "cancel",
        amount: undefined,
        merchantRef: b.merchant_ref ?? null,
        reason: b.reason ?? null,
        origin: "api",
      }),
    ],
    [
      refundPayment,
      (b) => ({
        kind: "refund",
        amount: b.amount,
        merchantRef: b.merchant_refund_no ?? null,
        reason: b.reason ?? null,
        origin: "api",
      }),
    ],
    [
      reversePayment,
      (b, payment, now) => {
        const choice = reverseKind(payment, now);
        return {
          kind: choice.kind,
          amount: choice.amount,
          merchantRef: b.merchant_ref ?? null,
          reason: b.reason ?? null,
          origin: "reverse",
        };
      },
    ],
  ];
  for (const [route, ask] of operationCalls)
    app.openapi(
      { ...(route as typeof capturePayment), middleware },
      (c) => {
        const body = c.req.valid("json") as Body;
        return execute(c, deps, c.req.valid("param").id, (payment, now) => ask(body, payment, now)) as never;
      },
      paymentNotFound,
    );
  app.openapi(
    { ...getRefund, middleware: reads },
    async (c) => c.json(await findRefund(deps, c.get("auth").merchant.id, { id: c.req.valid("param").id }), 200),
    refundNotFound,
  );
  app.openapi(
    { ...getRefundByNo, middleware: reads },
    async (c) =>
      c.json(await findRefund(deps, c.get("auth").merchant.id, { no: c.req.valid("query").merchant_refund_no }), 200),
    refundNotFound,
  );
  app.openapi(
    { ...listPaymentRefunds, middleware: reads },
    async (c) => {
      const { id } = c.req.valid("param");
      const [p] = await deps.db.$client<{ merchant_order_no: string }[]>`
        select merchant_order_no from payment.payments where id = ${id} and merchant_id = ${c.get("auth").merchant.id}`;
      if (!p) throw new AppError("payment.not_found", "no such payment");
      const refunds = await operationsOf(deps, id, "refund");
      return c.json({ data: refunds.map((r) => toApiOperation(r, p.merchant_order_no)) }, 200);
    },
    paymentNotFound,
  );
}
