import { readFileSync } from "node:fs";
import type { SignFormat } from "./merchant-request.ts";
import type { SignScheme } from "./schemes.ts";

/**
 * The published request-signature test vectors (docs/signing-vectors.json), typed, for the tests that check
 * them: this package's, the server's and the SDK's. Test-only keys: never use them anywhere else.
 */
export type SigningVectorInput = {
  name: string;
  method: string;
  path: string;
  raw_query: string;
  merchant_id: string;
  timestamp: string;
  nonce: string | null;
  body: string;
};

export type SigningVectors = {
  keys: {
    HMAC_SHA256: { secret_key: string };
    MD5: { secret_key: string };
    RSA_SHA256: { private_key_pem: string; public_key_pem: string };
  };
  requests: (SigningVectorInput & {
    body_sha256: string;
    canonical: Record<SignFormat, string>;
    signatures: Record<SignFormat, Record<SignScheme, string>>;
  })[];
  refused: (SigningVectorInput & { format: SignFormat; reason: string; field?: string })[];
};

export function loadSigningVectors(): SigningVectors {
  return JSON.parse(
    readFileSync(new URL("../../../docs/signing-vectors.json", import.meta.url), "utf8"),
  ) as SigningVectors;
}
