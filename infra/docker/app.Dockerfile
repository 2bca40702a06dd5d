# syntax=docker/dockerfile:1
# One recipe for all six apps. Build context: the repository root. For example:
#   docker build -f infra/docker/app.Dockerfile --build-arg APP=router --build-arg PORT=7101 -t pps/router .
# The command for every app is in infra/k8s/README.md. APP is the folder under apps/, PORT the app's port.

# --- build: install what the app needs and bundle it into apps/$APP/dist/main.js -------------------------
FROM node:20-bookworm-slim AS build
ARG APP
ARG PORT
RUN test -n "$APP" && test -n "$PORT" \
  || { echo "build with --build-arg APP=<app> --build-arg PORT=<port>" >&2; exit 1; }
RUN npm i -g pnpm@10.34.8
WORKDIR /repo
# Lockfile only: this layer (every package of the lockfile, in pnpm's store) is reused until the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
# Patches of dependencies (patchedDependencies in pnpm-workspace.yaml) are applied when installing.
COPY patches ./patches
RUN pnpm fetch
COPY . .
RUN test -f "apps/$APP/package.json" || { echo "no app '$APP' under apps/" >&2; exit 1; }
# Link only the app, the workspace packages it depends on, and the workspace root, which holds esbuild
# (scripts/build-app.mjs imports it). Everything comes from the store filled by `pnpm fetch`.
RUN pnpm install --frozen-lockfile --offline --filter "@pps/$APP..." --filter payment-product-service
RUN pnpm --filter "@pps/$APP" build

# --- runtime: Node and the bundle (main.js + main.js.map); no node_modules --------------------------------
FROM node:20-bookworm-slim
ARG APP
ARG PORT
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=$PORT
WORKDIR /app
# Owned by root and only readable by the app's user.
COPY --from=build /repo/apps/$APP/dist ./dist
# The image's `node` user, uid/gid 1000 (the Kubernetes manifests run as 1000 too).
USER node
EXPOSE $PORT
CMD ["node", "--enable-source-maps", "dist/main.js"]
