import { SIM_CHANNELS } from "./channels/index.ts";

/** The parts of channel-sim's OpenAPI document that are not routes. */
export const simApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Payment product service — channel-sim operator API",
    version: "1.0.0",
    description: [
      "The simulator's own controls and inspection, for tests, benchmarks and development: channel-wide faults, each channel's book (its transactions with their amounts and operations: captures, voids, cancels, refunds) and its clock (ageing a transaction onto an earlier settlement day), queued callbacks and the SMS outbox.",
      "These routes take no credentials, like the rest of the simulator: keep channel-sim's port inside the cluster.",
      "",
      "**Not documented here:** the simulated channels' endpoints (under " +
        Object.values(SIM_CHANNELS)
          .map((c) => `\`${c.mount}\``)
          .join(", ") +
        ": gateways, unified orders, checkout orders, payer pages, scan confirmation, …) and the SMS gateway's `POST /sms/send`.",
      "They imitate third parties' own formats (form posts, XML, signed JSON, HTML pages), which the channel adapters in packages/channels describe; they are not our API.",
      "Errors of the routes documented here have the shape `{ error: { code, message, requestId, details? } }` with stable codes.",
    ].join("\n"),
  },
  tags: [
    { name: "Faults", description: "Channel-wide misbehaviour on demand." },
    {
      name: "Book",
      description:
        "The transactions each simulated channel holds, with what was authorized, captured and refunded and every operation on them; ageing moves one into the past, so the channels' settlement calendar and windows can be tested.",
    },
    { name: "Callbacks", description: "Asynchronous results queued for the merchant side, and their deliveries." },
    { name: "SMS", description: "What the simulated SMS gateway sent." },
  ],
} as const;

/** What the document leaves out: the simulated channels' own APIs and the SMS gateway's. */
export function isSimulatedThirdPartyRoute(path: string): boolean {
  return (
    path === "/sms/send" || Object.values(SIM_CHANNELS).some((c) => path === c.mount || path.startsWith(`${c.mount}/`))
  );
}
