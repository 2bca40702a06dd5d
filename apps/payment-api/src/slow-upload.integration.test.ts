import { connect } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessApi, inProcessApi } from "./payment-api-test-kit.ts";

/**
 * A body over MAX_BODY_BYTES sent chunked, with no Content-Length, over a real socket to payment-api served by
 * @hono/node-server (as main.ts serves it): the 413 must come as soon as the limit is passed, while the client
 * is still sending, the server must close the connection rather than read the rest, and its memory must not
 * grow with what the client sends. Both a signed merchant route and an unauthenticated one.
 */
let api: InProcessApi;
let server: { url: string; port: number; close: () => Promise<void> };
const MAX = 64 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** Live heap and Buffer memory after a full collection: what the process holds, not what it has yet to collect. */
function heldMemory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

type Upload = {
  status: number;
  body: string;
  /** Body bytes the kernel had taken from the client when the first byte of the answer arrived. */
  sentAtAnswer: number;
  msAtAnswer: number;
  sentTotal: number;
  /** The server ended or reset the connection before the client had sent all it meant to. */
  closedByServer: boolean;
  clientFinished: boolean;
  elapsedMs: number;
};

/**
 * Sends `plannedBytes` of body in chunks of `chunkBytes`, one chunk every `intervalMs` once the previous one was
 * taken by the kernel (so `sent` counts what went out, not what waits in the client), until the server answers
 * and closes, or the plan or `maxMs` runs out.
 */
