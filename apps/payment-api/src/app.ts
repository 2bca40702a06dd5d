import { errorCatalogue, paymentApiDocumentInfo, paymentApiSecuritySchemes } from "@pps/api-contract";
import type { ChannelAdapter, ChannelId } from "@pps/channels";
import { createServiceApp, type Metrics, type ReadinessCheck, serveApiDocs } from "@pps/runtime";
import { registerAdmin } from "./api/admin.ts";
import { registerLedgerAdmin } from "./api/ledger-admin.ts";
import { registerChannelCallbacks } from "./api/channel-callback.ts";
import { registerCreatePayment } from "./api/create-payment.ts";
import { registerEventsFeed } from "./api/events-feed.ts";
import { registerGetPayment } from "./api/get-payment.ts";
import { registerInternal, registerPlatformKey } from "./api/internal.ts";
import { registerNotifications } from "./api/notifications.ts";
import { registerOperations } from "./api/operations.ts";
import { registerPayLink } from "./api/pay-link.ts";
import { registerResendVerification } from "./api/resend-verification.ts";
import { registerReviews } from "./api/reviews.ts";
import { registerVerifyPayment } from "./api/verify-payment.ts";
import type { PaymentApiEnv } from "./http/auth.ts";
import type { ApiDeps, PaymentApiApp } from "./http/context.ts";
import { signResponses } from "./http/response-signing.ts";

export type AppDeps = ApiDeps & {
  metrics: Metrics;
  readiness: ReadinessCheck[];
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
};

/**
 * payment-api's HTTP app. Every route is registered on its definition in @pps/api-contract, so the OpenAPI
 * document at /openapi.json is generated from the routes themselves (and /docs renders it).
 */
export function createApp(deps: AppDeps): PaymentApiApp {
  const app = createServiceApp<PaymentApiEnv>(deps);
  app.use(signResponses({ platformPrivateKey: deps.env.PLATFORM_SIGNING_PRIVATE_KEY }));
  registerPlatformKey(app, deps);
  registerCreatePayment(app, deps);
  registerGetPayment(app, deps);
  registerOperations(app, deps);
  registerVerifyPayment(app, deps);
  registerResendVerification(app, deps);
  registerPayLink(app, deps);
  registerChannelCallbacks(app, deps);
  registerAdmin(app, deps);
  registerLedgerAdmin(app, deps);
  registerReviews(app, deps);
  registerEventsFeed(app, deps);
  registerNotifications(app, deps);
  registerInternal(app, deps);
  serveApiDocs(app, {
    document: paymentApiDocumentInfo,
    securitySchemes: paymentApiSecuritySchemes,
    extensions: { "x-error-codes": errorCatalogue },
  });
  return app;
}
