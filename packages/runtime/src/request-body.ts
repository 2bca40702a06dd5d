import { AppError } from "@pps/domain";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export type LimitedBody = { bytes: Uint8Array; text: string };

/**
 * Reads a request body as it streams in and stops at the limit: a body over it (declared or not, chunked or
 * slow) is refused with 413 as soon as the limit is passed, holding no more than the limit in memory. The
 * rest of the upload is left to the HTTP server (@hono/node-server discards it for a bounded time, then
 * closes), so the client can read the 413 instead of a reset. Bytes that are not UTF-8 are refused, so what
 * is signed, hashed and parsed is one and the same text.
 */
export async function readLimitedBody(req: Request, maxBytes: number): Promise<LimitedBody> {
  const declared = req.headers.get("content-length");
  if (declared !== null && !/^\d{1,15}$/.test(declared))
    throw new AppError("request.validation_failed", "Content-Length is malformed");
  if (declared !== null && Number(declared) > maxBytes)
    throw new AppError("request.body_too_large", `body exceeds ${maxBytes} bytes`);
  if (!req.body) return { bytes: new Uint8Array(0), text: "" };
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch {
      // The client went away mid-upload: nobody is left to answer, so this is not our error.
      throw new AppError("request.aborted", "the request body was not received in full");
    }
    if (chunk.done) break;
    total += chunk.value.byteLength;
    if (total > maxBytes) {
      reader.releaseLock();
      throw new AppError("request.body_too_large", `body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk.value);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AppError("request.invalid_characters", "the body is not valid UTF-8");
  }
  return { bytes, text };
}
