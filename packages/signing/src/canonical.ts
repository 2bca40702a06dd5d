/** Field names that carry a signature and so are never part of the signed string. */
export const SIGNATURE_FIELDS = new Set(["sign", "sign_type", "signature"]);

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** JSON with object keys sorted at every depth, so both sides serialize a value identically. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, Json>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * The classic payment-gateway parameter string: keys sorted by byte order, `k=v` joined by `&`,
 * empty and null values and the signature fields left out. Nested values are written as canonical JSON.
 */
export function canonicalParams(params: Record<string, unknown>): string {
  return Object.keys(params)
    .filter((k) => !SIGNATURE_FIELDS.has(k))
    .sort()
    .flatMap((k) => {
      const v = params[k];
      if (v === undefined || v === null || v === "") return [];
      const text = typeof v === "object" ? canonicalJson(v) : String(v);
      return [`${k}=${text}`];
    })
    .join("&");
}
