import { isHttpMethod } from "./request-v2.ts";

/**
 * The `legacy_params` request format: the classic sorted `k=v&…` string, kept for merchants configured for
 * it. Every request it accepts yields exactly the string `requestSigningPayload` gave, so existing merchants'
 * signatures still verify; every request whose string could also stand for another request is refused.
 *
 * Why the rules below make the string unambiguous (a string determines the request it was built from):
 * - no `&` in any key, value or nested text, so the string splits into pairs at every `&`;
 * - no `=` in a top-level key, so each pair splits into key and value at its first `=` (a `=` in a value is harmless);
 * - keys are unique: no duplicate query key, no key in both body and query, no reserved name as a field;
 * - fields sit in one place fixed by the signed method (body for POST/PUT/PATCH, query otherwise), so a field
 *   cannot move between body and query;
 * - no empty string or null (they would be dropped: `{a:""}` would equal `{}`);
 * - no top-level string starting with `{` or `[`: such text is always an object's or array's canonical JSON.
 * What remains: a top-level body number or boolean reads like its string (`1` and `"1"`); the API's strict
 * schemas type every field, so the two never mean the same request. v2 has no such residue.
 */

/** Names the format adds itself or that carry a signature: a request field with one of them is refused. */
export const LEGACY_RESERVED_KEYS: ReadonlySet<string> = new Set([
  "merchant_id",
  "timestamp",
  "nonce",
  "http_method",
  "http_path",
  "sign",
  "sign_type",
  "signature",
]);

/** Arrays and objects nested inside one field value, at most. Hostile input must not drive unbounded work or recursion. */
export const LEGACY_MAX_NESTING = 32;

/** Methods whose fields are read from the body; every other method's fields are read from the query. */
const BODY_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH"]);
/** Printable ASCII: byte order, UTF-16 order and every language's default string order agree on it. */
const TOP_LEVEL_KEY = /^[\x21-\x7e]+$/;

export type LegacyRefusalReason =
  | "invalid_method"
  | "body_not_object"
  | "invalid_query_encoding"
  | "duplicate_query_key"
  | "field_in_body_and_query"
  | "query_on_body_method"
  | "body_on_query_method"
  | "reserved_key"
  | "invalid_key"
  | "separator_in_key"
  | "separator_in_value"
  | "empty_value"
  | "json_like_string"
  | "unsupported_value"
  | "too_deep";

/** `field` names the offending field (a request field, or merchant_id, timestamp, nonce, http_method, http_path). */
export type LegacyRefusal = { ok: false; reason: LegacyRefusalReason; field?: string };
export type LegacyRequestStringResult = { ok: true; payload: string } | LegacyRefusal;

/** Query parameters decoded by the caller, every value of each name (Hono's `c.req.queries()`). */
export type DecodedQuery = Readonly<Record<string, readonly string[]>>;

export type LegacyParamsRequest = {
  method: string;
  /** The request path without the query, as the server routes it. */
  path: string;
  /**
   * The query: either as sent, without the leading `?` (decoded here, strictly, as form encoding: `+` is a
   * space), or already decoded with every value of each name. A name given twice is refused either way.
   */
  query: string | DecodedQuery;
  merchantId: string;
  timestamp: string;
  nonce: string | null;
  /** The parsed JSON body: an object, or undefined/null when there is none. */
  body: unknown;
};

function refuse(reason: LegacyRefusalReason, field?: string): LegacyRefusal {
  return field === undefined ? { ok: false, reason } : { ok: false, reason, field };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Code-unit order, as `canonicalJson` sorts, so accepted requests keep today's string. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Decodes an `application/x-www-form-urlencoded` query strictly: malformed percent-escapes or invalid UTF-8
 * are refused rather than guessed at, so the value signed is the value the handler reads.
 */
export function parseLegacyQuery(
  query: string | DecodedQuery,
): { ok: true; params: Map<string, string> } | LegacyRefusal {
  const params = new Map<string, string>();
  if (typeof query !== "string") {
    for (const [key, values] of Object.entries(query)) {
      if (values.length > 1) return refuse("duplicate_query_key", key);
      if (values[0] !== undefined) params.set(key, values[0]);
    }
    return { ok: true, params };
  }
  for (const segment of query.split("&")) {
    if (segment === "") continue; // `a=1&&b=2` carries the same fields as `a=1&b=2` for every parser
    const eq = segment.indexOf("=");
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent((eq === -1 ? segment : segment.slice(0, eq)).replaceAll("+", " "));
      value = eq === -1 ? "" : decodeURIComponent(segment.slice(eq + 1).replaceAll("+", " "));
    } catch {
      return refuse("invalid_query_encoding");
    }
    if (params.has(key)) return refuse("duplicate_query_key", key);
    params.set(key, value);
  }
  return { ok: true, params };
}

type Frame =
  | { kind: "array"; items: readonly unknown[]; next: number }
  | { kind: "object"; entries: [string, unknown][]; next: number };

/**
 * Canonical JSON (keys sorted at every depth, as `canonicalJson` writes it) of a nested field value, with an
 * explicit stack instead of recursion and at most LEGACY_MAX_NESTING levels. Refuses `&` in every string and
 * key inside, and anything JSON cannot carry.
 */
