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
    expect(JSON.parse(readFileSync(`${docs}asyncapi.json`, "utf8"))).toEqual(JSON.parse(JSON.stringify(buildAsyncApi())));
    const files = readdirSync(`${docs}schemas`).sort();
    expect(files).toEqual(ALL_EVENTS.map((e) => `${eventKey(e.type, e.version)}.json`).sort());
    for (const e of ALL_EVENTS) {
      expect(JSON.parse(readFileSync(`${docs}schemas/${eventKey(e.type, e.version)}.json`, "utf8"))).toEqual(JSON.parse(JSON.stringify(eventJsonSchema(e))));
    }
  });

  it("documents every topic and puts every event on a catalogue topic", () => {
    const doc = buildAsyncApi();
    expect(Object.keys(doc.channels).sort()).toEqual(Object.keys(TOPICS).sort());
    const names = new Set(Object.values(TOPICS).map((t) => t.name));
    for (const e of ALL_EVENTS) expect(names.has(e.topic), e.type).toBe(true);
  });

  it("the schema of a payment event requires the envelope fields and integer amounts", () => {
    const schema = eventJsonSchema(ALL_EVENTS.find((e) => e.type === "payment.succeeded")!) as unknown as { required: string[]; properties: { payload: { properties: { amount: { type: string } } } } };
    expect(schema.required).toEqual(expect.arrayContaining(["id", "type", "version", "occurredAt", "aggregateId", "payload"]));
    expect(schema.properties.payload.properties.amount.type).toBe("integer");
  });
});
