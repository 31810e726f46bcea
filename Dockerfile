# phone-verify's container image (docs/deploy.md). test/deploy-image.e2e-spec.ts replays these
# stages as a plain install (COPY lines, the install and build commands, ENV, CMD, HEALTHCHECK):
# keep each instruction on the lines it is on, and the runtime stage last.
#   docker build -t phone-verify .
ARG NODE_VERSION=20

# ---- build: every dependency, then dist/ --------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# no install scripts: compiling needs none of them (the native SQLite module is built in `deps`)
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY proto ./proto
COPY src ./src
RUN npx nest build

# ---- deps: production dependencies only, built for this Debian and this Node --------------------
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# better-sqlite3's install script fetches or compiles its native module (the full image has the
# compilers); swagger-ui-dist's telemetry (@scarf/scarf) stays off
ENV SCARF_ANALYTICS=false
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime ------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1: it passes SIGTERM on to node also before the server's own handlers are installed
# (while it waits for the database), and reaps what exits; /data is the one writable path
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir /data \
  && chown 1000:1000 /data \
  && chmod 0700 /data
WORKDIR /app
# the application's files belong to root: the server (user 1000) can read them, not change them
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY proto ./proto
COPY scripts/build-if-needed.js scripts/migrate.js scripts/healthcheck.js ./scripts/
# production settings; everything else is the service's default (README, Configuration).
# CODE_HMAC_KEY and an SMS provider must be given: NODE_ENV=production refuses to start without them.
# gRPC is served on PORT (GRPC_PORT=0: no second port); the management port listens on the
# container's own network, for the HEALTHCHECK, probes and Prometheus (publish it to no one else).
ENV NODE_ENV=production \
  PORT=8080 \
  GRPC_PORT=0 \
  METRICS_PORT=9464 \
  METRICS_HOST=0.0.0.0 \
  DATABASE_URL=/data/phone-verify.sqlite \
  FIRST_INSTANCE_PAT_PATH=/data/admin.pat \
  CODE_HMAC_KEY_FILE=/data/code-hmac.key
VOLUME ["/data"]
EXPOSE 8080 9464
# the node user of the base image, by number so that Kubernetes' runAsNonRoot can check it
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "scripts/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# what `npm start` runs (package.json), without npm: the signals reach node
CMD ["node", "--max-old-space-size=512", "--max-semi-space-size=8", "dist/src/main.js"]
