import { AppError } from "@pps/domain";

/** NUL, and UTF-16 surrogates that are not part of a pair: Postgres refuses both, and no field needs them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const FORBIDDEN = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasForbiddenText(s: string): boolean {
  return FORBIDDEN.test(s);
}

export function assertCleanText(s: string, where: string): void {
  if (FORBIDDEN.test(s))
    throw new AppError("request.invalid_characters", `${where} contains NUL or unpaired surrogate characters`);
}

/**
 * Checks every string (keys included) of a parsed JSON value without recursion, so a hostile value can neither
 * smuggle NUL or lone surrogates into the database nor overflow the stack.
 */
export function assertCleanJson(value: unknown): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") assertCleanText(v, "the body");
    else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === "object") {
      for (const [k, inner] of Object.entries(v)) {
        assertCleanText(k, "the body");
        // JSON.parse makes "__proto__" an own key, but copying it anywhere (zod records, spreads) sets the
        // prototype instead: the field would be signed, accepted and silently lost.
        if (k === "__proto__") throw new AppError("request.validation_failed", "the key __proto__ is not allowed");
        stack.push(inner);
      }
    }
  }
}

/**
 * The path and query of a request, decoded, must be valid UTF-8 without NUL or lone surrogates: anything a
 * route reads from them reaches queries and logs.
 */
export function assertCleanUrl(url: string): void {
  const q = url.indexOf("?");
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2), q === -1 ? undefined : q);
  const query = q === -1 ? "" : url.slice(q + 1);
  for (const [part, where] of [
    [path, "the path"],
    [query.replace(/\+/g, " "), "the query"],
  ] as const) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      throw new AppError("request.invalid_characters", `${where} is not valid percent-encoded UTF-8`);
    }
    assertCleanText(decoded, where);
  }
}

/**
 * The nesting depth of a JSON text, measured by scanning (no parse, no recursion), stopping as soon as it
 * passes `limit`. Run before JSON.parse and before anything recursive sees the value.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > limit) return true;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return false;
}

export const MAX_JSON_DEPTH = 16;

/** JSON.parse behind the depth bound and the text checks; every failure is a 400 with a stable code. */
export function parseJsonSafely(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (jsonDepthExceeds(text, maxDepth))
    throw new AppError("request.json_too_deep", `JSON nested deeper than ${maxDepth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("request.invalid_json", "request body is not valid JSON");
  }
  assertCleanJson(value);
  return value;
}
