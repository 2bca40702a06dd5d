// `pnpm db:migrate`: creates the database if missing and applies migrations. Also the Kubernetes Job's command.
import { z } from "zod";
import { loadEnv, envVars } from "@pps/config";
import { runMigrations } from "../migrate.ts";
import { databaseNameOf } from "../ensure-database.ts";

const env = loadEnv(
  z.object({ DATABASE_URL: envVars.databaseUrl, MIGRATIONS_DIR: z.string().optional() }),
  process.env,
);
await runMigrations(env.DATABASE_URL, env.MIGRATIONS_DIR);
console.log(`migrations applied to database ${databaseNameOf(env.DATABASE_URL)}`);
