import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  APPS,
  type IsolatedEnvironment,
  isolatedEnvironment,
  spawnApp,
  startApp,
  testAppEnv,
  waitFor,
  type AppProcess,
} from "@pps/test-support";

const SHUTDOWN_TIMEOUT_MS = 10_000;

describe("every app as a real process", () => {
  const running = new Map<string, AppProcess>();
  // Their own database and topics: these apps would otherwise join the consumer groups of other files' apps
  // (a risk-stub deciding another file's payments) and poll their rows.
  let isolated: IsolatedEnvironment;

  beforeAll(async () => {
    isolated = await isolatedEnvironment("apps");
    const started = await Promise.all(
      APPS.map((name) =>
        startApp(name, { ...isolated.env, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), LOG_LEVEL: "info" }),
      ),
    );
    for (const app of started) running.set(app.name, app);
  });

  afterAll(async () => {
    for (const app of running.values()) if (app.child.exitCode === null) app.child.kill("SIGKILL");
    await Promise.all([...running.values()].map((app) => app.exited));
    await isolated?.close();
  });

  it.each(APPS)("%s answers /healthz, and /readyz once its Postgres (and Kafka) are reachable", async (name) => {
    const app = running.get(name)!;
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(200);
    // Ready once its dependencies answer (a consumer may also wait to join its group).
    let ready: Response | undefined;
    let body: { status: string; checks: { name: string; ok: boolean }[] } | undefined;
    await waitFor(
      async () => {
        ready = await fetch(`${app.url}/readyz`);
        body = (await ready.json()) as typeof body;
        return ready.status === 200;
      },
      { what: `${name} /readyz`, timeoutMs: 30_000 },
    ).catch(() => undefined);
    expect(ready!.status, JSON.stringify(body)).toBe(200);
    expect(body!.checks.every((c) => c.ok)).toBe(true);
    const names = body!.checks.map((c) => c.name);
    // Besides the dependencies, every consumer, relay and polling loop the app runs reports itself.
    if (name === "channel-sim") expect(names).toEqual(["postgres", "callback dispatcher"]);
    else expect(names).toEqual(expect.arrayContaining(["kafka", "postgres"]));
    if (name === "router") expect(names).toEqual(expect.arrayContaining(["outbox relay", "attempt resolver"]));
    if (["payment-api", "router", "risk-stub", "notifier"].includes(name))
      expect(names.some((n) => n.startsWith("consumer "))).toBe(true);
    expect(health.headers.get("x-request-id")).toMatch(/.+/);
  });

  it.each(APPS)("%s exposes Prometheus metrics and answers unknown routes with the error shape", async (name) => {
    const app = running.get(name)!;
    await fetch(`${app.url}/healthz`, { headers: { "x-request-id": "probe-1" } });
    const res = await fetch(`${app.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="[a-z-]+"\} \d/m);
    expect(text).toContain(`http_requests_total{method="GET",route="/healthz",status="200",service="${name}"}`);
    const missing = await fetch(`${app.url}/nope`, { headers: { "x-request-id": "probe-2" } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { code: "request.not_found", message: "no route for GET /nope", requestId: "probe-2" },
    });
  });

  it.each(APPS)("%s exits 0 on SIGTERM within the shutdown limit", async (name) => {
    const app = running.get(name)!;
    const { code, ms } = await app.stop("SIGTERM");
    expect(code, app.output().slice(-2000)).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(app.output()).toContain('"msg":"stopped"');
  });
});

describe("readiness", () => {
  it("reports not ready, naming the check, while Postgres is unreachable", async () => {
    const app = await startApp("channel-sim", { DATABASE_URL: "postgres://postgres@127.0.0.1:1/pps" });
    try {
      const res = await fetch(`${app.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: { name: string; ok: boolean }[] };
      expect(body.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: "postgres", ok: false })]));
    } finally {
      await app.stop();
    }
  });
});

describe("configuration errors stop the app at start", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["a malformed port", { PORT: "eighty" }, /PORT: /],
    [
      "a non-postgres DATABASE_URL",
      { DATABASE_URL: "mysql://root@127.0.0.1/pps" },
      /DATABASE_URL: must be a postgres:\/\/ URL/,
    ],
    [
      "malformed KAFKA_BROKERS",
      { KAFKA_BROKERS: "localhost" },
      /KAFKA_BROKERS: must be a comma-separated list of host:port/,
    ],
    ["an unknown LOG_LEVEL", { LOG_LEVEL: "loud" }, /LOG_LEVEL: /],
  ];
  it.each(cases)("%s", async (_what, bad, message) => {
    const { exited, output } = spawnApp("router", testAppEnv(bad));
    expect(await exited).toBe(78);
    expect(output()).toMatch(message);
    expect(output()).not.toContain("mysql://root"); // the value itself is never echoed
  });
});
