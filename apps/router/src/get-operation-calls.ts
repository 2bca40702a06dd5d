import { OPERATION_KINDS } from "@pps/domain";
import { BEARER_ERRORS, type ServiceApp, validationHook, z } from "@pps/runtime";
import { OPERATION_CALL_STATUSES, type OperationCallStatus } from "./operation-policy.ts";
import type { OperationCallStore } from "./operation-store.ts";
import { paymentRecordsRoute, queriedRowShape, queriedRowView } from "./payment-records-route.ts";

export const operationCallsSchema = z
  .object({
    paymentId: z.string(),
    operations: z.array(
      z.object({
        id: z.string().openapi({
          description: "The operation's id (re_…, cap_…, void_…, cxl_…): our request number at the channel.",
        }),
        kind: z.enum(OPERATION_KINDS),
        channel: z.string().openapi({ description: "The channel that took the money: operations never go elsewhere." }),
        status: z.enum(OPERATION_CALL_STATUSES),
        amount: z.int().openapi({ description: "Minor units of the currency." }),
        currency: z.string(),
        channelOpId: z.string().nullable(),
        ...queriedRowShape("When the channel is asked about it next; null: never."),
      }),
    ),
  })
  .openapi("OperationCalls");
type OperationCallsBody = z.output<typeof operationCallsSchema>;

export const getOperationCallsRoute = paymentRecordsRoute({
  path: "/v1/routing/operations/{paymentId}",
  operationId: "getOperationCalls",
  summary: "The channel calls of a payment's operations (capture, void, cancel, refund)",
  description: "The payment's operation calls in the order they were requested (none: an empty list).",
  schema: operationCallsSchema,
  errors: BEARER_ERRORS,
});

/** GET /v1/routing/operations/{paymentId}: what each operation's channel call did, and whether it is still asked about. */
export function getOperationCalls(app: ServiceApp, deps: { operations: OperationCallStore }): void {
  app.openapi(
    getOperationCallsRoute,
    async (c) => {
      const { paymentId } = c.req.valid("param");
      const calls = await deps.operations.callsFor(paymentId);
      const body: OperationCallsBody = {
        paymentId,
        operations: calls.map((o) => ({
          id: o.id,
          kind: o.kind as (typeof OPERATION_KINDS)[number],
          channel: o.channel,
          status: o.status as OperationCallStatus,
          amount: o.amount,
          currency: o.currency,
          channelOpId: o.channelOpId,
          ...queriedRowView(o),
        })),
      };
      return c.json(body, 200);
    },
    validationHook(),
  );
}
