import type { z } from "zod";
import type { ChannelOutcome, OperationOutcome } from "../types.ts";
import {
  DEFAULT_TIMEOUT_MS,
  type FetchLike,
  fetchTransport,
  type HttpResult,
  type HttpTransport,
  nodeHttpTransport,
} from "./http.ts";
import { assertNever, operationFailed, operationUnknown, unavailable, unknown } from "./outcomes.ts";

/** Options every create<Name>Adapter takes. */
export type AdapterOptions = {
  /** Default per-call timeout (5 s); a call's own `timeoutMs` wins. */
  timeoutMs?: number;
  /** For tests (or another dispatcher): calls go through this fetch instead of node:http. */
  fetch?: FetchLike;
  /** For tests; defaults to the clock. */
  now?: () => Date;
};

export type ResolvedOptions = { timeoutMs: number; call: HttpTransport; now: () => Date };

export function resolveOptions(opts: AdapterOptions = {}): ResolvedOptions {
  return {
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    call: opts.fetch ? fetchTransport(opts.fetch) : nodeHttpTransport,
    now: opts.now ?? (() => new Date()),
  };
}

/**
 * What a client makes of one exchange:
 * - ok: a correctly signed, well-formed answer (any HTTP status the channel uses for business answers);
 * - busy: the channel's signed "system busy, nothing taken" answer;
 * - not_sent / unknown: see HttpResult; an unsigned, garbled or 5xx answer is unknown.
 */
export type ClientAnswer<T> =
  | { kind: "ok"; status: number; data: T }
  | { kind: "busy"; detail: string }
  | { kind: "not_sent"; detail: string }
  | { kind: "unknown"; detail: string };

/** An exchange that gave no answer to read: see ClientAnswer. */
export type TransportFailure = Exclude<ClientAnswer<unknown>, { kind: "ok" }>;

/** The transport part of every adapter's mapping (the ok part is the channel's own). */
export function transportOutcome(answer: TransportFailure): ChannelOutcome {
  switch (answer.kind) {
    case "busy":
      return unavailable(`channel busy, nothing taken: ${answer.detail}`);
    case "not_sent":
      return unavailable(`request not sent: ${answer.detail}`);
    case "unknown":
      return unknown(answer.detail);
  }
}

/** A query that went wrong in transport tells nothing about the payment: always unknown, never failed. */
export function queryTransportOutcome(answer: TransportFailure): ChannelOutcome {
  return unknown(`query ${answer.kind}: ${answer.detail}`);
}

/**
 * The transport part of an operation call: nothing sent, or the channel's signed busy, is a definitive "not
 * done"; anything else (lost, garbled, unsigned, 5xx) is unknown, resolved by a query with the same request
 * number. `who` names the channel in the busy message.
 */
export function operationTransportOutcome(answer: TransportFailure, who = "channel"): OperationOutcome {
  switch (answer.kind) {
    case "busy":
      return operationFailed("channel_unavailable", `${who} busy, nothing done: ${answer.detail}`);
    case "not_sent":
      return operationFailed("channel_unavailable", `request not sent: ${answer.detail}`);
    case "unknown":
      return operationUnknown(answer.detail);
    default:
      return assertNever(answer, "client answer");
  }
}

/**
 * An operation query that went wrong in transport tells nothing about the operation: always unknown, never
 * failed (busy included). `what` names the query in the reason.
 */
export function operationQueryTransportOutcome(answer: TransportFailure, what = "query"): OperationOutcome {
  return operationUnknown(`${what} ${answer.kind}: ${answer.detail}`);
}

/** JSON.parse that reports failure as a value, for the answer and callback parsers. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Turns a raw HTTP result into a ClientAnswer, given the channel's own parse-and-verify step. */
export function classifyAnswer<T>(
  res: HttpResult,
  verify: (
    answer: Extract<HttpResult, { kind: "answer" }>,
  ) => { ok: true; data: T; busy: boolean } | { ok: false; detail: string },
): ClientAnswer<T> {
  if (res.kind === "not_sent") return { kind: "not_sent", detail: res.detail };
  if (res.kind === "lost") return { kind: "unknown", detail: res.detail };
  const verified = verify(res);
  // A busy answer counts only when it is the channel's own, signed, 503 "nothing taken".
  if (verified.ok && verified.busy && res.status === 503) return { kind: "busy", detail: `HTTP ${res.status}` };
  if (res.status >= 500) return { kind: "unknown", detail: `HTTP ${res.status} from channel` };
  if (!verified.ok) return { kind: "unknown", detail: `untrusted answer (HTTP ${res.status}): ${verified.detail}` };
  return { kind: "ok", status: res.status, data: verified.data };
}

/** A REST channel's answer: the resource of a 2xx answer, or the channel's error object, with the HTTP status. */
export type RestAnswer<T, E> = { status: number; ok: T } | { status: number; error: E };

/**
 * Reads a REST channel's verified JSON answer: a 2xx one by `success`, any other as the channel's error
 * object (`busy` tells its own "busy, nothing taken" error); the verify step of classifyAnswer.
 */
export function readRestAnswer<T, E>(
  status: number,
  json: unknown,
  success: { schema: z.ZodType<T>; what: string },
  error: { schema: z.ZodType<E>; busy: (e: E) => boolean },
): { ok: true; data: RestAnswer<T, E>; busy: boolean } | { ok: false; detail: string } {
  if (status < 300) {
    const parsed = success.schema.safeParse(json);
    return parsed.success
      ? { ok: true, data: { status, ok: parsed.data }, busy: false }
      : { ok: false, detail: `unexpected ${success.what} shape` };
  }
  const parsed = error.schema.safeParse(json);
  return parsed.success
    ? { ok: true, data: { status, error: parsed.data }, busy: error.busy(parsed.data) }
    : { ok: false, detail: "unexpected error shape" };
}

/** A REST answer's resource wrapped as the client's own answer type; its errors and transport failures pass. */
export function mapRestSuccess<T, E, U>(
  answer: ClientAnswer<RestAnswer<T, E>>,
  wrap: (status: number, value: T) => U,
): ClientAnswer<U | { status: number; error: E }> {
  if (answer.kind !== "ok") return answer;
  const data = answer.data;
  return { ...answer, data: "ok" in data ? wrap(data.status, data.ok) : data };
}

/** Our metadata in the channel's passthrough field ("attach" and friends), as sorted form pairs. */
export function encodePassthrough(metadata: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const k of Object.keys(metadata).sort()) params.append(k, metadata[k]!);
  return params.toString();
}

export function decodePassthrough(value: string | null | undefined): Record<string, string> {
  return value ? Object.fromEntries(new URLSearchParams(value)) : {};
}

export function headersToRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

/** Case-insensitive header lookup on a plain record (callbacks arrive as records). */
export function header(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function randomNonce(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
