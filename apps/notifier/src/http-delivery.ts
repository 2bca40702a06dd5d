import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { DestinationAgents } from "./destination-agents.ts";
import type { DestinationGuard } from "./destination-guard.ts";
import { pinnedLookup } from "./pinned-lookup.ts";

/**
 * One delivery attempt's result. `refused`: no request was made and none ever will be for this URL (the
 * destination is not allowed, or the URL is unusable); `failed`: worth retrying on the schedule.
 */
export type DeliveryResult = {
  outcome: "delivered" | "failed" | "refused";
  statusCode: number | null;
  latencyMs: number;
  /** The start of the response body, at most `maxResponseBytes`. */
  responseBody: string | null;
  /** A stable code: timeout, connection_refused, connection_reset, dns_failed, tls_error, connection_error, unexpected_status, destination_not_allowed, invalid_url. */
  error: string | null;
  errorDetail: string | null;
  /** A 429 or 503 that said how long to wait (Retry-After, in seconds). */
  retryAfterSeconds?: number | null;
};

export type DeliverInput = {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxResponseBytes: number;
  guard: DestinationGuard;
  /** Keep-alive pools per destination; without them every attempt opens a fresh connection. */
  agents?: DestinationAgents;
};

/** Retry-After as seconds from now: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Number(text);
  // An HTTP date names its weekday; anything else (a negative number, a word) is not one.
  if (!/^[a-z]{3},/i.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** A kept-alive connection the server had already closed: the request never reached it, so it goes again. */
const STALE_CONNECTION_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

function parseUrl(url: string): URL | null {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    if (u.username || u.password || !u.hostname) return null;
    return u;
  } catch {
    return null;
  }
}

function errorCode(err: NodeJS.ErrnoException): string {
  const code = err.code ?? "";
  if (code === "ECONNREFUSED") return "connection_refused";
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED") return "connection_reset";
  if (code === "ETIMEDOUT") return "timeout";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns_failed";
  if (
    code.startsWith("ERR_TLS") ||
    code.startsWith("CERT_") ||
    code.includes("SSL") ||
    code === "DEPTH_ZERO_SELF_SIGNED_CERT" ||
    code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
  )
    return "tls_error";
  return "connection_error";
}

/** Postgres text cannot hold NUL; control bytes in a stored response body help nobody. */
const clean = (s: string) => s.replaceAll("\u0000", "");

/**
 * POSTs a notification once: one deadline covers resolving, connecting, the request and the response
 * headers. A 2xx within it is a delivery; redirects are not followed (a 3xx is a failure: the merchant must
 * configure its final URL, and following would let a redirect steer us past the destination check). At most
 * `maxResponseBytes` of the response are read; beyond that the connection is dropped.
 */
export async function deliverOnce(input: DeliverInput): Promise<DeliveryResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = parseUrl(input.url);
  if (!url)
    return {
      outcome: "refused",
      statusCode: null,
      latencyMs: 0,
      responseBody: null,
      error: "invalid_url",
      errorDetail: "the notify URL is not an absolute http(s) URL without credentials",
    };

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), input.timeoutMs);
  });
  try {
    const destination = await Promise.race([input.guard.check(url.hostname), deadline]);
    if (destination === "timeout")
      return {
        outcome: "failed",
        statusCode: null,
        latencyMs: elapsed(),
        responseBody: null,
        error: "timeout",
        errorDetail: `no DNS answer within ${input.timeoutMs} ms`,
      };
    if (!destination.ok) {
      const refused = destination.error === "destination_not_allowed";
      return {
        outcome: refused ? "refused" : "failed",
        statusCode: null,
        latencyMs: elapsed(),
        responseBody: null,
        error: destination.error,
        errorDetail: destination.detail,
      };
    }
    const send = (mayRetryStale: boolean): Promise<DeliveryResult | "stale"> =>
      new Promise<DeliveryResult | "stale">((resolve) => {
        let settled = false;
        let response: IncomingMessage | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        const responseBody = () =>
          chunks.length ? clean(Buffer.concat(chunks).subarray(0, input.maxResponseBytes).toString("utf8")) : "";
        const finishWithResponse = (res: IncomingMessage) => {
          if (settled) return;
          settled = true;
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const retryAfter = status === 429 || status === 503 ? parseRetryAfter(res.headers["retry-after"]) : null;
          resolve({
            ...(retryAfter !== null ? { retryAfterSeconds: retryAfter } : {}),
            outcome: ok ? "delivered" : "failed",
            statusCode: status,
            latencyMs: elapsed(),
            responseBody: responseBody(),
            error: ok ? null : "unexpected_status",
            errorDetail: ok ? null : `HTTP ${status}`,
          });
        };
        const fail = (error: string, detail: string) => {
          if (settled) return;
          settled = true;
          resolve({
            outcome: "failed",
            statusCode: null,
            latencyMs: elapsed(),
            responseBody: null,
            error,
            errorDetail: detail,
          });
        };

        const request = url.protocol === "https:" ? httpsRequest : httpRequest;
        const req = request(url, {
          method: "POST",
          headers: { ...input.headers, "content-length": String(Buffer.byteLength(input.body)) },
          lookup: pinnedLookup(destination.addresses),
          // Without pools, a fresh connection per attempt; with them, the pool of exactly these addresses.
          agent: input.agents ? input.agents.get(url, destination.addresses) : false,
          maxHeaderSize: 16 * 1024,
        });
        let stale = false;
        void deadline.then(() => {
          if (stale) return;
          // The status line came in time: its answer stands, the rest of the body is not waited for.
          if (response) finishWithResponse(response);
          else fail("timeout", `no response within ${input.timeoutMs} ms`);
          req.destroy();
        });
        req.on("error", (err: NodeJS.ErrnoException) => {
          if (response) finishWithResponse(response);
          else if (mayRetryStale && req.reusedSocket && STALE_CONNECTION_CODES.has(err.code ?? "")) {
            stale = true;
            settled = true;
            resolve("stale");
          } else fail(errorCode(err), err.message.slice(0, 500));
        });
        req.on("response", (res) => {
          response = res;
          res.on("data", (chunk: Buffer) => {
            if (size >= input.maxResponseBytes) return;
            chunks.push(chunk);
            size += chunk.length;
            // Enough to show what the merchant said; stop reading rather than buffer an unbounded body.
            if (size >= input.maxResponseBytes) {
              finishWithResponse(res);
              res.destroy();
              req.destroy();
            }
          });
          res.on("end", () => finishWithResponse(res));
          res.on("close", () => finishWithResponse(res));
          res.on("error", () => finishWithResponse(res));
        });
        req.end(input.body);
      });
    const first = await send(true);
    return first === "stale" ? ((await send(false)) as DeliveryResult) : first;
  } finally {
    clearTimeout(timer);
  }
}
