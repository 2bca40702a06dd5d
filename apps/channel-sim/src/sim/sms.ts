import { desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { AppError, newId } from "@pps/domain";
import type { Database } from "@pps/db";
import { simSmsMessages } from "@pps/db/schema";
import type { AppEnv } from "@pps/runtime";
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

const sendBody = z.object({ phone: z.string().regex(PHONE, "must be 6-15 digits, optionally with a leading +"), text: z.string().min(1).max(500), sender: z.string().max(64).optional() });

/** The SMS gateway everyone uses: POST /sms/send, GET /sms/outbox?phone=… (newest first). */
export function smsRoutes(db: Database) {
  const app = new Hono<AppEnv>();
  app.post("/send", async (c) => {
    const parsed = sendBody.safeParse(await c.req.json());
    if (!parsed.success) throw new AppError("request.validation_failed", "invalid SMS", parsed.error.issues);
    const messageId = await sendSms(db, parsed.data.phone, parsed.data.text, parsed.data.sender ?? "api");
    return c.json({ messageId }, 201);
  });
  app.get("/outbox", async (c) => {
    const phone = c.req.query("phone");
    if (!phone || !PHONE.test(phone)) throw new AppError("request.validation_failed", "query parameter phone is required");
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 20) || 20, 1), 200);
    const rows = await db.select().from(simSmsMessages).where(eq(simSmsMessages.phone, phone)).orderBy(desc(simSmsMessages.createdAt), desc(simSmsMessages.id)).limit(limit);
    return c.json({ messages: rows.map((r) => ({ messageId: r.id, phone: r.phone, text: r.text, sender: r.sender, createdAt: r.createdAt.toISOString() })) });
  });
  return app;
}