function chunkedUpload(
  path: string,
  opts: {
    chunkBytes: number;
    intervalMs: number;
    plannedBytes: number;
    maxMs: number;
    headers?: Record<string, string>;
  },
): Promise<Upload> {
  return new Promise((resolve) => {
    const socket = connect(server.port, "127.0.0.1");
    socket.setNoDelay(true);
    const started = performance.now();
    const frame = Buffer.concat([
      Buffer.from(`${opts.chunkBytes.toString(16)}\r\n`),
      Buffer.alloc(opts.chunkBytes, "a"),
      Buffer.from("\r\n"),
    ]);
    const result: Upload = {
      status: 0,
      body: "",
      sentAtAnswer: -1,
      msAtAnswer: -1,
      sentTotal: 0,
      closedByServer: false,
      clientFinished: false,
      elapsedMs: 0,
    };
    let answer = "";
    let gaveUp: NodeJS.Timeout | undefined;
    socket.on("data", (d: Buffer) => {
      if (result.sentAtAnswer < 0) {
        result.sentAtAnswer = result.sentTotal;
        result.msAtAnswer = performance.now() - started;
      }
      answer += d.toString("latin1");
    });
    // A FIN, or a reset when we write after the server closed (EPIPE, ECONNRESET): either way the server hung up.
    socket.on("end", () => {
      if (!result.clientFinished) result.closedByServer = true;
    });
    socket.on("error", () => {
      if (!result.clientFinished) result.closedByServer = true;
    });
    socket.on("close", () => {
      clearTimeout(gaveUp);
      result.elapsedMs = performance.now() - started;
      result.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      result.body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
      resolve(result);
    });
    const headers = { "content-type": "application/json", ...opts.headers };
    socket.write(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`,
    );
    const pump = () => {
      if (socket.destroyed || result.closedByServer) return;
      if (result.sentTotal >= opts.plannedBytes || performance.now() - started > opts.maxMs) {
        result.clientFinished = true;
        socket.end("0\r\n\r\n");
        // A server that neither answers nor closes: give up after a while.
        gaveUp = setTimeout(() => socket.destroy(), 3_000);
        return;
      }
      socket.write(frame, (err) => {
        if (err) return;
        result.sentTotal += opts.chunkBytes;
        if (opts.intervalMs > 0) setTimeout(pump, opts.intervalMs);
        else setImmediate(pump);
      });
    };
    pump();
  });
}

beforeAll(async () => {
  api = await inProcessApi("slowupload");
  expect(api.env.MAX_BODY_BYTES).toBe(MAX);
  server = await api.listen();
});
afterAll(async () => {
  await server?.close();
  await api?.close();
});

describe.each([
  ["POST /v1/payments (signed merchant call)", "/v1/payments"],
  ["POST /v1/channel-callbacks/wechat (unauthenticated)", "/v1/channel-callbacks/wechat"],
])("a chunked body over the limit to %s", (_, path) => {
  it("is refused with 413 while the client is still sending, slowly, and the server closes the connection", async () => {
    // 1 KiB every 5 ms: the limit is passed after about half a second of a five-second upload.
    const up = await chunkedUpload(path, {
      chunkBytes: 1024,
      intervalMs: 5,
      plannedBytes: 5 * 1024 * 1024,
      maxMs: 5_000,
    });
    expect(up.status).toBe(413);
    expect(JSON.parse(up.body)).toMatchObject({ error: { code: "request.body_too_large" } });
    expect(up.sentAtAnswer).toBeGreaterThan(MAX);
    expect(up.sentAtAnswer).toBeLessThan(MAX + 32 * 1024);
    expect(up.msAtAnswer).toBeLessThan(3_000);
    expect(up.closedByServer).toBe(true);
    expect(up.clientFinished).toBe(false);
    // Once it hung up the client could send little more: what the kernel buffers, not the rest of the five seconds.
    expect(up.sentTotal).toBeLessThan(4 * 1024 * 1024);
  });

  it("holds no more memory after clients tried to push 50 MB each as fast as they could", async () => {
    const before = heldMemory();
    const ups: Upload[] = [];
    // Ten attempts back to back: 64 KiB chunks with no pause, 50 MB planned each; each is cut off at the limit.
    for (let i = 0; i < 10; i++)
      ups.push(
        await chunkedUpload(path, {
          chunkBytes: 64 * 1024,
          intervalMs: 0,
          plannedBytes: 50 * 1024 * 1024,
          maxMs: 2_000,
        }),
      );
    const after = heldMemory();
    for (const up of ups) {
      // Refused (see the next test for whether the client gets to read the 413), never read to the end.
      expect(up.status === 413 || up.closedByServer).toBe(true);
      expect(up.clientFinished).toBe(false);
    }
    expect(after - before).toBeLessThan(4 * 1024 * 1024);
  });

  // The refusal leaves the connection to @hono/node-server's lingering close (it discards the rest of the
  // upload for up to 64 MiB or 500 ms, then closes): closing at once would reset the connection with the
  // upload unread, and the client's TCP would drop the 413 it had not read yet (RFC 9293 §3.6.1).
  it("lets a client that sends as fast as it can read the 413 before the connection closes", async () => {
    for (let i = 0; i < 10; i++) {
      const up = await chunkedUpload(path, {
        chunkBytes: 64 * 1024,
        intervalMs: 0,
        plannedBytes: 50 * 1024 * 1024,
        maxMs: 2_000,
      });
      expect(up.status).toBe(413);
    }
  });
});

describe("an upload the client abandons half-way", () => {
  it.each(["/v1/payments", "/v1/channel-callbacks/wechat", "/v1/admin/merchants"])(
    "to %s is not logged as an error, and the server goes on",
    async (path) => {
      const logged = api.logLines.length;
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, "127.0.0.1");
        socket.on("error", () => undefined);
        socket.on("close", () => resolve());
        const auth = path.startsWith("/v1/admin") ? `authorization: Bearer ${api.tokens.admin}\r\n` : "";
        socket.write(
          `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${auth}content-length: 40000\r\n\r\n{"subject":"${"x".repeat(10_000)}`,
        );
        setTimeout(() => socket.destroy(), 200);
      });
      await new Promise((r) => setTimeout(r, 200));
      const errors = api.logLines.slice(logged).filter((l) => /"level":"(error|fatal)"/.test(l));
      expect(errors).toEqual([]);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    },
  );
});

describe("a declared Content-Length over the limit", () => {
  it("is refused before any of the body is read", async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(server.port, "127.0.0.1");
      let text = "";
      socket.on("data", (d: Buffer) => {
        text += d.toString("latin1");
      });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(text));
      // The head alone; the promised 100 MB never come.
      socket.write(
        `POST /v1/channel-callbacks/wechat HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/xml\r\ncontent-length: ${100 * 1024 * 1024}\r\n\r\n`,
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain("request.body_too_large");
  });
});
