/** The parts of reconciler's OpenAPI document that are not routes (it has none yet). */
export const reconcilerApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Payment product service — reconciler API",
    version: "1.0.0",
    description: [
      "The production-shaped skeleton of reconciliation: it serves no API routes yet, only `/healthz`, `/readyz` and `/metrics`.",
      "Channel statements, matching and merchant statements come with their own issue; their routes will appear here as they are defined.",
    ].join("\n"),
  },
} as const;
