import type { Operation } from "@pps/api-contract";
import type { OperationKind, OperationStatus } from "@pps/domain";
import type { OperationRow } from "./operations.ts";

/** Storage row → the merchant-facing operation object (snake_case wire format). */
export function toApiOperation(op: OperationRow, merchantOrderNo: string): Operation {
  return {
    id: op.id,
    object: op.kind as OperationKind,
    payment_id: op.paymentId,
    merchant_order_no: merchantOrderNo,
    merchant_ref: op.merchantRef,
    amount: op.amount,
    currency: op.currency,
    status: op.status as OperationStatus,
    version: op.version,
    channel: op.channel,
    reason: op.reason,
    origin: op.origin,
    failure: op.failureCode ? { code: op.failureCode, message: op.failureMessage } : null,
    created_at: op.createdAt.toISOString(),
    updated_at: op.updatedAt.toISOString(),
    completed_at: op.completedAt?.toISOString() ?? null,
  };
}
