import { createHash } from "node:crypto";
import { lt, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { idempotencyKeys, requestNonces } from "@pps/db/schema";
import { AppError } from "@pps/domain";

export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** What a mutating operation answers; stored and replayed for the same idempotency key. */
export type StoredResponse = { status: number; body: unknown };

export function requestHash(method: string, path: string, rawBody: string): string {
  return createHash("sha256").update(`${method}\n${path}\n${rawBody}`).digest("hex");
}

/** The advisory lock id of a (merchant, key): a concurrent request with the same key finds it taken. */
export function idempotencyLockKey(merchantId: string, key: string): bigint {
  return createHash("sha256").update(`${merchantId}\0${key}`).digest().readBigInt64BE(0);
}

/**
 * Runs a mutating operation exactly once per (merchant, Idempotency-Key), in one transaction:
 * - a concurrent request with the same key finds the advisory lock taken and is refused (409 in progress);
 * - a finished key with the same request replays the stored response; with another request it is refused;
 * - the nonce is recorded (a replay of a signed request is refused) only for requests that execute;
 * - the operation's writes, the nonce and the stored response commit together. An AppError thrown by the
 *   operation rolls everything back, so a refused request leaves nothing behind.
 */
export async function runIdempotent(
  db: Database,
  input: { merchantId: string; key: string; hash: string; nonce: string | null },
  operation: (tx: Tx) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  return db.transaction(async (tx) => {
    // The lock and the lookup in one round trip: this runs for every mutating call.
    const [row] = await tx.execute<{
      ok: boolean;
      existing: { requestHash: string; responseStatus: number; responseBody: unknown } | null;
    }>(sql`
      select pg_try_advisory_xact_lock(${idempotencyLockKey(input.merchantId, input.key)}) as ok,
             (select json_build_object('requestHash', request_hash, 'responseStatus', response_status, 'responseBody', response_body)
                from ${idempotencyKeys} where merchant_id = ${input.merchantId} and key = ${input.key}) as existing`);
    if (!row?.ok)
      throw new AppError(
        "request.idempotency_in_progress",
        "a request with this Idempotency-Key is still being processed",
      );
    const existing = row.existing;
    if (existing) {
      if (existing.requestHash !== input.hash)
        throw new AppError("request.idempotency_key_reused", "this Idempotency-Key was used with a different request");
      return { status: existing.responseStatus, body: existing.responseBody, replayed: true };
    }
    if (input.nonce !== null) {
      const inserted = await tx
        .insert(requestNonces)
        .values({ merchantId: input.merchantId, nonce: input.nonce })
        .onConflictDoNothing()
        .returning({ n: requestNonces.nonce });
      if (inserted.length === 0) throw new AppError("auth.nonce_replayed", "this nonce was already used");
    }
    const response = await operation(tx);
    await tx.insert(idempotencyKeys).values({
      merchantId: input.merchantId,
      key: input.key,
      requestHash: input.hash,
      responseStatus: response.status,
      responseBody: response.body,
    });
    return { ...response, replayed: false };
  });
}

/** Housekeeping: idempotency keys past retention, nonces past twice the timestamp window. */
export async function pruneReplayState(
  db: Database,
  opts: { idempotencyHours: number; nonceSeconds: number },
): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${opts.idempotencyHours})`));
  await db
    .delete(requestNonces)
    .where(lt(requestNonces.seenAt, sql`now() - make_interval(secs => ${opts.nonceSeconds})`));
}
