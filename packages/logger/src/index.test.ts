import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./index.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes JSON with the service name and redacts secrets at any of two levels", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "test-svc", destination });
    log.info(
      {
        merchant: { key: "mk_live_123", name: "shop" },
        password: "hunter2",
        req: { headers: { authorization: "Bearer abc" } },
      },
      "hello",
    );
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line.service).toBe("test-svc");
    expect(line.level).toBe("info");
    expect(line.merchant).toEqual({ key: "[redacted]", name: "shop" });
    expect(line.password).toBe("[redacted]");
    expect(line.req.headers.authorization).toBe("[redacted]");
    expect(lines[0]).not.toContain("mk_live_123");
  });
});
