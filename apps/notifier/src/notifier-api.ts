import { bearerTokenScheme } from "@pps/runtime";

/** The parts of notifier's OpenAPI document that are not routes. */
export const notifierApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Payment product service — notifier operator and internal API",
    version: "1.0.0",
    description: [
      "Per-merchant notification settings for operators (`Authorization: Bearer <ADMIN_TOKEN>`), and the internal API",
      "payment-api serves the merchant-facing notification calls from (`Authorization: Bearer <INTERNAL_TOKEN>`).",
      "The notification shapes are payment-api's (the merchant API's `Notification`).",
      "Errors have the shape `{ error: { code, message, requestId, details? } }` with stable codes.",
    ].join("\n"),
  },
  tags: [
    { name: "Settings", description: "Retry schedule and in-flight limit per merchant (operators)." },
    { name: "Internal", description: "For payment-api, inside the cluster." },
  ],
} as const;

export const adminSecurity = [{ AdminToken: [] }];
export const internalSecurity = [{ InternalToken: [] }];
export const notifierApiSecuritySchemes = {
  AdminToken: bearerTokenScheme("ADMIN_TOKEN"),
  InternalToken: bearerTokenScheme("INTERNAL_TOKEN"),
};
