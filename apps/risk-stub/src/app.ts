import { bodyLimit } from "hono/body-limit";
import type { Database } from "@pps/db";
import { AppError } from "@pps/domain";
import type { Logger } from "@pps/logger";
import { createServiceApp, requireBearerToken, type Metrics, type ReadinessCheck } from "@pps/runtime";
import { addBlocklistEntry } from "./add-blocklist-entry.ts";
import { deleteBlocklistEntry } from "./delete-blocklist-entry.ts";
import { getDecision } from "./get-decision.ts";
import { getRules } from "./get-rules.ts";
import { listBlocklist } from "./list-blocklist.ts";
import { putRules } from "./put-rules.ts";
import type { RiskConfigCache } from "./risk-config.ts";

export type AppDeps = {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  db: Database;
  config: RiskConfigCache;
  adminToken: string;
};

/** Rules documents and blocklist entries are small; anything bigger is a mistake or an attack. */
const MAX_BODY_BYTES = 64 * 1024;

export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  const { db, config } = deps;

  app.use("/v1/risk/*", requireBearerToken(deps.adminToken, "admin"));
  app.use(
    "/v1/risk/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError("request.body_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  app.get("/v1/risk/rules", getRules({ db }));
  app.put("/v1/risk/rules", putRules({ db, config }));
  app.get("/v1/risk/blocklist", listBlocklist({ db }));
  app.post("/v1/risk/blocklist", addBlocklistEntry({ db, config }));
  app.delete("/v1/risk/blocklist/:kind/:value", deleteBlocklistEntry({ db, config }));
  app.get("/v1/risk/decisions/:paymentId", getDecision({ db }));
  return app;
}
