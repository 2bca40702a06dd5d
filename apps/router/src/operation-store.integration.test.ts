import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ChannelAdapter,
  ChannelId,
  OperationOutcome,
  OperationQueryOutcome,
  OperationRequest,
} from "@pps/channels";
import type { Database } from "@pps/db";
import { attemptIdOf, newId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import type { Envelope, OperationResult } from "@pps/messaging";
import { isolatedDatabase } from "@pps/test-support";
import { OperationResolver } from "./operation-resolver.ts";
import { OperationRunner } from "./operation-runner.ts";
import { type NewOperationCall, OperationCallStore } from "./operation-store.ts";
import { createRouterMetrics } from "./router-metrics.ts";

// The operation calls' statements against a database of their own, with a scripted channel in place of an
// adapter (the channel-sim runs in router.integration.test.ts): what is recorded, reported and queried.

const logger = createLogger({ service: "router-operations-test", level: "silent" });
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let db: Database;
let store: OperationCallStore;
const metrics = createRouterMetrics(new Registry());

/** A channel that answers what the test tells it to, and counts what it was asked. */
class ScriptedChannel {
  operateAnswers: OperationOutcome[] = [];
  queryAnswers: OperationQueryOutcome[] = [];
  readonly operated: OperationRequest[] = [];
  readonly queried: OperationRequest[] = [];

  adapter(): ChannelAdapter {
    // Only the operation calls are used here; the rest of an adapter is never reached.
    return {
      id: "bank_direct",
      operate: async (request: OperationRequest) => {
        this.operated.push(request);
        return this.operateAnswers.shift() ?? { status: "unknown", reason: "no answer scripted" };
      },
      queryOperation: async (request: OperationRequest) => {
        this.queried.push(request);
        return this.queryAnswers.shift() ?? { status: "unknown", reason: "no answer scripted" };
      },
    } as unknown as ChannelAdapter;
  }
}

let channel: ScriptedChannel;
let runner: OperationRunner;
let resolver: OperationResolver;

function refundCall(amount = 2_500): NewOperationCall {
  const paymentId = newId("pay");
  const id = newId("re");
  return {
    id,
    paymentId,
    kind: "refund",
    channel: "bank_direct",
    amount,
    currency: "CNY",
    request: {
      kind: "refund",
      operationId: id,
      paymentId,
      attemptId: attemptIdOf(paymentId, 1),
      channelTxnId: "B123",
      amount,
      currency: "CNY",
      paymentAmount: 10_000,
      reason: "test",
      callbackUrl: "http://127.0.0.1:9/v1/channel-callbacks/bank_direct",
    },
    // Due only in an hour unless a test makes it due.
    nextQueryAt: Date.now() + 3_600_000,
  };
}

async function callRow(id: string) {
  const [row] = await db.$client<
    {
      status: string;
      channel_op_id: string | null;
      failure_code: string | null;
      next_query_at: string | null;
      completed_at: string | null;
      query_count: number;
    }[]
  >`select status, channel_op_id, failure_code, next_query_at, completed_at, query_count from routing.operation_calls where id = ${id}`;
  return row;
}

async function resultsOf(paymentId: string): Promise<OperationResult[]> {
  const rows = await db.$client<{ envelope: Envelope<OperationResult> }[]>`
    select envelope from routing.outbox where key = ${paymentId} order by id`;
  return rows.map((r) => r.envelope.payload);
}

async function makeDue(id: string, createdAgoMs = 0): Promise<void> {
  await db.$client`update routing.operation_calls set next_query_at = now() - interval '1 second',
    created_at = now() - make_interval(secs => ${createdAgoMs / 1000}::float8) where id = ${id}`;
}

describe("operation calls", () => {
  beforeAll(async () => {
    isolated = await isolatedDatabase("operation_calls");
    db = isolated.db;
    store = new OperationCallStore(db);
  });

  afterAll(async () => {
    await isolated?.close();
  });

  const setUp = () => {
    channel = new ScriptedChannel();
    const adapters = new Map<ChannelId, ChannelAdapter>([["bank_direct", channel.adapter()]]);
    const common = { adapters, store, notify: () => undefined, metrics, logger, timeoutMs: 1_000 };
    runner = new OperationRunner(common);
    resolver = new OperationResolver(common);
  };

  it("records a request once: a redelivery or a repeat under another message id does nothing more", async () => {
    const call = refundCall();
    const message = randomUUID();
    expect(await store.begin(message, call)).toEqual({ claimed: true, started: true });
    expect(await store.begin(message, call)).toEqual({ claimed: false, started: false });
    expect(await store.begin(randomUUID(), { ...call, amount: 1 })).toEqual({ claimed: true, started: false });
    const [row] = await db.$client<{ status: string; amount: string; request: OperationRequest }[]>`
      select status, amount, request from routing.operation_calls where id = ${call.id}`;
    expect(row).toMatchObject({ status: "sending", request: call.request });
    expect(Number(row?.amount)).toBe(2_500);
  });

  it("calls the channel once and reports its success with what the channel says it moved", async () => {
    setUp();
    const call = refundCall();
    await store.begin(randomUUID(), call);
    channel.operateAnswers.push({ status: "succeeded", channelOpId: "R1", amount: 2_500, currency: "CNY" });
    await runner.run(call);
    expect(channel.operated).toEqual([call.request]);
    expect(await callRow(call.id)).toMatchObject({ status: "succeeded", channel_op_id: "R1", next_query_at: null });
    expect((await callRow(call.id))?.completed_at).not.toBeNull();
    expect(await resultsOf(call.paymentId)).toEqual([
      expect.objectContaining({
        operationId: call.id,
        kind: "refund",
        channel: "bank_direct",
        outcome: "succeeded",
        channelOpId: "R1",
        amount: 2_500,
        currency: "CNY",
        reportedAmount: 2_500,
        reportedCurrency: "CNY",
        failureCode: null,
      }),
    ]);
  });

  it("reports a refusal as failed with the channel's code, and does not ask again", async () => {
    setUp();
    const call = refundCall();
    await store.begin(randomUUID(), call);
    channel.operateAnswers.push({ status: "failed", code: "not_settled", message: "refund before settlement" });
    await runner.run(call);
    expect(await callRow(call.id)).toMatchObject({
      status: "failed",
      failure_code: "not_settled",
      next_query_at: null,
    });
    expect(await resultsOf(call.paymentId)).toEqual([
      expect.objectContaining({ outcome: "failed", failureCode: "not_settled", reportedAmount: null }),
    ]);
  });

  it("resolves an unknown outcome by querying the same request, reporting unknown and then the answer once", async () => {
    setUp();
    const call = refundCall();
    await store.begin(randomUUID(), call);
    channel.operateAnswers.push({ status: "unknown", reason: "no answer within 2000 ms" });
    await runner.run(call);
    const unknown = await callRow(call.id);
    expect(unknown?.status).toBe("unknown");
    const nextQueryAt = new Date(unknown!.next_query_at!).getTime();
    expect(nextQueryAt).toBeGreaterThan(Date.now());
    expect(nextQueryAt).toBeLessThan(Date.now() + 2_000);

    await makeDue(call.id);
    channel.queryAnswers.push({ status: "unknown", reason: "still busy" });
    expect(await resolver.resolveOnce()).toBe(1);
    await makeDue(call.id);
    channel.queryAnswers.push({ status: "succeeded", channelOpId: "R9", amount: 2_500, currency: "CNY" });
    expect(await resolver.resolveOnce()).toBe(1);
    // Asked about the same request number each time; never sent again.
    expect(channel.operated).toHaveLength(1);
    expect(channel.queried.map((q) => q.operationId)).toEqual([call.id, call.id]);
    expect(await callRow(call.id)).toMatchObject({ status: "succeeded", channel_op_id: "R9", next_query_at: null });
    expect((await resultsOf(call.paymentId)).map((r) => [r.outcome, r.reportedAmount])).toEqual([
      ["unknown", null],
      ["succeeded", 2_500],
    ]);
    expect(await resolver.resolveOnce()).toBe(0);
  });

  it("reports an operation the channel never got as failed channel_unavailable, only after the grace period", async () => {
    setUp();
    const call = refundCall();
    await store.begin(randomUUID(), call);
    channel.operateAnswers.push({ status: "unknown", reason: "connection reset" });
    await runner.run(call);
    await makeDue(call.id, 5_000);
    channel.queryAnswers.push({ status: "not_found" });
    await resolver.resolveOnce();
    expect((await callRow(call.id))?.status).toBe("unknown");
    await makeDue(call.id, 180_000);
    channel.queryAnswers.push({ status: "not_found" });
    await resolver.resolveOnce();
    expect(await callRow(call.id)).toMatchObject({
      status: "failed",
      failure_code: "channel_unavailable",
      next_query_at: null,
    });
    const results = await resultsOf(call.paymentId);
    expect(results.map((r) => r.outcome)).toEqual(["unknown", "failed"]);
    expect(results[1]).toMatchObject({ failureCode: "channel_unavailable", reportedAmount: null });
    expect(results[1]?.failureMessage).toContain("never arrived");
  });

  it("a callback's settlement stops the queries and the late answer of a call in flight is not reported", async () => {
    setUp();
    const pending = refundCall();
    await store.begin(randomUUID(), pending);
    channel.operateAnswers.push({ status: "pending", channelOpId: "R5" });
    await runner.run(pending);
    expect((await callRow(pending.id))?.status).toBe("pending");
    await makeDue(pending.id);

    const message = randomUUID();
    expect(await store.settleByCallback(message, pending.id, "succeeded")).toEqual({ claimed: true, settled: true });
    expect(await callRow(pending.id)).toMatchObject({ status: "succeeded", next_query_at: null });
    expect(await resolver.resolveOnce()).toBe(0);
    expect(channel.queried).toHaveLength(0);
    expect(await store.settleByCallback(message, pending.id, "failed")).toEqual({ claimed: false, settled: false });

    // Settled while its call was still out: the call's own answer finds it moved.
    const inFlight = refundCall();
    await store.begin(randomUUID(), inFlight);
    await store.settleByCallback(randomUUID(), inFlight.id, "succeeded");
    channel.operateAnswers.push({ status: "unknown", reason: "timeout" });
    await runner.run(inFlight);
    expect(await callRow(inFlight.id)).toMatchObject({ status: "succeeded", next_query_at: null });
    expect(await resultsOf(inFlight.paymentId)).toEqual([]);
    expect(await store.settleByCallback(randomUUID(), "re_NOSUCH", "succeeded")).toEqual({
      claimed: true,
      settled: false,
    });
  });

  it("reports failed channel_unavailable without a call when the router has no adapter for the channel", async () => {
    setUp();
    const call = { ...refundCall(), channel: "nowhere" };
    await store.begin(randomUUID(), call);
    await runner.run(call);
    expect(channel.operated).toHaveLength(0);
    expect(await callRow(call.id)).toMatchObject({ status: "failed", failure_code: "channel_unavailable" });
  });
});