function nestedCanonicalJson(root: object, field: string): { ok: true; text: string } | LegacyRefusal {
  const out: string[] = [];
  const stack: Frame[] = [];
  let pending: unknown = root;
  let hasPending = true;
  for (;;) {
    if (hasPending) {
      hasPending = false;
      const value = pending;
      if (value === null) out.push("null");
      else if (typeof value === "string") {
        if (value.includes("&")) return refuse("separator_in_value", field);
        out.push(JSON.stringify(value));
      } else if (typeof value === "number") {
        if (!Number.isFinite(value)) return refuse("unsupported_value", field);
        out.push(JSON.stringify(value));
      } else if (typeof value === "boolean") out.push(value ? "true" : "false");
      else if (Array.isArray(value)) {
        if (stack.length >= LEGACY_MAX_NESTING) return refuse("too_deep", field);
        out.push("[");
        stack.push({ kind: "array", items: value, next: 0 });
      } else if (isPlainObject(value)) {
        if (stack.length >= LEGACY_MAX_NESTING) return refuse("too_deep", field);
        // An undefined member is absent on the wire (JSON.stringify drops it), as canonicalJson drops it.
        const entries = Object.entries(value).filter(([, v]) => v !== undefined);
        for (const [k] of entries) if (k.includes("&")) return refuse("separator_in_value", field);
        entries.sort(([a], [b]) => byCodeUnits(a, b));
        out.push("{");
        stack.push({ kind: "object", entries, next: 0 });
      } else return refuse("unsupported_value", field);
    }
    const top = stack.at(-1);
    if (!top) break;
    if (top.kind === "array") {
      if (top.next < top.items.length) {
        if (top.next > 0) out.push(",");
        pending = top.items[top.next++];
        if (pending === undefined) return refuse("unsupported_value", field);
        hasPending = true;
      } else {
        out.push("]");
        stack.pop();
      }
    } else if (top.next < top.entries.length) {
      const [k, v] = top.entries[top.next++]!;
      out.push(`${top.next > 1 ? "," : ""}${JSON.stringify(k)}:`);
      pending = v;
      hasPending = true;
    } else {
      out.push("}");
      stack.pop();
    }
  }
  return { ok: true, text: out.join("") };
}

/** The text of one top-level field value, or why it cannot be written unambiguously. */
function fieldText(field: string, value: unknown): { ok: true; text: string } | LegacyRefusal {
  if (value === null || value === "") return refuse("empty_value", field);
  if (typeof value === "string") {
    if (value.includes("&")) return refuse("separator_in_value", field);
    if (value.startsWith("{") || value.startsWith("[")) return refuse("json_like_string", field);
    return { ok: true, text: value };
  }
  if (typeof value === "number")
    return Number.isFinite(value) ? { ok: true, text: String(value) } : refuse("unsupported_value", field);
  if (typeof value === "boolean") return { ok: true, text: String(value) };
  if (typeof value === "object") return nestedCanonicalJson(value, field);
  return refuse("unsupported_value", field);
}

function keyRefusal(key: string): LegacyRefusal | null {
  if (LEGACY_RESERVED_KEYS.has(key)) return refuse("reserved_key", key);
  if (key.includes("&") || key.includes("=")) return refuse("separator_in_key", key);
  if (!TOP_LEVEL_KEY.test(key)) return refuse("invalid_key", key);
  return null;
}

/**
 * The legacy canonical string: body fields, query parameters, merchant_id, timestamp, nonce (left out when
 * empty), http_method (upper case) and http_path, sorted by key, `k=v` joined by `&`; nested values as
 * canonical JSON. Refuses, with a reason, every request the string would not pin down (see the file header).
 * Checks run in a fixed order (method and fixed fields, body shape, query, overlap, placement, then each
 * field in key order), so a request always gets the same reason.
 */
export function legacyRequestString(request: LegacyParamsRequest): LegacyRequestStringResult {
  if (!isHttpMethod(request.method)) return refuse("invalid_method", "http_method");
  const method = request.method.toUpperCase();
  const fixed: [string, string][] = [
    ["merchant_id", request.merchantId],
    ["timestamp", request.timestamp],
    ["nonce", request.nonce ?? ""],
    ["http_method", method],
    ["http_path", request.path],
  ];
  for (const [key, value] of fixed) {
    if (value.includes("&")) return refuse("separator_in_value", key);
    if (key !== "nonce" && value === "") return refuse("empty_value", key);
  }

  const body = request.body ?? {};
  if (!isPlainObject(body)) return refuse("body_not_object");
  const query = parseLegacyQuery(request.query);
  if (!query.ok) return query;

  const bodyKeys = Object.keys(body).filter((k) => body[k] !== undefined);
  for (const key of bodyKeys) if (query.params.has(key)) return refuse("field_in_body_and_query", key);
  if (BODY_METHODS.has(method)) {
    if (query.params.size > 0) return refuse("query_on_body_method", query.params.keys().next().value);
  } else if (bodyKeys.length > 0) return refuse("body_on_query_method", bodyKeys[0]);

  const pairs: [string, string][] = [];
  const fields: [string, unknown][] = [...query.params, ...bodyKeys.map((k): [string, unknown] => [k, body[k]])];
  fields.sort(([a], [b]) => byCodeUnits(a, b));
  for (const [key, value] of fields) {
    const bad = keyRefusal(key);
    if (bad) return bad;
    const text = fieldText(key, value);
    if (!text.ok) return text;
    pairs.push([key, text.text]);
  }
  for (const [key, value] of fixed) if (value !== "") pairs.push([key, value]);
  // Every key is printable ASCII, so code-unit order is byte order, as `canonicalParams` sorts.
  pairs.sort(([a], [b]) => byCodeUnits(a, b));
  return { ok: true, payload: pairs.map(([k, v]) => `${k}=${v}`).join("&") };
}
