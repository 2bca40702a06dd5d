import { merchants } from "@pps/db/schema";
import { SIGN_FORMATS, SIGN_SCHEMES, type SignFormat, type SignScheme } from "@pps/signing";
import { loadSigningVectors, type SigningVectorInput } from "@pps/signing/test-vectors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessApi, inProcessApi } from "../payment-api-test-kit.ts";

/**
 * The published test vectors (docs/signing-vectors.json) against the real server: every vector's signature
 * gets past authentication for a merchant configured with that scheme and format, one changed byte does
 * not, and every legacy request the vectors list as refused is refused with its code, writing nothing.
 */
type Vector = SigningVectorInput;
const vectors = loadSigningVectors();

let api: InProcessApi;
// The app's clock, set to each vector's timestamp.
let clockMs = 0;

async function configureMerchant(id: string, scheme: SignScheme, format: SignFormat) {
  const secretKey = scheme === "RSA_SHA256" ? "unused-for-rsa-requests" : vectors.keys[scheme].secret_key;
  const publicKey = scheme === "RSA_SHA256" ? vectors.keys.RSA_SHA256.public_key_pem : null;
  await api.db
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
  // Each case reconfigures the one vector merchant: the app must not answer from its cached copy.
  api.deps.merchants.invalidate(id);
}

function send(v: Vector, signature: string, scheme: SignScheme) {
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
  return api.request(`${v.path}${v.raw_query ? `?${v.raw_query}` : ""}`, {
    method: v.method,
    headers,
    ...(v.body ? { body: v.body } : {}),
  });
}

const code = async (res: Response) => ((await res.json()) as { error?: { code?: string } }).error?.code;

beforeAll(async () => {
  api = await inProcessApi("vectors", { now: () => clockMs });
});
afterAll(() => api.close());

describe.each(vectors.requests)("vector $name", (vector) => {
  it.each(SIGN_FORMATS.flatMap((format) => SIGN_SCHEMES.map((scheme) => ({ format, scheme }))))(
    "$format $scheme passes authentication; one changed byte does not",
    async ({ format, scheme }) => {
      await configureMerchant(vector.merchant_id, scheme, format);
      const signature = vector.signatures[format][scheme];
      const res = await send(vector, signature, scheme);
      // Past the signature the vectors' requests are refused for what they ask (a fake id, a made-up product),
      // never for how they are signed.
      expect(res.status).not.toBe(401);
      expect(await code(res)).not.toMatch(/^auth\./);
      const tampered = await send({ ...vector, timestamp: String(Number(vector.timestamp) + 1) }, signature, scheme);
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
    const before = await api.countRows();
    for (const v of legacy) {
      const res = await send(v, "0".repeat(64), "HMAC_SHA256");
      expect({ name: v.name, status: res.status, code: await code(res) }).toEqual({
        name: v.name,
        status: 400,
        code: EARLIER[v.reason] ?? "request.parameter_ambiguous",
      });
    }
    expect(await api.countRows()).toEqual(before);
  });
});
