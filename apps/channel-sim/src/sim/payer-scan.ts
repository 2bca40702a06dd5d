import type { Hono } from "hono";
import { z } from "zod";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import type { ChannelProtocol } from "../channels/protocol.ts";
import { findChargeById } from "./book.ts";
import type { SimDeps } from "./deps.ts";
import { applyPayerAction } from "./payer-actions.ts";

const scanBody = z.object({ action: z.enum(["pay", "cancel"]) });

/**
 * `POST /sim/scan/{txnId}` {action: "pay" | "cancel"}: stands in for the wallet app after the payer scanned
 * the QR code (or followed the deeplink). The result then reaches the merchant by callback only.
 */
export function mountScan(app: Hono<AppEnv>, deps: SimDeps, proto: ChannelProtocol): void {
  app.post("/sim/scan/:txnId", async (c) => {
    const parsed = scanBody.safeParse(await c.req.json());
    if (!parsed.success)
      throw new AppError("request.validation_failed", 'body must be {"action":"pay"|"cancel"}', parsed.error.issues);
    const existing = await findChargeById(deps.db, proto.id, c.req.param("txnId"));
    if (!existing) throw new AppError("request.not_found", "no such transaction");
    const result = await applyPayerAction(
      deps,
      existing.id,
      parsed.data.action === "pay" ? { type: "pay" } : { type: "cancel" },
    );
    const charge = result.charge!;
    return c.json(
      { txnId: charge.id, outcome: result.outcome, status: charge.status, failureReason: charge.failureReason },
      result.outcome === "applied" ? 200 : 409,
    );
  });
}
