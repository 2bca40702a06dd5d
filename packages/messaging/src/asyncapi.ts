import { z } from "zod";
import { envelopeSchema } from "./envelope.ts";
import { ALL_EVENTS } from "./events/index.ts";
import { eventKey } from "./registry.ts";
import { TOPICS } from "./topics.ts";

const RESTRICTED_TAG = {
  name: "restricted",
  description:
    "Personal data. Read and write only as the listed producers and consumers (Kafka ACLs); never offered to other teams; dead letters of it carry no value.",
};

/** JSON Schema of one event's full message: the envelope with its payload schema in place. */
export function eventJsonSchema(def: (typeof ALL_EVENTS)[number]) {
  const message = envelopeSchema.extend({
    type: z.literal(def.type),
    version: z.literal(def.version),
    payload: def.payload,
  });
  const description = def.retired ? `${def.description} ${def.retired}` : def.description;
  return {
    $id: `${eventKey(def.type, def.version)}.json`,
    title: `${def.type} v${def.version}`,
    description,
    ...(def.retired ? { deprecated: true } : {}),
    ...z.toJSONSchema(message, { unrepresentable: "any" }),
  };
}

/** The AsyncAPI 3.0 document for downstream consumers, generated from the same zod schemas the code validates with. */
export function buildAsyncApi() {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const [id, topic] of Object.entries(TOPICS)) {
    const events = ALL_EVENTS.filter((e) => e.topic === topic.name);
    channels[id] = {
      address: topic.name,
      description: `${topic.description} Producers: ${topic.producers.join(", ")}. Consumers: ${topic.consumers.join(", ")}.`,
      ...(topic.restricted ? { tags: [RESTRICTED_TAG] } : {}),
      messages: Object.fromEntries(
        events.map((e) => [
          eventKey(e.type, e.version).replace(/[@.]/g, "_"),
          { $ref: `#/components/messages/${eventKey(e.type, e.version).replace(/[@.]/g, "_")}` },
        ]),
      ),
    };
    operations[`receive_${id}`] = { action: "receive", channel: { $ref: `#/channels/${id}` } };
    for (const e of events) {
      const name = eventKey(e.type, e.version).replace(/[@.]/g, "_");
      messages[name] = {
        name: e.type,
        title: `${e.type} v${e.version}`,
        summary: e.description,
        ...(e.retired ? { description: e.retired, deprecated: true } : {}),
        contentType: "application/json",
        headers: {
          type: "object",
          properties: { "event-type": { const: e.type }, "event-version": { const: String(e.version) } },
        },
        payload: eventJsonSchema(e),
      };
    }
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Payment product service events",
      version: "2.0.0",
      description: [
        "Every message is JSON in one envelope {id, type, version, occurredAt, aggregateId, payload}, keyed by aggregateId (the payment id), so one payment's events are ordered within one partition. Delivery is at least once: deduplicate by envelope id; order payment events by payload.version. Select the payload schema by the envelope's type and version (also in the event-type and event-version headers). New fields may be added to a version; removing or changing a field makes a new version, published alongside the old one until consumers move, unless the old one must stop at once (see 2.0.0). A version no longer produced is marked deprecated and kept here while its messages can remain on a topic. Topic names may carry a deployment prefix.",
        "",
        "Topics tagged `restricted` carry personal data: only the producers and consumers they list may read them (Kafka ACLs); they are not offered to other teams.",
        "",
        "## Changelog",
        "",
        "- **2.0.0**: payment.* **v2** on pps.payment.events.v1. Breaking: `payload.payer` is `{ id }` only; `ip`, `deviceId` and `phone` left the public topic (personal data). payment-api produces v2 only: v1 is not published alongside, as that would keep the personal data public, so accept v2 before it ships. v1 is deprecated, no longer produced, and remains on the topic until its retention (7 days) runs out. New restricted topic pps.payment.internal.v1 (payment.internal.created, .submitted, .processing v1), the full snapshot for risk-stub and router.",
        "- **1.0.0**: first release.",
      ].join("\n"),
    },
    defaultContentType: "application/json",
    channels,
    operations,
    components: { messages },
  };
}
