import { z } from "zod";

/** Reusable pieces for the apps' env schemas, so every app reads a variable the same way. */

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

export const host = z.string().default("127.0.0.1");

export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

export const databaseUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
  .default("postgres://postgres@127.0.0.1:5432/pps");

export const kafkaBrokers = z
  .string()
  .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, "must be a comma-separated list of host:port")
  .default("127.0.0.1:9092")
  .transform((s) => s.split(","));

export const kafkaTopicPrefix = z
  .string()
  .regex(/^[a-zA-Z0-9._-]*$/, "may hold only letters, digits, '.', '_' and '-'")
  .default("");

export const durationMs = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const url = z.url({ protocol: /^https?$/ });
