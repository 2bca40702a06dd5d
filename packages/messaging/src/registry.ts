import type { z } from "zod";
import type { TopicName } from "./topics.ts";
import type { Envelope } from "./envelope.ts";

/** One event type at one version: its topic and payload schema. */
export type EventDefinition<T extends string = string, S extends z.ZodType = z.ZodType> = {
  readonly type: T;
  readonly version: number;
  readonly topic: TopicName;
  readonly description: string;
  readonly payload: S;
  /**
   * Set on a version no longer produced but still read (messages of it stay on the topic within retention,
   * and consumers must take them during a rollout): why it was retired and what replaces it.
   */
  readonly retired?: string;
};

export function defineEvent<T extends string, S extends z.ZodType>(def: EventDefinition<T, S>): EventDefinition<T, S> {
  return def;
}

export type PayloadOf<E extends EventDefinition> = z.infer<E["payload"]>;

export function eventKey(type: string, version: number): string {
  return `${type}@v${version}`;
}

export class EventRegistry {
  private readonly byKey = new Map<string, EventDefinition>();

  constructor(definitions: readonly EventDefinition[]) {
    for (const d of definitions) {
      const key = eventKey(d.type, d.version);
      if (this.byKey.has(key)) throw new Error(`event ${key} defined twice`);
      this.byKey.set(key, d);
    }
  }

  get(type: string, version: number): EventDefinition | undefined {
    return this.byKey.get(eventKey(type, version));
  }

  all(): EventDefinition[] {
    return [...this.byKey.values()];
  }

  /** Validates the payload of an envelope against its registered schema. */
  parse(envelope: Envelope): { ok: true; envelope: Envelope } | { ok: false; reason: string } {
    const def = this.get(envelope.type, envelope.version);
    if (!def) return { ok: false, reason: `unknown event ${eventKey(envelope.type, envelope.version)}` };
    const result = def.payload.safeParse(envelope.payload);
    if (!result.success)
      return {
        ok: false,
        reason: `invalid payload: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      };
    return { ok: true, envelope: { ...envelope, payload: result.data } };
  }
}
