import { desc, eq } from "drizzle-orm";
import { AppError, newId } from "@pps/domain";
import type { Database } from "@pps/db";
import { simSmsMessages } from "@pps/db/schema";
import { createRoute, createRouteGroup, errorResponses, json, REQUEST_ERRORS, z } from "@pps/runtime";
import type { Tx } from "./deps.ts";

export const PHONE = /^\+?\d{6,15}$/;

/** Records a message in the outbox (this gateway delivers to no real phone). */
export async function sendSms(db: Database | Tx, phone: string, text: string, sender: string): Promise<string> {
  const id = newId("sms");
  await db.insert(simSmsMessages).values({ id, phone, text, sender });
  return id;
}

/** "13800138000" → "138****8000": what a payer may be shown. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/^\+/, "");
  return digits.length <= 7 ? "****" : `${digits.slice(0, 3)}****${digits.slice(-4)}`;
}

const sendBody = z.object({
  phone: z.string().regex(PHONE, "must be 6-15 digits, optionally with a leading +"),
  text: z.string().min(1).max(500),
  sender: z.string().max(64).optional(),
});

const outboxRoute = createRoute({
  method: "get",
  path: "/outbox",
  operationId: "getSmsOutbox",
  tags: ["SMS"],
  summary: "The messages sent to a phone, newest first",
  description: "The simulated SMS gateway delivers to no real phone: this is where verification codes are read.",
  request: {
    query: z.strictObject({
      phone: z
        .string()
        .regex(PHONE, "must be 6-15 digits, optionally with a leading +")
        .openapi({ example: "13800138000" }),
      limit: z.coerce.number().int().min(1).max(200).default(20),
    }),
  },
  responses: {
    200: {
      description: "Newest first.",
      content: json(
        z
          .object({
            messages: z.array(
              z.object({
                messageId: z.string(),
                phone: z.string(),
                text: z.string(),
                sender: z.string(),
                createdAt: z.string().openapi({ format: "date-time" }),
              }),
            ),
          })
          .openapi("SmsOutbox"),
      ),
    },
    ...errorResponses(REQUEST_ERRORS),
  },
});

/**
 * The SMS gateway everyone uses: POST /sms/send (the gateway's own API, which payment-api calls: a stand-in
 * for a third party's, so undocumented like the channels' APIs), GET /sms/outbox?phone=… (newest first).
 */
export function smsRoutes(db: Database) {
  const app = createRouteGroup();
  app.post("/send", async (c) => {
    const parsed = sendBody.safeParse(await c.req.json());
    if (!parsed.success) throw new AppError("request.validation_failed", "invalid SMS", parsed.error.issues);
    const messageId = await sendSms(db, parsed.data.phone, parsed.data.text, parsed.data.sender ?? "api");
    return c.json({ messageId }, 201);
  });
  app.openapi(outboxRoute, async (c) => {
    const { phone, limit } = c.req.valid("query");
    const rows = await db
      .select()
      .from(simSmsMessages)
      .where(eq(simSmsMessages.phone, phone))
      .orderBy(desc(simSmsMessages.createdAt), desc(simSmsMessages.id))
      .limit(limit);
    return c.json(
      {
        messages: rows.map((r) => ({
          messageId: r.id,
          phone: r.phone,
          text: r.text,
          sender: r.sender,
          createdAt: r.createdAt.toISOString(),
        })),
      },
      200,
    );
  });
  return app;
}
