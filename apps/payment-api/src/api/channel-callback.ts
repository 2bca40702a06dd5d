import { and, desc, eq } from "drizzle-orm";
import type { ChannelAdapter, ChannelId } from "@pps/channels";
import { channelCallbacks, paymentAttempts, payments } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import type { Hono } from "hono";
import { recordAttempt } from "../consumers/channel-results.ts";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps } from "../http/context.ts";
import { transition } from "../payments/repository.ts";

type Outcome = "applied" | "duplicate" | "stale" | "unknown_attempt" | "mismatch";

/**
 * POST /v1/channel-callbacks/{channel}: a channel tells us an attempt's final result. The channel's own
 * signature is verified, the result is cross-checked against our records (attempt, channel, amount,
 * currency, their transaction id) and applied with a conditional transition, so duplicated, out-of-order
 * and stale callbacks change nothing wrongly. Every callback is recorded, whatever became of it.
 */
export function registerChannelCallbacks(app: Hono<PaymentApiEnv>, deps: ApiDeps & { adapters: ReadonlyMap<ChannelId, ChannelAdapter> }): void {
  app.post("/v1/channel-callbacks/:channel", async (c) => {
    const channel = c.req.param("channel") as ChannelId;
    const adapter = deps.adapters.get(channel);
    if (!adapter) throw new AppError("channel.unknown", "unknown channel");
    const rawBody = await c.req.text();
    if (Buffer.byteLength(rawBody) > deps.env.MAX_BODY_BYTES) throw new AppError("request.body_too_large", "callback too large");
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    const parsed = adapter.parseCallback({ headers, rawBody });
    if (!parsed.ok && parsed.reason === "not_final") {
      // A correctly signed report of a non-final state (e.g. a stale "not paid yet" arriving after the
      // final one): acknowledged so the channel stops sending it, and it changes nothing.
      await deps.db.insert(channelCallbacks).values({ channel, signatureValid: true, outcome: "stale", detail: parsed.detail.slice(0, 500) });
      const ack = adapter.callbackAck(true);
      return c.body(ack.body, ack.status as 200, { "content-type": ack.contentType });
    }
    if (!parsed.ok) {
      await deps.db.insert(channelCallbacks).values({ channel, signatureValid: parsed.reason !== "signature_invalid", outcome: parsed.reason === "signature_invalid" ? "rejected_signature" : "malformed", detail: parsed.detail.slice(0, 500) });
      deps.logger.warn({ channel, reason: parsed.reason }, "channel callback refused");
      if (parsed.reason === "signature_invalid") throw new AppError("channel.signature_invalid", "callback signature does not verify");
      throw new AppError("request.validation_failed", "callback is malformed");
    }
    const r = parsed.result;
    const outcome = await deps.db.transaction(async (tx): Promise<{ outcome: Outcome; detail?: string; paymentId?: string }> => {
      const [attempt] = await tx.select().from(paymentAttempts).where(eq(paymentAttempts.attemptId, r.attemptId));
      if (!attempt) return { outcome: "unknown_attempt" };
      const [payment] = await tx.select().from(payments).where(eq(payments.id, attempt.paymentId)).for("update");
      if (!payment) return { outcome: "unknown_attempt" };
      const mismatch = [
        attempt.channel !== channel && `channel ${channel} is not the attempt's ${attempt.channel}`,
        payment.amount !== r.amount && `amount ${r.amount} is not ${payment.amount}`,
        payment.currency !== r.currency && `currency ${r.currency} is not ${payment.currency}`,
        attempt.channelTxnId && attempt.channelTxnId !== r.channelTxnId && "their transaction id differs from the one they gave us",
      ].filter(Boolean);
      if (mismatch.length > 0) return { outcome: "mismatch", detail: mismatch.join("; "), paymentId: payment.id };

      const cause = { cause: `callback:${channel}`, causeRef: r.channelTxnId, detail: { attemptId: r.attemptId, status: r.status } };
      if (r.status === "succeeded") {
        await recordAttempt(tx, { ...attempt, outcome: "succeeded", channelTxnId: r.channelTxnId, failureCode: null, failureMessage: null });
        const moved = await transition(tx, payment.id, "succeeded", cause, { patch: { channel, channelTxnId: r.channelTxnId, settlement: r.settlement, failureCode: null, failureMessage: null } });
        return { outcome: moved ? "applied" : payment.status === "succeeded" ? "duplicate" : "stale", paymentId: payment.id };
      }
      // A failure only counts for the payment's latest attempt: an older attempt's failure must not
      // fail a payment the router has moved to another channel.
      const [latest] = await tx.select({ id: paymentAttempts.attemptId }).from(paymentAttempts).where(and(eq(paymentAttempts.paymentId, payment.id))).orderBy(desc(paymentAttempts.attemptNo)).limit(1);
      if (latest?.id !== attempt.attemptId) return { outcome: "stale", paymentId: payment.id };
      if (attempt.outcome !== "succeeded") await recordAttempt(tx, { ...attempt, outcome: "failed", channelTxnId: r.channelTxnId, failureCode: r.failureCode, failureMessage: r.failureMessage });
      const moved = await transition(tx, payment.id, "failed", cause, { onlyFrom: ["processing", "requires_action"], patch: { channel, failureCode: r.failureCode ?? "channel_failed", failureMessage: r.failureMessage } });
      return { outcome: moved ? "applied" : payment.status === "failed" ? "duplicate" : "stale", paymentId: payment.id };
    });
    await deps.db.insert(channelCallbacks).values({
      channel,
      attemptId: r.attemptId,
      paymentId: outcome.paymentId ?? null,
      channelTxnId: r.channelTxnId,
      reportedStatus: r.status,
      signatureValid: true,
      outcome: outcome.outcome,
      detail: outcome.detail ?? null,
    });
    if (outcome.outcome === "applied") deps.relay.notify();
    if (outcome.outcome === "mismatch") {
      deps.logger.error({ channel, attemptId: r.attemptId, detail: outcome.detail }, "channel callback does not match our records");
      throw new AppError("channel.callback_mismatch", "callback does not match our records");
    }
    // An attempt we have not heard of yet (the router's report is still on its way): answer with the
    // channel's failure acknowledgement so it retries later.
    const ack = adapter.callbackAck(outcome.outcome !== "unknown_attempt");
    return c.body(ack.body, ack.status as 200, { "content-type": ack.contentType });
  });
}
