/**
 * Wire types of the merchant API, inferred from the contract (@pps/api-contract) that payment-api serves:
 * nothing here is written by hand, so the SDK cannot drift from the server.
 */
import type { merchantRoutes } from "@pps/api-contract";
import type { z } from "zod";

export type {
  ApiErrorBody,
  CreatePaymentParams,
  EventEnvelope,
  EventsPage,
  Notification,
  Payment,
  PaymentDetail,
} from "@pps/api-contract";
export type { ApiProduct as Product, PaymentStatus } from "@pps/domain";

type Routes = typeof merchantRoutes;
export type OperationId = keyof Routes;

type JsonSchemaOf<T> = T extends { content: { "application/json": { schema: infer S extends z.ZodType } } } ? S : never;

/** The JSON body an operation takes (what you pass: defaults may be left out). */
export type RequestBody<Op extends OperationId> = Routes[Op]["request"] extends { body: infer B }
  ? z.input<JsonSchemaOf<B>>
  : undefined;

/** The query parameters an operation takes. */
export type RequestQuery<Op extends OperationId> = Routes[Op]["request"] extends { query: infer Q extends z.ZodType }
  ? z.input<Q>
  : undefined;

/** The body of an operation's successful answer. */
export type ResponseBody<Op extends OperationId> = {
  [S in keyof Routes[Op]["responses"]]: S extends 200 | 201
    ? z.output<JsonSchemaOf<Routes[Op]["responses"][S]>>
    : never;
}[keyof Routes[Op]["responses"]];

export type NextAction = ResponseBody<"createPayment">["next_action"];
export type VerificationResent = ResponseBody<"resendVerification">;
export type NotificationList = ResponseBody<"listPaymentNotifications">;
export type PlatformKey = ResponseBody<"getPlatformKey">;
/** A capture, void, cancel or refund. */
export type Operation = ResponseBody<"refundPayment">;
export type RefundList = ResponseBody<"listPaymentRefunds">;
