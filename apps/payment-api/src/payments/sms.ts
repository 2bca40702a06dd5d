/** Sends SMS through the gateway (channel-sim's in development), retrying briefly on transient errors. */
export function createSmsClient({ baseUrl, timeoutMs = 3_000 }: { baseUrl: string; timeoutMs?: number }) {
  return {
    async send(phone: string, text: string): Promise<void> {
      let lastError: unknown;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const res = await fetch(`${baseUrl.replace(/\/$/, "")}/sms/send`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ phone, text }),
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (res.ok) return;
          lastError = new Error(`SMS gateway answered ${res.status}`);
          if (res.status < 500) break;
        } catch (err) {
          lastError = err;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
      throw lastError;
    },
  };
}
