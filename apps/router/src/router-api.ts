import { bearerTokenScheme } from "@pps/runtime";

/** The parts of router's OpenAPI document that are not routes. */
export const routerApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Payment product service — router operator API",
    version: "1.0.0",
    description: [
      "Operators' view and controls of routing: channel settings, circuits, health, and why each payment went where it went.",
      "Routing has no public API; every call needs `Authorization: Bearer <ADMIN_TOKEN>`.",
      "Errors have the shape `{ error: { code, message, requestId, details? } }` with stable codes.",
    ].join("\n"),
  },
  tags: [
    { name: "Channels", description: "Settings, circuits and health of the channels." },
    { name: "Routing", description: "Decisions and attempts per payment." },
  ],
} as const;

export const adminSecurity = [{ AdminToken: [] }];
export const routerApiSecuritySchemes = { AdminToken: bearerTokenScheme("ADMIN_TOKEN") };
