// Prints the DATABASE_URL to use. With DATABASE_URL set, that one; else the local server at 127.0.0.1:5432
// if it answers; else it starts an embedded Postgres and keeps running (the platform script runs it in the background).
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { loadEnv, envVars } from "@pps/config";
import { canConnect } from "../ensure-database.ts";
import { startEmbeddedPostgres } from "../embedded.ts";

const env = loadEnv(
  z.object({
    DATABASE_URL: z.string().optional(),
    EMBEDDED_PG_DIR: z.string().default(".var/embedded-pg"),
    EMBEDDED_PG_PORT: envVars.port(54329),
    URL_FILE: z.string().optional(),
  }),
  process.env,
);

const report = (url: string) => {
  if (env.URL_FILE) writeFileSync(env.URL_FILE, `${url}\n`);
  console.log(url);
};

const localUrl = "postgres://postgres@127.0.0.1:5432/pps";
if (env.DATABASE_URL) report(env.DATABASE_URL);
else if (await canConnect(localUrl)) report(localUrl);
else {
  const pg = await startEmbeddedPostgres({ dataDir: env.EMBEDDED_PG_DIR, port: env.EMBEDDED_PG_PORT });
  report(pg.url);
  const stop = () => void pg.stop().finally(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  setInterval(() => {}, 1 << 30);
}
