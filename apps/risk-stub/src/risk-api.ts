import { bearerTokenScheme } from "@pps/runtime";

/** Rules documents and blocklist entries are small; anything bigger is a mistake or an attack. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The parts of risk-stub's OpenAPI document that are not routes. */
export const riskApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Payment product service — risk operator API",
    version: "1.0.0",
    description: [
      "Operators' controls of risk: the versioned rules document, the blocklist, and the decision made for each payment.",
      "Every call needs `Authorization: Bearer <ADMIN_TOKEN>`.",
      "Errors have the shape `{ error: { code, message, requestId, details? } }` with stable codes.",
    ].join("\n"),
  },
  tags: [
    { name: "Rules", description: "The rules document, replaced whole; every version is kept." },
    { name: "Blocklist", description: "Payer ids, device ids and IP addresses that are always blocked." },
    { name: "Decisions", description: "What was decided for a payment, and on what." },
  ],
} as const;

export const adminSecurity = [{ AdminToken: [] }];
export const riskApiSecuritySchemes = { AdminToken: bearerTokenScheme("ADMIN_TOKEN") };
