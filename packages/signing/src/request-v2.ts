import { createHash } from "node:crypto";

/** First line of every v2 canonical request. A new format gets a new tag, so no string is valid in two formats. */
export const REQUEST_V2_TAG = "PPS-SIGN-V2";

/** A request as it went over the wire: nothing here is decoded, normalised or re-serialised. */
export type RawRequest = {
  method: string;
  /** The path exactly as sent in the request line: everything before the first `?`, percent-escapes kept. */
  path: string;
  /** The query exactly as sent: everything after the first `?`, without it; "" when there is none. */
  rawQuery: string;
  merchantId: string;
  /** The X-Timestamp header text (unix seconds). */
  timestamp: string;
  /** The X-Nonce header text; null (or "") for a read that carries none. */
  nonce: string | null;
  /** The exact body bytes (a string stands for its UTF-8 bytes); null, undefined or empty for no body. */
  body?: Uint8Array | string | null | undefined;
};

export type RequestV2Field = "method" | "path" | "rawQuery" | "merchantId" | "timestamp" | "nonce";
export type RequestV2Refusal = {
  ok: false;
  reason: "line_break_in_field" | "invalid_method" | "invalid_path";
  field: RequestV2Field;
};
export type CanonicalV2Result = { ok: true; canonical: string } | RequestV2Refusal;

const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An HTTP method is a token (RFC 9110 §5.6.2); checked before upper-casing, which could change its length (ß → SS). */
export function isHttpMethod(method: string): boolean {
  return METHOD_TOKEN.test(method);
}
const LINE_BREAK = /[\r\n]/;

/** Lowercase hex SHA-256 of the exact body bytes; the empty body hashes to e3b0c442…b855. */
export function bodyDigest(body: Uint8Array | string | null | undefined): string {
  const hash = createHash("sha256");
  if (typeof body === "string") hash.update(body, "utf8");
  else if (body) hash.update(body);
  return hash.digest("hex");
}

/**
 * Splits a request target as sent (`/v1/payments?a=1`) into its path and raw query at the first `?`.
 * A fragment is never sent, so one here is part of the query text.
 */
export function splitRequestTarget(target: string): { path: string; rawQuery: string } {
  const at = target.indexOf("?");
  return at === -1 ? { path: target, rawQuery: "" } : { path: target.slice(0, at), rawQuery: target.slice(at + 1) };
}

/**
 * The v2 canonical request: eight lines joined by `\n` (no trailing newline) that pin every byte the server
 * acts on — tag, METHOD, path, raw query, merchant id, timestamp, nonce, hex SHA-256 of the body. Nothing
 * is parsed, so a field cannot move between body and query, and no value can imitate another field.
 * A line break inside a field would let it spill into the next line, so such input is refused.
 */
export function canonicalRequestV2(request: RawRequest): CanonicalV2Result {
  const nonce = request.nonce ?? "";
  const lines: [RequestV2Field, string][] = [
    ["method", request.method],
    ["path", request.path],
    ["rawQuery", request.rawQuery],
    ["merchantId", request.merchantId],
    ["timestamp", request.timestamp],
    ["nonce", nonce],
  ];
  for (const [field, value] of lines) {
    if (LINE_BREAK.test(value)) return { ok: false, reason: "line_break_in_field", field };
  }
  if (!isHttpMethod(request.method)) return { ok: false, reason: "invalid_method", field: "method" };
  // The path ends at the first `?`; one inside it means the caller split the target differently from us.
  if (!request.path.startsWith("/") || request.path.includes("?"))
    return { ok: false, reason: "invalid_path", field: "path" };
  const canonical = [
    REQUEST_V2_TAG,
    request.method.toUpperCase(),
    request.path,
    request.rawQuery,
    request.merchantId,
    request.timestamp,
    nonce,
    bodyDigest(request.body),
  ].join("\n");
  return { ok: true, canonical };
}
