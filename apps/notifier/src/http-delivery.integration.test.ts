import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AllowList, DestinationGuard, type Resolver } from "./destination-guard.ts";
import { DestinationAgents } from "./destination-agents.ts";
import { deliverOnce } from "./http-delivery.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler = (_req, res) => res.end();
const seen: { url: string; body: string; headers: IncomingMessage["headers"] }[] = [];

/** "rebind.test" does not exist in real DNS: a request can only reach our server through the pinned answer. */
const fakeDns: Resolver = async (host) => {
  if (host === "rebind.test" || host === "internal.test") return [{ address: "127.0.0.1", family: 4 }];
  throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
};
const allowLoopback = new DestinationGuard(AllowList.parse("127.0.0.1"), fakeDns);
const allowNothing = new DestinationGuard(AllowList.parse(""), fakeDns);

const send = (
  url: string,
  opts: { timeoutMs?: number; maxResponseBytes?: number; guard?: DestinationGuard; agents?: DestinationAgents } = {},
) =>
  deliverOnce({
    ...(opts.agents ? { agents: opts.agents } : {}),
    url,
    body: '{"id":"e1"}',
    headers: { "content-type": "application/json", "x-test": "1" },
    timeoutMs: opts.timeoutMs ?? 2_000,
    maxResponseBytes: opts.maxResponseBytes ?? 64,
    guard: opts.guard ?? allowLoopback,
  });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      seen.push({ url: req.url ?? "", body, headers: req.headers });
      handler(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("one delivery attempt", () => {
  it("POSTs the exact body with the given headers; a 2xx is a delivery", async () => {
    handler = (_req, res) => res.writeHead(204).end();
    const before = seen.length;
    const r = await send(`${base}/hook?x=1`);
    expect(r).toMatchObject({ outcome: "delivered", statusCode: 204, error: null });
    expect(seen[before]).toMatchObject({
      url: "/hook?x=1",
      body: '{"id":"e1"}',
      headers: expect.objectContaining({ "content-type": "application/json", "x-test": "1" }),
    });
  });

  it("does not follow a redirect: a 302 is a failure and the target is never called", async () => {
    handler = (req, res) =>
      req.url === "/moved"
        ? res.writeHead(302, { location: `${base}/target` }).end()
        : res.writeHead(200).end("target");
    const before = seen.length;
    const r = await send(`${base}/moved`);
    expect(r).toMatchObject({ outcome: "failed", statusCode: 302, error: "unexpected_status" });
    await new Promise((res) => setTimeout(res, 100));
    expect(seen.slice(before).map((s) => s.url)).toEqual(["/moved"]);
  });

  it("stores at most maxResponseBytes of the answer and stops reading an endless one", async () => {
    handler = (_req, res) => {
      res.writeHead(500, { "content-type": "text/plain" });
      const chunk = "x".repeat(1024);
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    };
    const started = Date.now();
    const r = await send(`${base}/huge`, { maxResponseBytes: 100 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(r).toMatchObject({ outcome: "failed", statusCode: 500, error: "unexpected_status" });
    expect(r.responseBody).toBe("x".repeat(100));
  });

  it("gives up after the timeout when the endpoint hangs", async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    const r = await send(`${base}/hang`, { timeoutMs: 300 });
    expect(r).toMatchObject({ outcome: "failed", statusCode: null, error: "timeout" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("reports a closed port as connection_refused", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await send(`http://127.0.0.1:${port}/x`)).toMatchObject({ outcome: "failed", error: "connection_refused" });
  });

  it("connects to the address the guard checked, not to a fresh DNS answer", async () => {
    handler = (_req, res) => res.writeHead(200).end("ok");
    const port = (server.address() as AddressInfo).port;
    const r = await send(`http://rebind.test:${port}/pinned`);
    expect(r).toMatchObject({ outcome: "delivered", statusCode: 200, responseBody: "ok" });
    expect(seen.at(-1)).toMatchObject({
      url: "/pinned",
      headers: expect.objectContaining({ host: `rebind.test:${port}` }),
    });
  });

  it("refuses a private destination before connecting: no request is made", async () => {
    handler = (_req, res) => res.writeHead(200).end();
    const port = (server.address() as AddressInfo).port;
    const before = seen.length;
    expect(await send(`http://internal.test:${port}/x`, { guard: allowNothing })).toMatchObject({
      outcome: "refused",
      error: "destination_not_allowed",
      statusCode: null,
    });
    expect(await send(`http://127.0.0.1:${port}/x`, { guard: allowNothing })).toMatchObject({
      outcome: "refused",
      error: "destination_not_allowed",
    });
    // 10.0.0.1 is refused by classification alone, long before any connection could be attempted.
    const r = await send("http://10.0.0.1/x", { guard: allowNothing });
    expect(r).toMatchObject({
      outcome: "refused",
      error: "destination_not_allowed",
      errorDetail: "10.0.0.1 is a private address",
    });
    expect(r.latencyMs).toBeLessThan(50);
    await new Promise((res) => setTimeout(res, 100));
    expect(seen.length).toBe(before);
  });

  it("refuses unusable URLs and fails (to retry) on DNS errors", async () => {
    expect(await send("ftp://127.0.0.1/x")).toMatchObject({ outcome: "refused", error: "invalid_url" });
    expect(await send("http://user:pw@127.0.0.1/x")).toMatchObject({ outcome: "refused", error: "invalid_url" });
    expect(await send("not a url")).toMatchObject({ outcome: "refused", error: "invalid_url" });
    expect(await send("http://nowhere.test/x")).toMatchObject({ outcome: "failed", error: "dns_failed" });
  });
});

describe("kept-alive connections", () => {
  it("reuse one connection per destination, still pinned to the checked address; a hang or a cut answer drops it", async () => {
    const agents = new DestinationAgents();
    const connections: string[] = [];
    const onConnection = (socket: import("node:net").Socket) => connections.push(String(socket.remotePort));
    server.on("connection", onConnection);
    try {
      handler = (_req, res) => res.writeHead(200).end("ok");
      const port = (server.address() as AddressInfo).port;
      for (let i = 0; i < 5; i++)
        expect(await send(`http://rebind.test:${port}/keep`, { agents })).toMatchObject({ outcome: "delivered" });
      expect(connections).toHaveLength(1);
      // A reply with Retry-After says how long to wait.
      handler = (_req, res) => res.writeHead(429, { "retry-after": "7" }).end("slow down");
      expect(await send(`http://rebind.test:${port}/keep`, { agents })).toMatchObject({
        outcome: "failed",
        statusCode: 429,
        retryAfterSeconds: 7,
      });
      expect(connections).toHaveLength(1);
      // A hanging request is given up and its connection destroyed: the next attempt opens a new one.
      handler = () => undefined;
      expect(await send(`http://rebind.test:${port}/keep`, { agents, timeoutMs: 200 })).toMatchObject({
        error: "timeout",
      });
      handler = (_req, res) => res.writeHead(200).end("ok");
      expect(await send(`http://rebind.test:${port}/keep`, { agents })).toMatchObject({ outcome: "delivered" });
      expect(connections).toHaveLength(2);
      // A connection the server closed while idle is replaced without costing the attempt.
      server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 50));
      expect(await send(`http://rebind.test:${port}/keep`, { agents })).toMatchObject({ outcome: "delivered" });
      expect(connections).toHaveLength(3);
      expect(agents.size).toBe(1);
    } finally {
      server.off("connection", onConnection);
      agents.destroy();
    }
  });
});
