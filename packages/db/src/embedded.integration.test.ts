import { mkdtempSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./embedded.ts";
import { runMigrations } from "./migrate.ts";

describe("embedded Postgres fallback", () => {
  it("starts a private server that takes our migrations, and stops", async () => {
    const parent = mkdtempSync(join(tmpdir(), "pps-embedded-"));
    chmodSync(parent, 0o755); // the server runs as the postgres user when we are root
    // A port nothing listens on now (a random one once met another server's).
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
      probe.on("error", reject);
    });
    const pg = await startEmbeddedPostgres({ dataDir: join(parent, "data"), port });
    try {
      await runMigrations(pg.url);
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      const [row] =
        await sql`select current_setting('server_version_num')::int as v, to_regclass('payment.outbox') is not null as has_outbox`;
      await sql.end();
      expect(row!.v).toBeGreaterThanOrEqual(180_000);
      expect(row!.has_outbox).toBe(true);
    } finally {
      await pg.stop();
    }
    const after = postgres(pg.url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    await expect(after`select 1`).rejects.toThrow();
    await after.end().catch(() => {});
  });
});
