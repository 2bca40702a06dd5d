import { Agent, request } from "node:http";
import { connect } from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { createLogger } from "@pps/logger";
import { HealthRegistry } from "./health.ts";
import { runService, type Component, type RunServiceOptions } from "./lifecycle.ts";

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { lines, logger: createLogger({ service: "lifecycle-test", destination }) };
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A service on a free port whose signals stay with the test process and whose exit codes are recorded. */
function options(over: Partial<RunServiceOptions> & Pick<RunServiceOptions, "app" | "components">) {
  const exit = vi.fn<(code: number) => void>();
  const { logger, lines } = capturedLogger();
  const opts: RunServiceOptions = {
    service: "svc",
    logger,
    host: "127.0.0.1",
    port: 0,
    shutdownTimeoutMs: 5_000,
    handleSignals: false,
    exit,
    ...over,
  };
  return { opts, exit, lines };
}

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

function get(port: number, path: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Stands for the DB pool: a request that uses it after its stop() fails. */
function fakePool(events: string[]) {
  let closed = false;
  return {
    query: () => {
      if (closed) throw new Error("pool closed");
      return "row";
    },
    component: {
      name: "pool",
      stop: () => {
        closed = true;
        events.push("stop pool");
      },
    } satisfies Component,
  };
}

function recorder(name: string, events: string[]): Component {
  return {
    name,
    start: () => {
      events.push(`start ${name}`);
    },
    stop: async () => {
      await sleep(5);
      events.push(`stop ${name}`);
    },
  };
}

describe("runService start-up", () => {
  it("exits 1, once, when a component fails to start, after stopping those that started", async () => {
    const events: string[] = [];
    const never = vi.fn();
    const components: Component[] = [
      recorder("producer", events),
      {
        name: "consumer",
        start: () => {
          throw new Error("broker unreachable");
        },
        stop: () => {
          events.push("stop consumer");
        },
      },
      { name: "relay", start: never, stop: never },
    ];
    const { opts, exit, lines } = options({ app: new Hono(), components });
    await expect(runService(opts)).rejects.toThrow("broker unreachable");
    expect(exit.mock.calls).toEqual([[1]]);
    expect(events).toEqual(["start producer", "stop consumer", "stop producer"]);
    expect(never).not.toHaveBeenCalled();
    expect(lines.find((l) => l.msg === "failed to start")).toMatchObject({ level: "fatal", component: "consumer" });
    expect(lines.some((l) => String(l.msg).includes("listening"))).toBe(false);
  });
});

describe("runService shutdown", () => {
  it("answers a request in flight in full before it stops any component, then stops them in reverse", async () => {
    const events: string[] = [];
    const pool = fakePool(events);
    const entered = deferred();
    const app = new Hono();
    app.get("/fast", (c) => c.text("ok"));
    app.get("/slow", async (c) => {
      entered.resolve();
      await sleep(300);
      const row = pool.query();
      events.push("handler done");
      return c.text(row.repeat(50_000));
    });
    const components = [pool.component, recorder("producer", events), recorder("consumer", events)];
    const { opts, exit, lines } = options({ app, components, drainTimeoutMs: 4_000 });
    const { port, shutdown } = await runService(opts);

    // An idle keep-alive connection must not hold the shutdown up.
    const idleAgent = new Agent({ keepAlive: true });
    expect((await get(port, "/fast", idleAgent)).status).toBe(200);
    const slow = get(port, "/slow", new Agent({ keepAlive: true }));
    await entered.promise;
    const began = performance.now();
    const stopped = shutdown("test");
    const answer = await slow;
    await stopped;

    expect(answer.status).toBe(200);
    expect(answer.body).toBe("row".repeat(50_000));
    expect(answer.headers.connection).toBe("close");
    expect(events).toEqual([
      "start producer",
      "start consumer",
      "handler done",
      "stop consumer",
      "stop producer",
      "stop pool",
    ]);
    expect(exit.mock.calls).toEqual([[0]]);
    // Well inside the drain limit: nothing waited for the idle connection's keep-alive timeout.
    expect(performance.now() - began).toBeLessThan(2_000);
    expect(lines.some((l) => l.msg === "requests still in flight; closing their connections")).toBe(false);
    idleAgent.destroy();
  });

  it("serves a request that arrives during shutdown on an open connection, with Connection: close", async () => {
    const app = new Hono();
    app.get("/fast", (c) => c.text("ok"));
    const { opts, exit } = options({ app, components: [] });
    const { port, shutdown } = await runService(opts);
    const socket = connect(port, "127.0.0.1");
    let raw = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      raw += chunk;
    });
    const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write("GET /fast HTTP/1.1\r\nHost: test\r\n");
    await sleep(50);
    const stopped = shutdown("test");
    socket.write("\r\n");
    await ended;
    await stopped;
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    expect(raw.toLowerCase()).toContain("connection: close");
    expect(raw.endsWith("ok")).toBe(true);
    expect(exit.mock.calls).toEqual([[0]]);
  });

  it("cuts requests still running after the drain limit, then stops the components and exits 0", async () => {
    const events: string[] = [];
    const release = deferred();
    const entered = deferred();
    const app = new Hono();
    app.get("/stuck", async (c) => {
      entered.resolve();
      await release.promise;
      return c.text("late");
    });
    const { opts, exit, lines } = options({ app, components: [recorder("consumer", events)], drainTimeoutMs: 200 });
    const { port, shutdown } = await runService(opts);
    const stuck = get(port, "/stuck", new Agent()).then(
      () => "answered",
      () => "cut",
    );
    await entered.promise;
    await shutdown("test");
    expect(await stuck).toBe("cut");
    expect(events).toEqual(["start consumer", "stop consumer"]);
    expect(exit.mock.calls).toEqual([[0]]);
    expect(lines.find((l) => l.msg === "requests still in flight; closing their connections")).toMatchObject({
      requests: 1,
    });
    release.resolve();
    await sleep(20);
  });

  it("exits 1 when stopping takes longer than the limit, and not 0 when it ends later", async () => {
    const release = deferred();
    const hung: Component = { name: "relay", stop: () => release.promise };
    const { opts, exit, lines } = options({ app: new Hono(), components: [hung], shutdownTimeoutMs: 200 });
    const { shutdown } = await runService(opts);
    const stopped = shutdown("test");
    await vi.waitFor(() => expect(exit).toHaveBeenCalled(), { timeout: 2_000 });
    expect(exit.mock.calls).toEqual([[1]]);
    expect(lines.some((l) => l.msg === "shutdown timed out")).toBe(true);
    release.resolve();
    await stopped;
    expect(exit.mock.calls).toEqual([[1]]);
  });

  it("runs once however often it is asked, and leaves no signal listener behind", async () => {
    const before = process.listeners("SIGTERM");
    const beforeInt = process.listeners("SIGINT");
    const events: string[] = [];
    const { opts, exit } = options({
      app: new Hono(),
      components: [recorder("consumer", events)],
      handleSignals: true,
    });
    await runService(opts);
    const added = process.listeners("SIGTERM").filter((l) => !before.includes(l));
    expect(added).toHaveLength(1);
    // Called directly: emitting SIGTERM would reach the test runner's own handlers too.
    added[0]?.("SIGTERM");
    added[0]?.("SIGTERM");
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(events).toEqual(["start consumer", "stop consumer"]);
    expect(exit.mock.calls).toEqual([[0]]);
    expect(process.listeners("SIGTERM")).toEqual(before);
    expect(process.listeners("SIGINT")).toEqual(beforeInt);
  });
});

describe("readiness during start-up", () => {
  it("lists a failing startup check until the last component has started, then drops it", async () => {
    const health = new HealthRegistry();
    const gate = deferred();
    const { opts } = options({
      app: new Hono(),
      health,
      components: [{ name: "consumer", start: () => gate.promise, stop: () => undefined }],
    });
    const running = runService(opts);
    await sleep(50);
    const during = health.readinessChecks();
    expect(during.map((c) => c.name)).toEqual(["startup"]);
    await expect(during[0]!.check()).rejects.toThrow("starting consumer");
    gate.resolve();
    const service = await running;
    expect(health.readinessChecks()).toEqual([]);
    await service.shutdown("test");
  });
});
