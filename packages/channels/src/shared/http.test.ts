import { describe, expect, it } from "vitest";
import { classifyFetchError, httpCall, nodeHttpTransport } from "./http.ts";
import { refusedFetch, resetFetch, timeoutFetch } from "./test-fixtures.ts";
import { decodePassthrough, encodePassthrough } from "./adapter.ts";
import { parseFlatXml, toFlatXml } from "./xml.ts";
import { fromChinaTime, toChinaCompact, toChinaDateTime } from "./time.ts";

describe("transport classification", () => {
  it("connection refused and DNS failures never left: not_sent", async () => {
    expect((await httpCall(refusedFetch, { url: "http://x", method: "GET" }, 100)).kind).toBe("not_sent");
    const dns = Object.assign(new TypeError("fetch failed"), {
      cause: Object.assign(new Error("getaddrinfo ENOTFOUND x"), { code: "ENOTFOUND" }),
    });
    expect(classifyFetchError(dns)).toBe("not_sent");
    const happyEyeballs = Object.assign(new TypeError("fetch failed"), {
      cause: Object.assign(
        new AggregateError([
          Object.assign(new Error("a"), { code: "ECONNREFUSED" }),
          Object.assign(new Error("b"), { code: "ECONNREFUSED" }),
        ]),
        { code: "ECONNREFUSED" },
      ),
    });
    expect(classifyFetchError(happyEyeballs)).toBe("not_sent");
  });

  it("timeouts, resets and anything unrecognised may have reached the channel: lost", async () => {
    expect(await httpCall(timeoutFetch, { url: "http://x", method: "GET" }, 100)).toEqual({
      kind: "lost",
      detail: "no answer within 100 ms",
    });
    expect((await httpCall(resetFetch, { url: "http://x", method: "GET" }, 100)).kind).toBe("lost");
    expect(classifyFetchError(new Error("weird"))).toBe("lost");
  });

  it("a real timeout against a silent server is lost, within the limit", async () => {
    const { createServer } = await import("node:net");
    const server = createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const started = Date.now();
    const res = await httpCall(
      (u, i) => fetch(u, i),
      { url: `http://127.0.0.1:${port}/`, method: "POST", body: "x" },
      200,
    );
    expect(res.kind).toBe("lost");
    expect(Date.now() - started).toBeLessThan(2_000);
    server.close();
  });

  it("a closed port is not_sent", async () => {
    const { createServer } = await import("node:net");
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const res = await httpCall(
      (u, i) => fetch(u, i),
      { url: `http://127.0.0.1:${port}/`, method: "POST", body: "x" },
      1_000,
    );
    expect(res.kind).toBe("not_sent");
  });
});

describe("node:http transport (the default)", () => {
  async function serve(handler: Parameters<typeof import("node:http").createServer>[1]) {
    const { createServer } = await import("node:http");
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/pay`, close: () => server.close() };
  }

  it("answers status, headers and body, and sends the body and headers given", async () => {
    const seen: { method?: string; type?: string; body?: string } = {};
    const s = await serve((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        Object.assign(seen, { method: req.method, type: req.headers["content-type"], body });
        res.writeHead(402, { "x-sign": "abc", "content-type": "text/plain" }).end("declined ünïcode");
      });
    });
    const res = await nodeHttpTransport(
      { url: s.url, method: "POST", headers: { "content-type": "application/json" }, body: '{"a":"é"}' },
      1_000,
    );
    s.close();
    expect(seen).toEqual({ method: "POST", type: "application/json", body: '{"a":"é"}' });
    expect(res.kind === "answer" && [res.status, res.headers.get("x-sign"), res.body]).toEqual([
      402,
      "abc",
      "declined ünïcode",
    ]);
  });

  it("classifies failures as httpCall does: closed port not_sent, silence and a cut-off answer lost", async () => {
    const { createServer } = await import("node:net");
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect((await nodeHttpTransport({ url: `http://127.0.0.1:${closedPort}/`, method: "GET" }, 1_000)).kind).toBe(
      "not_sent",
    );

    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const started = Date.now();
    const res = await nodeHttpTransport(
      { url: `http://127.0.0.1:${(silent.address() as { port: number }).port}/`, method: "POST", body: "x" },
      200,
    );
    silent.close();
    expect(res).toEqual({ kind: "lost", detail: "no answer within 200 ms" });
    expect(Date.now() - started).toBeLessThan(2_000);

    const cut = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
      setTimeout(() => res.destroy(), 20);
    });
    const cutRes = await nodeHttpTransport({ url: cut.url, method: "POST", body: "x" }, 1_000);
    cut.close();
    expect(cutRes.kind).toBe("lost");
  });
});

describe("wire helpers", () => {
  it("passthrough round-trips metadata", () => {
    const meta = { sim_fault: "latency:200,callback_duplicated", note: "a&b=c" };
    expect(decodePassthrough(encodePassthrough(meta))).toEqual(meta);
    expect(decodePassthrough(null)).toEqual({});
  });

  it("flat XML round-trips, CDATA-safe, and refuses nested documents", () => {
    const fields = { a: "x<y>&", b: "tricky ]]> end", n: 5 };
    expect(parseFlatXml(toFlatXml(fields))).toEqual({ a: "x<y>&", b: "tricky ]]> end", n: "5" });
    expect(parseFlatXml("<xml><a><b>1</b></a></xml>")).toBeNull();
    expect(parseFlatXml("not xml")).toBeNull();
  });

  it("China time formats are UTC+8 whatever the host zone", () => {
    const d = new Date("2024-03-01T16:30:05.000Z");
    expect(toChinaCompact(d)).toBe("20240302003005");
    expect(toChinaDateTime(d)).toBe("2024-03-02 00:30:05");
    expect(fromChinaTime("20240302003005")?.toISOString()).toBe(d.toISOString());
    expect(fromChinaTime("2024-03-02 00:30:05")?.toISOString()).toBe(d.toISOString());
    expect(fromChinaTime("yesterday")).toBeNull();
  });
});
