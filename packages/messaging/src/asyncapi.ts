import { z } from "zod";
import { envelopeSchema } from "./envelope.ts";
import { ALL_EVENTS } from "./events/index.ts";
import { eventKey } from "./registry.ts";
import { TOPICS } from "./topics.ts";

/** JSON Schema of one event's full message: the envelope with its payload schema in place. */
export function eventJsonSchema(def: (typeof ALL_EVENTS)[number]) {
  const message = envelopeSchema.extend({ type: z.literal(def.type), version: z.literal(def.version), payload: def.payload });
  return { $id: `${eventKey(def.type, def.version)}.json`, title: `${def.type} v${def.version}`, description: def.description, ...z.toJSONSchema(message, { unrepresentable: "any" }) };
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
      messages: Object.fromEntries(events.map((e) => [eventKey(e.type, e.version).replace(/[@.]/g, "_"), { $ref: `#/components/messages/${eventKey(e.type, e.version).replace(/[@.]/g, "_")}` }])),
    };
    operations[`receive_${id}`] = { action: "receive", channel: { $ref: `#/channels/${id}` } };
    for (const e of events) {
      const name = eventKey(e.type, e.version).replace(/[@.]/g, "_");
      messages[name] = {
        name: e.type,
        title: `${e.type} v${e.version}`,
        summary: e.description,
        contentType: "application/json",
        headers: { type: "object", properties: { "event-type": { const: e.type }, "event-version": { const: String(e.version) } } },
        payload: eventJsonSchema(e),
      };
    }
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Payment product service events",
      version: "1.0.0",
      description:
        "Every message is JSON in one envelope {id, type, version, occurredAt, aggregateId, payload}, keyed by aggregateId (the payment id), so one payment's events are ordered within one partition. Delivery is at least once: deduplicate by envelope id; order payment events by payload.version. New fields may be added to a version; removing or changing a field makes a new version, published alongside the old one until consumers move. Topic names may carry a deployment prefix.",
    },
    defaultContentType: "application/json",
    channels,
    operations,
    components: { messages },
  };
}
