# syntax=docker/dockerfile:1
# The database migration image, run by the Kubernetes Job pps-migrate. Build context: the repository root.
#   docker build -f infra/docker/migrate.Dockerfile -t pps/migrate .
# It bundles packages/db/src/cli/migrate.ts into one file and ships the committed SQL (packages/db/drizzle) beside
# it. Reads DATABASE_URL; creates the database if missing and applies pending migrations (idempotent, locked).

# --- build ------------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS build
RUN npm i -g pnpm@10.34.8
WORKDIR /repo
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
# @pps/db and its workspace dependencies, plus the root for esbuild.
RUN pnpm install --frozen-lockfile --offline --filter "@pps/db..." --filter payment-product-service
RUN node scripts/build-app.mjs packages/db/src/cli/migrate.ts dist/migrate.js

# --- runtime ----------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MIGRATIONS_DIR=/app/drizzle
WORKDIR /app
COPY --from=build /repo/dist ./dist
COPY --from=build /repo/packages/db/drizzle ./drizzle
USER node
CMD ["node", "--enable-source-maps", "dist/migrate.js"]
