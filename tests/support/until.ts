import type { PaymentDetail, PaymentsClient } from "@pps/sdk";
import { waitFor } from "@pps/test-support";

/**
 * Polls a payment until `ok` holds; on timeout the error says what the payment last looked like (status,
 * failure, attempts, operations, timeline), which is what a failing end-to-end test needs to be read.
 */
export async function paymentUntil(
  client: PaymentsClient,
  id: string,
  ok: (p: PaymentDetail) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<PaymentDetail> {
  let last: PaymentDetail | undefined;
  await waitFor(
    async () => {
      last = await client.getPayment(id);
      return ok(last);
    },
    { what: `${id}: ${what}`, timeoutMs, intervalMs: 150 },
  ).catch((err: Error) => {
    const seen = {
      status: last?.status,
      failure: last?.failure,
      attempts: last?.attempts,
      operations: last?.operations,
      timeline: last?.timeline,
    };
    throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
  });
  return last!;
}
