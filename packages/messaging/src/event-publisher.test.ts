import type { Kafka, Producer } from "kafkajs";
import { describe, expect, it } from "vitest";
import { EventPublisher } from "./kafka.ts";

/** A kafkajs stand-in: each producer() is a fake whose sendBatch answers with what `answers` says, in turn. */
function fakeKafka(answers: (Error | null)[]) {
  const producers: { id: number; sent: number; connected: boolean }[] = [];
  const kafka = {
    producer: () => {
      const state = { id: producers.length + 1, sent: 0, connected: false };
      producers.push(state);
      return {
        connect: async () => {
          state.connected = true;
        },
        disconnect: async () => {
          state.connected = false;
        },
        sendBatch: async () => {
          state.sent++;
          const answer = answers.shift() ?? null;
          if (answer) throw answer;
          return [];
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, producers };
}

const protocolError = (type: string) => Object.assign(new Error(type), { name: "KafkaJSProtocolError", type });
const batch = [{ topic: "t", messages: [{ key: "k", value: "{}", type: "x", version: "1" }] }];

describe("EventPublisher", () => {
  it("replaces a producer whose idempotence state the broker refuses, before the next send", async () => {
    const { kafka, producers } = fakeKafka([protocolError("OUT_OF_ORDER_SEQUENCE_NUMBER"), null, null]);
    const publisher = new EventPublisher(kafka, "p.");
    await publisher.start();
    await expect(publisher.publishRaw(batch)).rejects.toThrow("OUT_OF_ORDER_SEQUENCE_NUMBER");
    await publisher.publishRaw(batch);
    await publisher.publishRaw(batch);
    expect(producers.map((p) => [p.id, p.sent])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(producers.map((p) => p.connected)).toEqual([false, true]);
    await publisher.stop();
    expect(producers[1]!.connected).toBe(false);
  });

  it("keeps its producer after any other failed send", async () => {
    const { kafka, producers } = fakeKafka([protocolError("NOT_LEADER_FOR_PARTITION"), new Error("timeout"), null]);
    const publisher = new EventPublisher(kafka);
    await publisher.start();
    await expect(publisher.publishRaw(batch)).rejects.toThrow();
    await expect(publisher.publishRaw(batch)).rejects.toThrow();
    await publisher.publishRaw(batch);
    expect(producers.map((p) => p.sent)).toEqual([3]);
  });
});
