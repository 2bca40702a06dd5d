import { AppError } from "@pps/domain";
import {
  BEARER_ERRORS,
  boundedJson,
  createRoute,
  errorResponses,
  json,
  JSON_BODY_ERRORS,
  noQuery,
  type ServiceApp,
  validationHook,
  z,
} from "@pps/runtime";
import { notificationIdSchema, notificationSchema } from "@pps/api-contract";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, notificationView } from "./notification-views.ts";
import { internalSecurity } from "./notifier-api.ts";

const NOT_FOUND = "no such notification for this merchant";

export const resendNotificationRoute = createRoute({
  method: "post",
  path: "/internal/v1/notifications/{id}/resend",
  operationId: "resendNotification",
  tags: ["Internal"],
  summary: "Deliver a notification again, in a new attempt series from now",
  description:
    "For a delivered, dead or pending notification; the history is kept. Another merchant's notification is not found.",
  security: internalSecurity,
  middleware: [boundedJson()],
  request: {
    params: z.object({ id: notificationIdSchema }),
    query: noQuery,
    body: {
      required: true,
      content: json(z.strictObject({ merchant_id: merchantIdSchema }).openapi("NotificationResend")),
    },
  },
  responses: {
    200: { description: "Scheduled.", content: json(notificationSchema) },
    ...errorResponses([...BEARER_ERRORS, ...JSON_BODY_ERRORS, "request.not_found"]),
  },
});

/**
 * POST /internal/v1/notifications/{id}/resend: a new attempt series from now for a delivered, dead or pending
 * notification (history kept). The merchant id must match: another merchant's notification is "not found".
 */
export function resendNotification(app: ServiceApp, deps: { store: NotificationStore; onResent: () => void }): void {
  app.openapi(
    resendNotificationRoute,
    async (c) => {
      const req = c.req.valid("json");
      const row = await deps.store.resend(c.req.valid("param").id, req.merchant_id);
      if (!row) throw new AppError("request.not_found", NOT_FOUND);
      if (row.status === "pending") deps.onResent();
      c.get("logger").info(
        { notificationId: row.id, merchantId: row.merchantId, series: row.series, status: row.status },
        "notification resend requested",
      );
      const [withAttempts] = await deps.store.withAttempts([row]);
      return c.json(notificationView(row, withAttempts?.attemptRows ?? []), 200);
    },
    // A malformed id is an unknown notification, as it always was.
    validationHook({ notFound: { code: "request.not_found", message: NOT_FOUND } }),
  );
}
