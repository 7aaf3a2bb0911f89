# syntax=docker/dockerfile:1
# clinic-sms: the compiled service on an official Node LTS slim image.
# Build: docker build -t clinic-sms .   Run: see compose.yaml and docs/operations.md.
# Not built in this project's CI: no image registry is reachable there (docs/operations.md says so).

ARG NODE_IMAGE=node:24-slim

# --- build: all dependencies, compile src/ to dist/ ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and dist/ only (no TypeScript, no tsx) ---
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM/SIGINT/SIGHUP to node and reaps zombies, so
# `docker stop` starts the graceful drain. The Debian release is pinned by the base
# image tag; pinning a package revision too breaks the build whenever Debian's
# security archive moves on, so DL3008 is ignored here on purpose.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    CLINICS_FILE=/app/config/clinics.yaml \
    RULES_DIR=/app/rules \
    SPOOL_DIR=/var/lib/clinic-sms/spool \
    SEED_FILE=none

WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no runtime dependency needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The staff pages' own browser files (src/staff/assets.ts finds public/ beside package.json).
COPY public ./public
# config/ and rules/ are mounted (read-only) at /app/config and /app/rules: the image
# carries no clinic configuration, so a forgotten mount fails at start-up instead of
# serving the demo clinics. The spool must outlive the container: one volume per instance.
RUN ln -s /app/bin/clinic-sms.js /usr/local/bin/clinic-sms \
 && mkdir -p /app/config /app/rules /var/lib/clinic-sms/spool \
 && chown node:node /var/lib/clinic-sms/spool
VOLUME ["/var/lib/clinic-sms/spool"]

# The base image's non-root `node` user (uid/gid 1000), written as numbers so that
# Kubernetes' runAsNonRoot can check it without reading the image's /etc/passwd.
USER 1000:1000
EXPOSE 3000
# Liveness only (the process answers); node's own fetch, as the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node is started directly (no npm, no shell): npm does not pass SIGTERM on to its child.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
