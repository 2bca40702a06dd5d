import { z } from "zod";
import { defineEvent } from "../registry.ts";
import { TOPICS } from "../topics.ts";

/** A merchant notification that will not be retried any more (until someone resends it). */
export const notificationDeadLetteredSchema = z.object({
  notificationId: z.string(),
  merchantId: z.string(),
  paymentId: z.string(),
  /** The id of the event the notification was about (the notification body's `id`). */
  eventId: z.string(),
  eventType: z.string(),
  /** Attempts made over the notification's life, every resend included. */
  attempts: z.number().int().nonnegative(),
  /** The last attempt's stable error code, e.g. `timeout`, `unexpected_status`, `destination_not_allowed`. */
  lastError: z.string().nullable(),
  /** The last HTTP status the merchant's endpoint answered, if it answered. */
  lastStatusCode: z.number().int().nullable(),
  url: z.string(),
  deadAt: z.iso.datetime({ offset: true }),
});
export type NotificationDeadLettered = z.infer<typeof notificationDeadLetteredSchema>;

export const notificationEvents = {
  deadLettered: defineEvent({
    type: "notification.dead_lettered",
    version: 1,
    topic: TOPICS.notificationDeadLetter.name,
    description:
      "A merchant notification failed its last scheduled attempt (or its destination was refused) and is dead until resent.",
    payload: notificationDeadLetteredSchema,
  }),
} as const;
