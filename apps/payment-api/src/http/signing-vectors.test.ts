import { channelConfigFromEnv, createChannelAdapters } from "@pps/channels";
import { merchants } from "@pps/db/schema";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { SIGN_FORMATS, SIGN_SCHEMES, type SignFormat, type SignScheme } from "@pps/signing";
import { loadSigningVectors, type SigningVectorInput } from "@pps/signing/test-vectors";
import { isolatedDatabase } from "@pps/test-support";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../app.ts";
import { loadAppEnv } from "../env.ts";
import { FrozenPayers, MerchantDirectory } from "../payments/merchants.ts";

/**
 * The published test vectors (docs/signing-vectors.json) against the real server: every vector's signature
 * gets past authentication for a merchant configured with that scheme and format, one changed byte does
 * not, and every legacy request the vectors list as refused is refused with its code, writing nothing.
 */
type Vector = SigningVectorInput;
const vectors = loadSigningVectors();

let database: Awaited<ReturnType<typeof isolatedDatabase>>;
let clockMs = 0;

function appFor() {
  const env = loadAppEnv({ DATABASE_URL: database.databaseUrl });
  return createApp({
    db: database.db,
    env,
    logger: createLogger({ service: "vectors-test", level: "silent" }),
    // A fresh directory per app: each case reconfigures the one vector merchant.
    merchants: new MerchantDirectory(database.db, 0),
    frozenPayers: new FrozenPayers(database.db),
    relay: { notify() {} },
    sms: { send: async () => undefined },
    metrics: createMetrics("vectors-test"),
    readiness: [],
    adapters: createChannelAdapters(channelConfigFromEnv(env.channelVars)),
    now: () => clockMs,
  });
}

async function configureMerchant(id: string, scheme: SignScheme, format: SignFormat) {
  const secretKey = scheme === "RSA_SHA256" ? "unused-for-rsa-requests" : vectors.keys[scheme].secret_key;
  const publicKey = scheme === "RSA_SHA256" ? vectors.keys.RSA_SHA256.public_key_pem : null;
  await database.db
    .insert(merchants)
    .values({
      id,
      name: "Vector shop",
      signScheme: scheme,
      signFormat: format,
      secretKey,
      publicKey,
      enabledProducts: ["online_banking"],
    })
    .onConflictDoUpdate({
      target: merchants.id,
      set: { signScheme: scheme, signFormat: format, secretKey, publicKey },
    });
}

function send(app: ReturnType<typeof appFor>, v: Vector, signature: string, scheme: SignScheme) {
  clockMs = Number(v.timestamp) * 1000;
  const headers: Record<string, string> = {
    "x-merchant-id": v.merchant_id,
    "x-timestamp": v.timestamp,
    "x-signature": signature,
    "x-sign-type": scheme,
    "idempotency-key": `vec-${v.name}`,
  };
  if (v.nonce) headers["x-nonce"] = v.nonce;
  if (v.body) headers["content-type"] = "application/json";
  return app.request(`${v.path}${v.raw_query ? `?${v.raw_query}` : ""}`, {
    method: v.method,
    headers,
    ...(v.body ? { body: v.body } : {}),
  });
}

const code = async (res: Response) => ((await res.json()) as { error?: { code?: string } }).error?.code;

async function rowCounts() {
  const rows = await database.db.execute<{ t: string; n: string }>(sql`
    select 'payments' as t, count(*)::text as n from payment.payments union all
    select 'nonces', count(*)::text from payment.request_nonces union all
    select 'idempotency', count(*)::text from payment.idempotency_keys union all
    select 'outbox', count(*)::text from payment.outbox`);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

beforeAll(async () => {
  database = await isolatedDatabase("vectors");
});
afterAll(() => database.close());

describe.each(vectors.requests)("vector $name", (vector) => {
  it.each(SIGN_FORMATS.flatMap((format) => SIGN_SCHEMES.map((scheme) => ({ format, scheme }))))(
    "$format $scheme passes authentication; one changed byte does not",
    async ({ format, scheme }) => {
      await configureMerchant(vector.merchant_id, scheme, format);
      const app = appFor();
      const signature = vector.signatures[format][scheme];
      const res = await send(app, vector, signature, scheme);
      // Past the signature the vectors' requests are refused for what they ask (a fake id, a made-up product),
      // never for how they are signed.
      expect(res.status).not.toBe(401);
      expect(await code(res)).not.toMatch(/^auth\./);
      const tampered = await send(
        app,
        { ...vector, timestamp: String(Number(vector.timestamp) + 1) },
        signature,
        scheme,
      );
      expect(tampered.status).toBe(401);
      expect(await code(tampered)).toBe("auth.signature_invalid");
    },
  );
});

describe("refused legacy vectors", () => {
  // Where an earlier, format-independent bound catches the request first, its own code answers.
  const EARLIER: Record<string, string> = {
    invalid_query_encoding: "request.invalid_characters",
    too_deep: "request.json_too_deep",
  };
  // A GET with a body cannot be sent through fetch; packages/signing's own tests cover that vector.
  const legacy = vectors.refused.filter((r) => r.format === "legacy_params" && !(r.method === "GET" && r.body));

  it(`refuses each of the ${legacy.length} with its code and writes nothing`, async () => {
    await configureMerchant("m_test_0001", "HMAC_SHA256", "legacy_params");
    const app = appFor();
    const before = await rowCounts();
    for (const v of legacy) {
      const res = await send(app, v, "0".repeat(64), "HMAC_SHA256");
      expect({ name: v.name, status: res.status, code: await code(res) }).toEqual({
        name: v.name,
        status: 400,
        code: EARLIER[v.reason] ?? "request.parameter_ambiguous",
      });
    }
    expect(await rowCounts()).toEqual(before);
  });
});
