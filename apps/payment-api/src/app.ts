import type { ChannelAdapter, ChannelId } from "@pps/channels";
import { createServiceApp, type Metrics, type ReadinessCheck } from "@pps/runtime";
import type { Hono } from "hono";
import { registerAdmin } from "./api/admin.ts";
import { registerChannelCallbacks } from "./api/channel-callback.ts";
import { registerCreatePayment } from "./api/create-payment.ts";
import { registerEventsFeed } from "./api/events-feed.ts";
import { registerGetPayment } from "./api/get-payment.ts";
import { registerInternal } from "./api/internal.ts";
import { registerNotifications } from "./api/notifications.ts";
import { registerOpenApi } from "./api/openapi.ts";
import { registerPayLink } from "./api/pay-link.ts";
import { registerResendVerification } from "./api/resend-verification.ts";
import { registerVerifyPayment } from "./api/verify-payment.ts";
import type { PaymentApiEnv } from "./http/auth.ts";
import { jsonBody } from "./http/body.ts";
import { signResponses } from "./http/response-signing.ts";
import type { ApiDeps } from "./http/context.ts";

export type AppDeps = ApiDeps & { metrics: Metrics; readiness: ReadinessCheck[]; adapters: ReadonlyMap<ChannelId, ChannelAdapter> };

export function createApp(deps: AppDeps): Hono<PaymentApiEnv> {
  const app = createServiceApp(deps) as unknown as Hono<PaymentApiEnv>;
  app.use(signResponses({ platformPrivateKey: deps.env.PLATFORM_SIGNING_PRIVATE_KEY }));
  app.get("/v1/platform-key", (c) => c.json({ algorithm: "RSA_SHA256", public_key: deps.env.PLATFORM_SIGNING_PUBLIC_KEY }));
  // Merchant and admin calls carry JSON bodies; channel callbacks and pay links read their own.
  app.use("/v1/payments/*", jsonBody({ maxBytes: deps.env.MAX_BODY_BYTES }));
  app.use("/v1/payments", jsonBody({ maxBytes: deps.env.MAX_BODY_BYTES }));
  app.use("/v1/orders", jsonBody({ maxBytes: deps.env.MAX_BODY_BYTES }));
  app.use("/v1/events", jsonBody({ maxBytes: deps.env.MAX_BODY_BYTES }));
  app.use("/v1/notifications/*", jsonBody({ maxBytes: deps.env.MAX_BODY_BYTES }));
  app.use("/v1/admin/*", jsonBody({ maxBytes: deps.env.MAX_BODY_BYTES }));
  registerCreatePayment(app, deps);
  registerGetPayment(app, deps);
  registerVerifyPayment(app, deps);
  registerResendVerification(app, deps);
  registerPayLink(app, deps);
  registerChannelCallbacks(app, deps);
  registerAdmin(app, deps);
  registerEventsFeed(app, deps);
  registerNotifications(app, deps);
  registerInternal(app, deps);
  registerOpenApi(app);
  return app;
}
