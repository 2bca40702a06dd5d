import { randomUUID } from "node:crypto";
import { z } from "zod";

/**
 * The one envelope every Kafka message carries (public contract, see docs/events).
 * `type` + `version` select the payload schema; `aggregateId` is also the message key.
 */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().regex(/^[a-z]+(\.[a-z_]+)+$/),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  aggregateId: z.string().min(1).max(128),
  payload: z.unknown(),
});

export type Envelope<P = unknown> = Omit<z.infer<typeof envelopeSchema>, "payload"> & { payload: P };

export function makeEnvelope<P>(input: {
  type: string;
  version: number;
  aggregateId: string;
  payload: P;
  occurredAt?: Date;
  id?: string;
}): Envelope<P> {
  return {
    id: input.id ?? randomUUID(),
    type: input.type,
    version: input.version,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    aggregateId: input.aggregateId,
    payload: input.payload,
  };
}
