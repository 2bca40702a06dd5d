import { bodyLimit } from "hono/body-limit";
import type { Database } from "@pps/db";
import { AppError } from "@pps/domain";
import type { Logger } from "@pps/logger";
import { createServiceApp, requireBearerToken, type Metrics, type ReadinessCheck, serveApiDocs } from "@pps/runtime";
import { addBlocklistEntry, addBlocklistEntryRoute } from "./add-blocklist-entry.ts";
import { deleteBlocklistEntry, deleteBlocklistEntryRoute } from "./delete-blocklist-entry.ts";
import { getDecision, getDecisionRoute } from "./get-decision.ts";
import { getRules, getRulesRoute } from "./get-rules.ts";
import { listBlocklist, listBlocklistRoute } from "./list-blocklist.ts";
import { putRules, putRulesRoute } from "./put-rules.ts";
import { MAX_BODY_BYTES, riskApiDocument, riskApiSecuritySchemes } from "./risk-api.ts";
import type { RiskConfigCache } from "./risk-config.ts";

export type AppDeps = {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  db: Database;
  config: RiskConfigCache;
  adminToken: string;
};

/** risk-stub's HTTP app: the operator API, documented at /openapi.json (generated from its routes) and /docs. */
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

  app.openapi(getRulesRoute, getRules({ db }));
  app.openapi(putRulesRoute, putRules({ db, config }));
  app.openapi(listBlocklistRoute, listBlocklist({ db }));
  app.openapi(addBlocklistEntryRoute, addBlocklistEntry({ db, config }));
  app.openapi(deleteBlocklistEntryRoute, deleteBlocklistEntry({ db, config }));
  app.openapi(getDecisionRoute, getDecision({ db }));
  serveApiDocs(app, { document: riskApiDocument, securitySchemes: riskApiSecuritySchemes });
  return app;
}
