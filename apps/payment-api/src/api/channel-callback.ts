import { channelCallback } from "@pps/api-contract";
import type { ChannelAdapter, ChannelId } from "@pps/channels";
import { channelCallbacks } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import { assertCleanText, jsonDepthExceeds, readLimitedBody, validationHook } from "@pps/runtime";
import type { ApiDeps, PaymentApiApp } from "../http/context.ts";
import { createCallbackApplier } from "../payments/callback-batch.ts";

/**
 * POST /v1/channel-callbacks/{channel}: a channel tells us an attempt's final result. The channel's own
 * signature is verified, the result is cross-checked against our records (attempt, channel, amount,
 * currency, their transaction id) and applied with a conditional transition, so duplicated, out-of-order
 * and stale callbacks change nothing wrongly. Every callback is recorded, whatever became of it.
 */
export function registerChannelCallbacks(
  app: PaymentApiApp,
  deps: ApiDeps & { adapters: ReadonlyMap<ChannelId, ChannelAdapter> },
): void {
  // Callbacks that arrive together are applied together (group commit): see callback-batch.ts.
  const applier = createCallbackApplier(deps.db, { logger: deps.logger });
  const notFound = validationHook({ notFound: { code: "channel.unknown", message: "unknown channel" } });
  // The callback's format is the channel's own (an octet stream to the router), so the route validates only
  // its path; the channel's adapter parses and verifies the rest.
  app.openapi(
    channelCallback,
    async (c) => {
      const channel = c.req.valid("param").channel as ChannelId;
      const adapter = deps.adapters.get(channel);
      if (!adapter) throw new AppError("channel.unknown", "unknown channel");
      // Unauthenticated until the channel's signature verifies: bounded as it streams, and never parsed deeper than a channel's message goes.
      const { text: rawBody } = await readLimitedBody(c.req.raw, deps.env.MAX_BODY_BYTES);
      assertCleanText(rawBody, "the callback");
      if (jsonDepthExceeds(rawBody, 8)) throw new AppError("request.validation_failed", "callback is malformed");
      const headers: Record<string, string> = {};
      c.req.raw.headers.forEach((v, k) => {
        headers[k.toLowerCase()] = v;
      });
      const parsed = adapter.parseCallback({ headers, rawBody });
      if (!parsed.ok && parsed.reason === "not_final") {
        // A correctly signed report of a non-final state (e.g. a stale "not paid yet" arriving after the
        // final one): acknowledged so the channel stops sending it, and it changes nothing.
        await deps.db
          .insert(channelCallbacks)
          .values({ channel, signatureValid: true, outcome: "stale", detail: parsed.detail.slice(0, 500) });
        const ack = adapter.callbackAck(true);
        return c.body(ack.body, ack.status as 200, { "content-type": ack.contentType }) as never;
      }
      if (!parsed.ok) {
        await deps.db.insert(channelCallbacks).values({
          channel,
          signatureValid: parsed.reason !== "signature_invalid",
          outcome: parsed.reason === "signature_invalid" ? "rejected_signature" : "malformed",
          detail: parsed.detail.slice(0, 500),
        });
        deps.logger.warn({ channel, reason: parsed.reason }, "channel callback refused");
        if (parsed.reason === "signature_invalid")
          throw new AppError("channel.signature_invalid", "callback signature does not verify");
        throw new AppError("request.validation_failed", "callback is malformed");
      }
      const item = "result" in parsed ? { channel, result: parsed.result } : { channel, operation: parsed.operation };
      const ref = "result" in parsed ? parsed.result.attemptId : parsed.operation.operationId;
      const outcome = await applier.submit(item);
      if (outcome.outcome === "applied" || outcome.outcome === "held_for_review") deps.relay.notify();
      if (outcome.outcome === "held_for_review")
        // Recorded and held for an operator (payment or operation requires_review): acknowledged, so the
        // channel stops repeating what we already hold.
        deps.logger.error({ channel, ref }, "channel reported an amount or currency that is not ours; held for review");
      if (outcome.outcome === "mismatch") {
        deps.logger.error({ channel, ref, detail: outcome.detail }, "channel callback does not match our records");
        throw new AppError("channel.callback_mismatch", "callback does not match our records");
      }
      // An attempt or operation we have no record of (an id we never made): the channel's failure
      // acknowledgement, so it retries and the callback stays on record for reconciliation.
      const ack = adapter.callbackAck(outcome.outcome !== "unknown_attempt");
      return c.body(ack.body, ack.status as 200, { "content-type": ack.contentType }) as never;
    },
    notFound,
  );
}
