import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildAsyncApi, eventJsonSchema } from "./asyncapi.ts";
import { ALL_EVENTS } from "./events/index.ts";
import { eventKey } from "./registry.ts";
import { TOPICS } from "./topics.ts";

const docs = fileURLToPath(new URL("../../../docs/events/", import.meta.url));

describe("the published event contract", () => {
  it("committed docs match the zod schemas (run `pnpm --filter @pps/messaging docs` after a change)", () => {
    expect(JSON.parse(readFileSync(`${docs}asyncapi.json`, "utf8"))).toEqual(
      JSON.parse(JSON.stringify(buildAsyncApi())),
    );
    const files = readdirSync(`${docs}schemas`).sort();
    expect(files).toEqual(ALL_EVENTS.map((e) => `${eventKey(e.type, e.version)}.json`).sort());
    for (const e of ALL_EVENTS) {
      expect(JSON.parse(readFileSync(`${docs}schemas/${eventKey(e.type, e.version)}.json`, "utf8"))).toEqual(
        JSON.parse(JSON.stringify(eventJsonSchema(e))),
      );
    }
  });

  it("documents every topic and puts every event on a catalogue topic", () => {
    const doc = buildAsyncApi();
    expect(Object.keys(doc.channels).sort()).toEqual(Object.keys(TOPICS).sort());
    const names = new Set(Object.values(TOPICS).map((t) => t.name));
    for (const e of ALL_EVENTS) expect(names.has(e.topic), e.type).toBe(true);
  });

  it("puts no personal data on a topic that is not restricted, at any version still produced", () => {
    const personal = new Set(["ip", "deviceId", "phone"]);
    const propertyNames = (schema: unknown): string[] => {
      if (schema === null || typeof schema !== "object") return [];
      const props = (schema as { properties?: Record<string, unknown> }).properties ?? {};
      return [...Object.keys(props), ...Object.values(schema as Record<string, unknown>).flatMap(propertyNames)];
    };
    const restricted = new Set<string>(
      Object.values(TOPICS)
        .filter((t) => t.restricted)
        .map((t) => t.name),
    );
    const open = ALL_EVENTS.filter((e) => !restricted.has(e.topic) && !e.retired);
    expect(open.map((e) => eventKey(e.type, e.version))).toContain("payment.created@v2");
    for (const e of open)
      expect(
        propertyNames(eventJsonSchema(e).properties).filter((p) => personal.has(p)),
        eventKey(e.type, e.version),
      ).toEqual([]);
    // The restricted twins do carry it: that is what they are for.
    const twin = ALL_EVENTS.find((e) => e.type === "payment.internal.processing")!;
    expect(restricted.has(twin.topic)).toBe(true);
    expect(propertyNames(eventJsonSchema(twin).properties)).toEqual(
      expect.arrayContaining(["ip", "deviceId", "phone"]),
    );
  });

  it("tags restricted topics, and documents retired versions as deprecated beside the version that replaced them", () => {
    const doc = buildAsyncApi() as unknown as {
      channels: Record<string, { tags?: { name: string }[] }>;
      components: { messages: Record<string, { deprecated?: boolean }> };
    };
    for (const [id, topic] of Object.entries(TOPICS))
      expect(doc.channels[id]?.tags?.map((t) => t.name) ?? [], id).toEqual(topic.restricted ? ["restricted"] : []);
    const retired = ALL_EVENTS.filter((e) => e.retired);
    expect(retired.length).toBeGreaterThan(0);
    for (const e of retired) {
      expect(
        doc.components.messages[eventKey(e.type, e.version).replace(/[@.]/g, "_")]?.deprecated,
        eventKey(e.type, e.version),
      ).toBe(true);
      expect(
        ALL_EVENTS.some((n) => n.type === e.type && n.topic === e.topic && n.version > e.version && !n.retired),
        `${e.type} has a produced successor`,
      ).toBe(true);
    }
  });

  it("the schema of a payment event requires the envelope fields and integer amounts", () => {
    const schema = eventJsonSchema(ALL_EVENTS.find((e) => e.type === "payment.succeeded")!) as unknown as {
      required: string[];
      properties: { payload: { properties: { amount: { type: string } } } };
    };
    expect(schema.required).toEqual(
      expect.arrayContaining(["id", "type", "version", "occurredAt", "aggregateId", "payload"]),
    );
    expect(schema.properties.payload.properties.amount.type).toBe("integer");
  });
});
