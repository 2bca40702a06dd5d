import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, loadEnv } from "./load-env.ts";
import { databaseUrl, kafkaBrokers, port } from "./vars.ts";

const schema = z.object({
  PORT: port(7000),
  DATABASE_URL: databaseUrl,
  KAFKA_BROKERS: kafkaBrokers,
  SECRET_KEY: z.string().min(8),
});

describe("loadEnv", () => {
  it("applies defaults and parses values", () => {
    const env = loadEnv(schema, { SECRET_KEY: "abcdefgh", KAFKA_BROKERS: "a:1,b:2" });
    expect(env.PORT).toBe(7000);
    expect(env.KAFKA_BROKERS).toEqual(["a:1", "b:2"]);
    expect(env.DATABASE_URL).toMatch(/^postgres:/);
  });

  it("names every bad variable and never echoes a value", () => {
    try {
      loadEnv(schema, { PORT: "eighty", DATABASE_URL: "mysql://x", SECRET_KEY: "short-secret-value" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.issues.map((i) => i.variable).sort()).toEqual(["DATABASE_URL", "PORT"]);
      expect(e.message).not.toContain("mysql://x");
    }
  });

  it("reports a missing required variable as required", () => {
    expect(() => loadEnv(schema, {})).toThrow(/SECRET_KEY: is required/);
  });

  it("treats empty strings as unset", () => {
    expect(loadEnv(schema, { SECRET_KEY: "abcdefgh", PORT: "" }).PORT).toBe(7000);
  });
});
