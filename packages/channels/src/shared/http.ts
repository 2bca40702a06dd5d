import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/**
 * One HTTP exchange with a channel, classified by what it tells us about the money:
 * - answer: the channel answered (any status); the caller still has to verify the signature.
 * - not_sent: the request never left (connection refused, DNS failure): the channel cannot have acted.
 * - lost: the request may have reached the channel (timeout, reset): the channel may have acted.
 */
export type HttpResult =
  | { kind: "answer"; status: number; headers: Headers; body: string }
  | { kind: "not_sent"; detail: string }
  | { kind: "lost"; detail: string };

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export type HttpRequest = { url: string; method: "GET" | "POST"; headers?: Record<string, string>; body?: string };

export const DEFAULT_TIMEOUT_MS = 5_000;

// Errors raised before a single byte of the request could reach the channel.
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

type ErrorWithCode = { code?: unknown; errors?: unknown; cause?: unknown };

function codesOf(err: unknown, depth = 0): string[] {
  if (depth > 4 || typeof err !== "object" || err === null) return [];
  const e = err as ErrorWithCode;
  const own = typeof e.code === "string" ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => codesOf(x, depth + 1)) : [];
  return [...own, ...nested, ...codesOf(e.cause, depth + 1)];
}

/** Whether a fetch failure certainly happened before the request was sent. Exported for tests. */
export function classifyFetchError(err: unknown): "not_sent" | "lost" {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "lost";
  const codes = codesOf(err);
  return codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c)) ? "not_sent" : "lost";
}

function describe(err: unknown): string {
  const codes = codesOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return codes.length ? `${message} (${[...new Set(codes)].join(", ")})` : message;
}

export async function httpCall(fetchImpl: FetchLike, req: HttpRequest, timeoutMs: number): Promise<HttpResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetchImpl(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      redirect: "manual",
    });
  } catch (err) {
    const kind = classifyFetchError(err);
    if (kind === "lost" && err instanceof Error && err.name === "TimeoutError")
      return { kind, detail: `no answer within ${timeoutMs} ms` };
    return { kind, detail: describe(err) };
  }
  try {
    // The body can still be cut off (timeout or reset) after the headers arrived: the channel did act on it.
    const body = await res.text();
    return { kind: "answer", status: res.status, headers: res.headers, body };
  } catch (err) {
    return { kind: "lost", detail: `answer cut off: ${describe(err)}` };
  }
}

/** One HTTP exchange as the adapters make it: the request, and the classified result. */
export type HttpTransport = (req: HttpRequest, timeoutMs: number) => Promise<HttpResult>;

/** A transport over an injected fetch (tests, or a fetch with its own dispatcher). */
export function fetchTransport(fetchImpl: FetchLike): HttpTransport {
  return (req, timeoutMs) => httpCall(fetchImpl, req, timeoutMs);
}

/**
 * An idle kept-alive socket is closed by us after 4 s, before a server's own idle timeout closes it (5 s is
 * Node's default, and common): a request written onto a socket the server is closing at that moment is
 * reset unanswered, which we must count as unknown and resolve by query (seen in bench:refund as a refund
 * that took two minutes to be given up). Only idle sockets are affected; a call in flight keeps its own timeout.
 */
const IDLE_SOCKET_MS = 4_000;
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_MS }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_MS }),
};

/**
 * The default transport: node:http with keep-alive connections. It classifies failures exactly as
 * httpCall does, and costs a fraction of the CPU of the WHATWG fetch (no web streams, no Request and
 * Response objects): this runs for every payment.
 */
export const nodeHttpTransport: HttpTransport = (req, timeoutMs) =>
  new Promise<HttpResult>((resolve) => {
    const url = new URL(req.url);
    const secure = url.protocol === "https:";
    const send = secure ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (result: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    let answered = false;
    const outgoing = send(
      url,
      {
        method: req.method,
        headers: {
          ...req.headers,
          ...(req.body !== undefined ? { "content-length": String(Buffer.byteLength(req.body)) } : {}),
        },
        agent: secure ? agents.https : agents.http,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
          finish({
            kind: "answer",
            status: res.statusCode ?? 0,
            headers,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
        // The body can still be cut off (timeout or reset) after the headers arrived: the channel did act on it.
        res.on("error", (err) => finish({ kind: "lost", detail: `answer cut off: ${describe(err)}` }));
        res.on("aborted", () => finish({ kind: "lost", detail: "answer cut off" }));
      },
    );
    const timer = setTimeout(() => {
      outgoing.destroy();
      finish({ kind: "lost", detail: answered ? "answer cut off: timed out" : `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    outgoing.on("error", (err) =>
      finish(
        answered
          ? { kind: "lost", detail: `answer cut off: ${describe(err)}` }
          : { kind: classifyFetchError(err), detail: describe(err) },
      ),
    );
    outgoing.end(req.body);
  });
