import { generateKeyPairSync, randomBytes } from "node:crypto";

export const TEST_ADMIN_TOKEN = "test-admin-token-not-secret";

export type TestMerchant = {
  merchantId: string;
  scheme: "HMAC_SHA256" | "MD5" | "RSA_SHA256";
  secretKey?: string;
  privateKey?: string;
  platformPublicKey?: string;
};

/** Onboards a merchant through payment-api's admin API, as an operator would. */
export async function createTestMerchant(
  apiUrl: string,
  opts: { scheme?: TestMerchant["scheme"]; products?: string[]; adminToken?: string } = {},
): Promise<TestMerchant> {
  const scheme = opts.scheme ?? "HMAC_SHA256";
  const id = `m_${randomBytes(6).toString("hex")}`;
  let keys: { privateKey: string; publicKey: string } | undefined;
  if (scheme === "RSA_SHA256") {
    keys = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
  }
  const res = await fetch(`${apiUrl}/v1/admin/merchants`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${opts.adminToken ?? TEST_ADMIN_TOKEN}` },
    body: JSON.stringify({
      id,
      name: `Test shop ${id}`,
      sign_scheme: scheme,
      enabled_products: opts.products ?? ["online_banking", "platform_pay", "foreign_card", "carrier_billing"],
      ...(keys ? { public_key: keys.publicKey } : {}),
    }),
  });
  if (res.status !== 201) throw new Error(`creating a merchant failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { secret_key: string };
  if (scheme !== "RSA_SHA256") return { merchantId: id, scheme, secretKey: body.secret_key };
  const platform = (await (await fetch(`${apiUrl}/v1/platform-key`)).json()) as { public_key: string };
  return {
    merchantId: id,
    scheme,
    privateKey: keys!.privateKey,
    platformPublicKey: platform.public_key,
    secretKey: body.secret_key,
  };
}

export async function setPayerStatus(
  apiUrl: string,
  payerId: string,
  status: "active" | "frozen",
  adminToken = TEST_ADMIN_TOKEN,
): Promise<void> {
  const res = await fetch(`${apiUrl}/v1/admin/payers/${encodeURIComponent(payerId)}`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ status }),
  });
  if (!res.ok) throw new Error(`setting payer status failed: ${res.status}`);
}
